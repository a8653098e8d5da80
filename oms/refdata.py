"""Reference data cached per process, invalidated on change (issue 16).

What the hot paths read on every order but staff change a few times a day (channels, SKUs,
locations, routing and fraud rules, centroids, schedules, holidays, transit times, API tokens and
their users' permissions) is kept in this process's memory, tagged with the version it was read at.

Invariants:
- one version for all reference data, kept where every process sees it: the Django cache when
  it is shared (Redis in production), else a file under OMS_VAR_DIR (the development default's
  web, worker and beat run on one machine with a process-local cache); each look-up reads the
  version first, so a change committed by any process is seen by the next look-up of every
  process;
- a change of a watched model (post_save, post_delete, m2m_changed; a queryset `update()`,
  `bulk_update()` or `bulk_create()` through its `RefdataManager`) moves the version once its
  transaction commits, and until then this thread reads past the cache (its transaction may
  see rows that are not committed, or will be rolled back): nothing uncommitted is ever cached;
- a value is loaded after the version was read and stored under that version: a change that
  commits meanwhile moves the version, and the value is read again next time;
- cached values are shared: callers never change them (`copy.copy` a model instance first);
- a watched model's `uncached` fields (leases, cursors, secrets: written often, read by no
  cached reader) never move the version, and a cached instance never carries them (its
  loader defers them, so reading one reads the database).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection, transaction
from django.db.models import Manager, Model, QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
M = TypeVar("M", bound=Model)

KEY = "oms:refdata:version"
#: Entries kept per process before the oldest half is dropped (a safety bound, never reached
#: by a merchant's reference data).
MAX_ENTRIES = 10_000

_values: dict[Hashable, tuple[str, Any]] = {}
_lock = threading.Lock()
_thread = threading.local()


def _version_file() -> Path:
    return Path(settings.VAR_DIR) / "refdata.version"


def _shared_cache() -> bool:
    return not isinstance(cache, LocMemCache) and not isinstance(
        getattr(cache, "_wrapped", None), LocMemCache
    )


def version() -> str:
    """The current version of the reference data (created on first use)."""
    if _shared_cache():
        current = cache.get(KEY)
        if current is None:
            cache.add(KEY, uuid.uuid4().hex, timeout=None)
            current = cache.get(KEY)
        return str(current)
    path = _version_file()
    try:
        return path.read_text() or "-"
    except FileNotFoundError:
        _write_version(path)
        return path.read_text() or "-"


def _write_version(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_text(uuid.uuid4().hex)
    os.replace(temporary, path)


def _bump() -> None:
    # Runs once the change committed (on_commit, in the thread that made it): the version moves
    # and this thread's own reads may use the cache again, in a transaction too.
    _thread.dirty = False
    if _shared_cache():
        cache.set(KEY, uuid.uuid4().hex, timeout=None)
    else:
        _write_version(_version_file())
    with _lock:
        _values.clear()


def refdata_changed() -> None:
    """Reference data changed in the current transaction: every process reads it again once it
    commits (now, in autocommit), and this thread reads past the cache until then."""
    if connection.in_atomic_block:
        _thread.dirty = True
    transaction.on_commit(_bump)


def cached(key: Hashable, load: Callable[[], T]) -> T:
    """The value of `key`, from this process's memory if still current, else `load()`."""
    if getattr(_thread, "dirty", False):
        if connection.in_atomic_block:
            return load()  # this transaction changed reference data: not cacheable
        _thread.dirty = False
    current = version()
    with _lock:
        entry = _values.get(key)
    if entry is not None and entry[0] == current:
        return entry[1]
    value = load()
    with _lock:
        if len(_values) >= MAX_ENTRIES:
            for old in list(_values)[: MAX_ENTRIES // 2]:
                del _values[old]
        _values[key] = (current, value)
    return value


def cached_many(
    namespace: str, keys: Iterable[K], load: Callable[[list[K]], Mapping[K, V]]
) -> dict[K, V | None]:
    """The values of (namespace, key) for `keys`, those not current in this process's memory
    loaded together by `load(missing keys)` (a key it does not return is cached as None)."""
    wanted = list(dict.fromkeys(keys))
    if getattr(_thread, "dirty", False):
        if connection.in_atomic_block:
            found = load(wanted)
            return {key: found.get(key) for key in wanted}
        _thread.dirty = False
    current = version()
    result: dict[K, V | None] = {}
    missing: list[K] = []
    with _lock:
        for key in wanted:
            entry = _values.get((namespace, key))
            if entry is not None and entry[0] == current:
                result[key] = entry[1]
            else:
                missing.append(key)
    if missing:
        found = load(missing)
        with _lock:
            if len(_values) + len(missing) >= MAX_ENTRIES:
                for old in list(_values)[: MAX_ENTRIES // 2]:
                    del _values[old]
            for key in missing:
                result[key] = found.get(key)
                _values[(namespace, key)] = (current, result[key])
    return result


def forget() -> None:
    """Drop this process's cached values (tests: every test starts from the database)."""
    with _lock:
        _values.clear()
    _thread.dirty = False


#: Saves that change nothing the cached data is read for (a login stamps the user).
IRRELEVANT_SAVES = (frozenset({"last_login"}),)

#: The watched models, and the fields of each that no cached reader reads (see `watch`).
_watched: dict[type[Model], frozenset[str]] = {}


def watched() -> dict[type[Model], frozenset[str]]:
    """The watched models and their uncached fields."""
    return dict(_watched)


def uncached_fields(model: type[Model]) -> frozenset[str]:
    """The fields of a watched model that cached readers defer (see `watch`)."""
    return _watched.get(model._meta.concrete_model or model, frozenset())


def _changed(sender: Any = None, **kwargs: Any) -> None:
    fields = kwargs.get("update_fields")
    if fields is not None and (
        frozenset(fields) in IRRELEVANT_SAVES
        or (isinstance(sender, type) and frozenset(fields) <= uncached_fields(sender))
    ):
        return
    refdata_changed()


def watch(
    *models: type[Model] | Any,
    m2m: Iterable[Any] = (),
    uncached: Mapping[type[Model] | Any, Iterable[str]] | None = None,
) -> None:
    """Invalidate the reference data whenever one of `models` is saved or deleted, or one of
    the `m2m` through tables (`Model.field.through`) changes. A model of the project gives
    itself `objects = RefdataManager()` so that its queryset writes invalidate too.

    `uncached`: per model, fields written often that no cached reader reads (a sync lease, a
    cursor, credentials): a save or update of only those leaves the version, and a loader of
    cached instances defers them (`uncached_fields`)."""
    for model in models:
        _watched[model] = frozenset((uncached or {}).get(model, ()))
        post_save.connect(_changed, sender=model, dispatch_uid=f"refdata-save-{model}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"refdata-delete-{model}")
    for through in m2m:
        m2m_changed.connect(_changed, sender=through, dispatch_uid=f"refdata-m2m-{through}")


class RefdataQuerySet(QuerySet[M]):
    """The queryset of a watched model: `update()` (and so `bulk_update()`) and
    `bulk_create()`, which send no save signal, invalidate the reference data themselves
    (an update of uncached fields only does not)."""

    def update(self, **kwargs: Any) -> int:
        rows = super().update(**kwargs)
        if rows and not frozenset(kwargs) <= uncached_fields(self.model):
            refdata_changed()
        return rows

    def bulk_create(self, objs: Iterable[M], *args: Any, **kwargs: Any) -> list[M]:
        created = super().bulk_create(objs, *args, **kwargs)
        if created:
            refdata_changed()
        return created


#: The manager of a watched model (`objects = RefdataManager()`).
RefdataManager = Manager.from_queryset(RefdataQuerySet)
