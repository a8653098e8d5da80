"""Every text a shopper reads is translated: each message marked in a template or a module has a
non-empty translation in every shipped language, and the committed .mo files are the .po files
compiled (a new English string without its translations fails here)."""

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.utils.translation.template import templatize

ROOT = Path(settings.BASE_DIR)
LANGUAGES = [code for code, _name in settings.LANGUAGES if code != "en"]
SOURCE_DIRS = [
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
KEYWORDS = {"gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy", "_"}
# templatize writes each message as a Python call xgettext reads.
TEMPLATE_CALL = re.compile(r"\b(n?gettext)\((u?'(?:[^'\\]|\\.)*'|u?\"(?:[^\"\\]|\\.)*\")")


def _template_messages() -> set[str]:
    found: set[str] = set()
    for path in sorted((ROOT / "templates").rglob("*")):
        if not path.is_file() or path.suffix not in (".html", ".txt"):
            continue
        source = path.read_text(encoding="utf-8")
        if "i18n" not in source:  # no {% load i18n %}: nothing marked
            continue
        code = templatize(source, origin=str(path))
        found.update(ast.literal_eval(literal) for _name, literal in TEMPLATE_CALL.findall(code))
    return found


def _module_messages() -> set[str]:
    found: set[str] = set()
    for folder in SOURCE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            source = path.read_text(encoding="utf-8")
            if "gettext" not in source:
                continue
            for node in ast.walk(ast.parse(source)):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in KEYWORDS
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                ):
                    found.add(node.args[0].value)
    return found


def _catalog(mo: Path) -> dict[object, str]:
    with mo.open("rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]


def test_the_shopper_templates_and_modules_mark_messages():
    messages = _template_messages()
    assert "Order %(order_number)s" in messages  # the tracking page
    assert "Thank you for your order" in messages  # an e-mail
    assert "Your order {number} is on its way" in _module_messages()  # a subject


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_marked_message_is_translated(language):
    catalog = _catalog(ROOT / "locale" / language / "LC_MESSAGES" / "django.mo")
    translated = {
        (key[0] if isinstance(key, tuple) else key): text for key, text in catalog.items()
    }
    messages = (_template_messages() | _module_messages()) - {""}
    missing = sorted(m for m in messages if not translated.get(m, "").strip())
    assert not missing, (
        f"{len(missing)} message(s) without a {language} translation (run makemessages, "
        f"translate, compilemessages): {missing[:10]}"
    )


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="needs GNU gettext's msgfmt")
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_is_the_po_compiled(language, tmp_path):
    folder = ROOT / "locale" / language / "LC_MESSAGES"
    fresh = tmp_path / "django.mo"
    subprocess.run(
        ["msgfmt", "--check-format", "-o", str(fresh), str(folder / "django.po")], check=True
    )
    assert _catalog(folder / "django.mo") == _catalog(fresh), (
        f"locale/{language}/LC_MESSAGES/django.mo is older than its .po: run compilemessages"
    )
