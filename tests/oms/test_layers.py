"""The layers hold for models, reverse relations and URL names too, not only for imports
(import-linter checks those): a lower app never points a model at a higher one, never walks a
higher app's reverse relation, and never reverses a higher app's URL.

Layers, lowest first: the kernel (oms), inventory, orders, fulfilment, returns, channels.
`KNOWN_*` list what still points up, to be moved down (issue "A house that is easy to live
in", item 1); the tests fail on anything new, and when a known one is gone (shrink the list).
Nothing points up since the Channel moved to inventory (issue 15): the lists are empty.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.apps import apps
from django.db import models
from django.test.utils import isolate_apps
from django.urls import URLPattern, URLResolver, get_resolver

ROOT = Path(__file__).resolve().parents[2]
LAYERS = [
    "oms",
    "inventory",
    "orders",
    "fulfilment",
    "returns",
    "subscriptions",
    "channels",
    "webhooks",
    "reports",
]
RANK = {app: rank for rank, app in enumerate(LAYERS)}

KNOWN_UPWARD_RELATIONS: set[str] = set()
KNOWN_UPWARD_ACCESSORS: set[str] = set()
KNOWN_UPWARD_URLS: set[str] = set()

REVERSERS = {"reverse", "reverse_lazy"}
#: Queryset methods and expressions whose string arguments name relations.
RELATION_CALLS = {
    "prefetch_related",
    "select_related",
    "annotate",
    "values",
    "values_list",
    "filter",
    "exclude",
    "order_by",
    "only",
    "defer",
    "Prefetch",
    "Count",
    "Sum",
    "Exists",
    "F",
    "Q",
}


def pillar_models(models: Iterable[type] | None = None) -> Iterator[tuple[str, type]]:
    for model in apps.get_models() if models is None else models:
        label = model._meta.app_label
        if label in RANK:
            yield label, model


def upward_relations(models: Iterable[type] | None = None) -> set[str]:
    found = set()
    for label, model in pillar_models(models):
        for field in model._meta.get_fields():
            if not (field.is_relation and field.concrete and field.related_model):
                continue
            target = field.related_model._meta.app_label
            if target in RANK and RANK[target] > RANK[label]:
                found.add(f"{label}.{model.__name__}.{field.name} -> {target}")
    return found


def reverse_accessors() -> dict[str, dict[str, str]]:
    """For each app, the names by which higher apps' relations are reachable from its models
    (accessor and query name), with the app that owns each."""
    names: dict[str, dict[str, str]] = {}
    for label, model in pillar_models():
        for field in model._meta.get_fields():
            if not (field.is_relation and field.concrete and field.related_model):
                continue
            target = field.related_model._meta.app_label
            if target not in RANK or RANK[target] >= RANK[label]:
                continue
            for name in (field.remote_field.get_accessor_name(), field.related_query_name()):
                if name and not name.endswith("+"):
                    names.setdefault(target, {})[name] = label
    return names


def app_sources(app: str) -> Iterator[tuple[str, ast.AST]]:
    for path in sorted((ROOT / app).rglob("*.py")):
        if {"migrations", "fakes"} & set(path.parts):
            continue
        yield str(path.relative_to(ROOT)), ast.parse(path.read_text(), filename=str(path))


def call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return node.func.id if isinstance(node.func, ast.Name) else None


def upward_accessors() -> set[str]:
    found = set()
    for app, names in reverse_accessors().items():
        for path, tree in app_sources(app):
            for node in ast.walk(tree):
                used: list[str] = []
                if isinstance(node, ast.Attribute) and node.attr in names:
                    used.append(node.attr)
                if isinstance(node, ast.Call):
                    fn = call_name(node)
                    if fn == "getattr" and len(node.args) >= 2:
                        attribute = node.args[1]
                        used += [attribute.value] if isinstance(attribute, ast.Constant) else []
                    if fn in RELATION_CALLS:
                        used += [
                            a.value.split("__")[0]
                            for a in node.args
                            if isinstance(a, ast.Constant) and isinstance(a.value, str)
                        ]
                        used += [k.arg.split("__")[0] for k in node.keywords if k.arg]
                found |= {f"{path}: {n} ({names[n]})" for n in used if n in names}
    return found


def url_owners() -> dict[str, str]:
    """Every URL name (with its namespace) and the app whose view serves it."""
    owners: dict[str, str] = {}

    def walk(patterns: list, namespace: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                walk(entry.url_patterns, inner)
            elif isinstance(entry, URLPattern) and entry.name:
                view = getattr(entry.callback, "view_class", None) or getattr(
                    entry.callback, "cls", None
                )
                module = getattr(view or entry.callback, "__module__", "")
                owners[f"{namespace}{entry.name}"] = module.split(".")[0]

    walk(get_resolver().url_patterns, "")
    return owners


def upward_urls() -> set[str]:
    owners = url_owners()
    found = set()
    for app in LAYERS:
        for path, tree in app_sources(app):
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or call_name(node) not in REVERSERS:
                    continue
                if not (node.args and isinstance(node.args[0], ast.Constant)):
                    continue
                name = str(node.args[0].value)
                owner = owners.get(name, "")
                if name.startswith("admin:"):  # admin:<app label>_<model>_<view>
                    owner = next((a for a in LAYERS if name[6:].startswith(f"{a}_")), owner)
                if owner in RANK and RANK[owner] > RANK[app]:
                    found.add(f"{path}: {name} ({owner})")
    return found


def test_no_model_relation_points_up_a_layer():
    assert upward_relations() == KNOWN_UPWARD_RELATIONS


def test_no_app_walks_a_higher_apps_reverse_relation():
    assert upward_accessors() == KNOWN_UPWARD_ACCESSORS


def test_no_app_reverses_a_higher_apps_url():
    owners = url_owners()
    assert owners["tracking-page"] == "fulfilment"  # the scan sees the project's URLs
    assert upward_urls() == KNOWN_UPWARD_URLS


def test_the_scans_see_an_upward_use(tmp_path, monkeypatch):
    """The scans are not blind: a lower app's code that walks a higher app's relation, or
    reverses its URL, is found."""
    source = (
        "def f(order):\n"
        "    order.refunds.all()\n"
        "    return reverse('admin:channels_channelsyncrun_changelist')\n"
    )
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "probe.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert upward_accessors() == {"orders/probe.py: refunds (returns)"}
    assert upward_urls() == {"orders/probe.py: admin:channels_channelsyncrun_changelist (channels)"}


@isolate_apps("orders")
def test_the_scan_sees_an_upward_relation():
    """The relation scan is not blind either: a lower app's model pointing at a higher app's
    (here orders at channels) is found, so an empty KNOWN_UPWARD_RELATIONS means something."""
    from channels.models import ChannelSyncRun
    from inventory.models import Channel

    class Probe(models.Model):  # noqa: DJ008 - never saved
        run = models.ForeignKey(ChannelSyncRun, on_delete=models.CASCADE, related_name="+")
        channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")

        class Meta:
            app_label = "orders"

    assert upward_relations([*apps.get_models(), Probe]) == {"orders.Probe.run -> channels"}
