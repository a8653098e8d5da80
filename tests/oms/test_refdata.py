"""Reference data cached per process (oms/refdata.py): current in every process after a change."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from oms import refdata
from tests.factories import LocationFactory


def test_a_cached_value_is_loaded_once_while_the_version_stands(db: None) -> None:
    refdata.forget()
    loads: list[int] = []

    def load() -> int:
        loads.append(1)
        return len(loads)

    assert refdata.cached(("test", 1), load) == 1
    assert refdata.cached(("test", 1), load) == 1
    assert len(loads) == 1


def test_a_change_made_by_another_process_is_seen_at_the_next_look_up(db: None) -> None:
    """Another process moves the shared version (it does not touch this process's memory)."""
    refdata.forget()
    values = iter(["before", "after"])
    assert refdata.cached(("test", 2), lambda: next(values)) == "before"
    other_process_version = uuid.uuid4().hex
    if refdata._shared_cache():
        from django.core.cache import cache

        cache.set(refdata.KEY, other_process_version, timeout=None)
    else:
        refdata._version_file().write_text(other_process_version)
    assert refdata.cached(("test", 2), lambda: next(values)) == "after"


@pytest.mark.django_db(transaction=True)
def test_saving_a_watched_model_moves_the_version_once_it_commits() -> None:
    refdata.forget()
    before = refdata.version()
    with transaction.atomic():
        LocationFactory(code="NEW")
        assert refdata.version() == before  # not yet: nothing uncommitted is published
        # ... and this transaction reads past the cache (it may roll back).
        loads: list[int] = []
        refdata.cached(("test", 3), lambda: loads.append(1))
        refdata.cached(("test", 3), lambda: loads.append(1))
        assert len(loads) == 2
    assert refdata.version() != before


@pytest.mark.django_db(transaction=True)
def test_after_its_change_commits_a_thread_caches_again_inside_transactions() -> None:
    """A sync writes reference data now and then and reads it inside transactions: once the
    change committed (the version moved), the cache serves those reads again."""
    refdata.forget()
    with transaction.atomic():
        LocationFactory(code="LATER")
    loads: list[int] = []
    with transaction.atomic():
        refdata.cached(("test", 5), lambda: loads.append(1))
        refdata.cached(("test", 5), lambda: loads.append(1))
    assert len(loads) == 1


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_leaves_nothing_cached() -> None:
    refdata.forget()

    def change_then_fail() -> None:
        with transaction.atomic():
            LocationFactory(code="GONE")
            refdata.cached(("test", 4), lambda: "uncommitted")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert refdata.cached(("test", 4), lambda: "committed") == "committed"


PROJECT_APPS = ("oms", "channels", "inventory", "orders", "fulfilment", "returns", "webhooks")


@pytest.mark.django_db(transaction=True)
def test_a_queryset_update_of_a_cached_field_moves_the_version() -> None:
    """A channel switched off with a queryset update (no save signal) is seen by capture."""
    from inventory.models import Channel
    from orders.services.capture import channel_by_code
    from tests.factories import ChannelFactory

    ChannelFactory(code="upd", is_active=True)
    refdata.forget()
    assert channel_by_code("upd").is_active
    before = refdata.version()
    with transaction.atomic():
        assert Channel.objects.filter(code="upd").update(is_active=False) == 1
        assert refdata.version() == before  # published once it commits
    assert refdata.version() != before
    assert not channel_by_code("upd").is_active


@pytest.mark.django_db(transaction=True)
def test_a_sync_lease_or_cursor_update_leaves_the_cache_and_is_never_served_stale(
    monkeypatch,
) -> None:
    """Syncs and pushes update leases and cursors all the time: the cache stays, and a cached
    channel reads those fields from the database (they are deferred)."""
    import datetime as dt
    import threading

    from django.utils import timezone

    from inventory.models import CHANNEL_UNCACHED_FIELDS, Channel
    from orders.services.capture import channel_by_code
    from tests.factories import ChannelFactory

    ChannelFactory(code="lease")
    refdata.forget()
    cached_copy = channel_by_code("lease")
    assert set(CHANNEL_UNCACHED_FIELDS) <= cached_copy.get_deferred_fields()
    # What these writes invalidate, counted in this thread only (the version itself is the
    # process's: a thread another test left running may move it meanwhile).
    here = threading.get_ident()
    invalidated: list[int] = []
    real = refdata.refdata_changed

    def spy() -> None:
        if threading.get_ident() == here:
            invalidated.append(here)
        real()

    monkeypatch.setattr(refdata, "refdata_changed", spy)
    cursor = timezone.now() - dt.timedelta(hours=1)
    Channel.objects.filter(code="lease").update(sync_cursor=cursor, sync_lease_holder="w1")
    Channel.objects.get(code="lease").save(update_fields=["stock_push_lease_until"])
    assert invalidated == []
    fresh = channel_by_code("lease")
    assert fresh.sync_cursor == cursor
    assert fresh.sync_lease_holder == "w1"
    Channel.objects.filter(code="lease").update(name="Renamed")  # the spy sees a real change
    assert invalidated == [here]


@pytest.mark.django_db(transaction=True)
def test_bulk_writes_of_a_watched_model_move_the_version() -> None:
    from inventory.models import Location

    site = LocationFactory(code="BULK")
    before = refdata.version()
    site.name = "Renamed"
    Location.objects.bulk_update([site], ["name"])
    after_update = refdata.version()
    assert after_update != before
    Location.objects.bulk_create([Location(code="BULK2", name="Two", kind=site.kind)])
    assert refdata.version() != after_update


def test_every_watched_model_invalidates_on_queryset_writes() -> None:
    """The project's watched models have a RefdataManager; the third-party ones (auth, tokens)
    cannot, so the project never writes them with a queryset update or bulk write. Uncached
    fields name real columns."""
    import ast
    from pathlib import Path

    third_party: set[str] = set()
    for model, uncached in refdata.watched().items():
        names = {f.name for f in model._meta.concrete_fields}
        assert uncached <= names, (model, uncached - names)
        if model._meta.app_label in PROJECT_APPS:
            assert isinstance(model._default_manager.all(), refdata.RefdataQuerySet), model
        else:
            third_party.add(model.__name__)
    assert third_party == {"User", "Group", "Permission", "Token"}

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for app in PROJECT_APPS:
        for path in (root / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("update", "bulk_update", "bulk_create")
                ):
                    continue
                receiver = node.func.value
                while isinstance(receiver, ast.Call | ast.Attribute):
                    if isinstance(receiver, ast.Attribute) and receiver.attr == "objects":
                        base = receiver.value
                        if isinstance(base, ast.Name) and base.id in third_party:
                            offenders.append(f"{path.relative_to(root)}:{node.lineno}")
                        break
                    receiver = receiver.func if isinstance(receiver, ast.Call) else receiver.value
    assert offenders == [], "queryset writes of a watched third-party model: " + str(offenders)


def test_a_tests_cache_clear_leaves_the_other_xdist_workers_keys() -> None:
    """On Redis, Django's `cache.clear()` is FLUSHDB: one xdist worker clearing its rate-limit
    counters wiped the other's reference-data version, whose next look-up then reloaded every
    cache in the middle of a statement-counting test. Tests clear their own keys only."""
    from django.core.cache import cache, caches
    from django.core.cache.backends.redis import RedisCache

    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        pytest.skip("the cache is not Redis: clear() empties this process's memory only")
    client = backend._cache.get_client("x", write=True)
    foreign = f"another-test-worker:{uuid.uuid4().hex}"
    client.set(foreign, "1")
    try:
        cache.set("mine", "1")
        cache.clear()
        assert cache.get("mine") is None
        assert client.get(foreign) == b"1"
    finally:
        client.delete(foreign)
