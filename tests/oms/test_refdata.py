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
