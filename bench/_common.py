"""Helpers shared by the benchmarks; not a benchmark itself (`make bench` skips bench/_*.py).

Importing this module sets up Django (oms.settings, DEBUG=1 unless set), so a benchmark imports
it before any model. It provides the throwaway test database, the percentile and printing
helpers, stock fixtures, and the baseline of ARCHITECTURE.md ("Benchmarks"): one order, three
lines, three stock rows locked and updated in one transaction. It was written before the orders
app had models, so the baseline is emulated with inventory models only (and stays so, to keep
the ratios of all benchmarks comparable): select_for_update three StockLevel rows in primary-key
order, `reserved += 1` on each, and insert three "reservation" StockMovement rows. Tasks that
code enqueues go to an in-memory broker (CELERY_BROKER_URL, unless set): nothing consumes them.
bench/_orders.py adds the helpers of the order benchmarks.

On SQLite the test database file is renamed test_bench_<name>, so that a benchmark never drops
the test database of a pytest run going on at the same time.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
os.environ.setdefault("DEBUG", "1")
# Tasks enqueued after commit (currency conversion of captured orders...) go to an in-memory
# broker, never to the filesystem broker under var/: no benchmark runs a Celery worker.
os.environ.setdefault("CELERY_BROKER_URL", "memory://localhost/")

import django  # noqa: E402

django.setup()
# As oms/wsgi.py does in production: what is loaded at start-up stays out of full GC passes.
gc.freeze()

from django.conf import settings  # noqa: E402
from django.db import connection, connections, reset_queries, transaction  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    setup_databases,
    setup_test_environment,
    teardown_databases,
    teardown_test_environment,
)
from django.utils import timezone  # noqa: E402

if connection.vendor == "sqlite":
    _test = settings.DATABASES["default"].setdefault("TEST", {})
    _name = Path(str(_test.get("NAME") or settings.DATABASES["default"]["NAME"]))
    _test["NAME"] = str(_name.with_name("test_bench_" + _name.name.removeprefix("test_")))


# --- the test database ----------------------------------------------------------------------


@contextmanager
def test_database() -> Iterator[str]:
    """Create the throwaway test database, yield its name, drop it (even on failure).

    As in Django's test runner, DEBUG is off while it runs (no query log kept): production
    runs without it. CaptureQueriesContext still counts queries.
    """
    setup_test_environment(debug=False)
    # No serialized copy of the data: benchmarks never roll back to it.
    old = setup_databases(verbosity=0, interactive=False, serialized_aliases=set())
    try:
        yield str(connection.settings_dict["NAME"])
    finally:
        connections.close_all()
        teardown_databases(old, verbosity=0)
        teardown_test_environment()


def use_database(name: str) -> None:
    """In a worker process: connect to the test database `name` the parent created."""
    settings.DEBUG = False
    settings.DATABASES["default"]["NAME"] = name
    connections["default"].close()
    connections["default"].settings_dict["NAME"] = name


def describe_database() -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} (PostgreSQL is the reference)"
    return connection.vendor


# --- figures --------------------------------------------------------------------------------


def timed(fn: Callable[[], object], rounds: int, expect: int | None = None) -> list[float]:
    """Call fn `rounds` times; the latencies in ms. `expect`: the HTTP status each must have."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
        if expect is not None:
            status = getattr(result, "status_code", None)
            if status != expect:
                raise SystemExit(f"expected HTTP {expect}, got {status}: {result}")
    return samples


def count_queries(fn: Callable[[], object]) -> int:
    """The statements fn sends (BEGIN, COMMIT and savepoints included)."""
    reset_queries()
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


@contextmanager
def gc_pauses() -> Iterator[list[float]]:
    """Collect the durations (ms) of the full (generation 2) garbage collections meanwhile."""
    pauses: list[float] = []
    started = [0.0]

    def callback(phase: str, info: dict) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((time.perf_counter() - started[0]) * 1000)

    gc.callbacks.append(callback)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(callback)


def analyze() -> None:
    """Vacuum and analyze after loading data, as autovacuum would in production."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def pct(samples: Sequence[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def p50(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def latency(samples: Sequence[float], *, with_max: bool = False) -> str:
    text = f"p50 {p50(samples):7.2f} ms  p95 {pct(samples, 95):7.2f} ms"
    return text + (f"  max {max(samples):7.2f} ms" if with_max else "")


def ratio(value: float, base: float) -> str:
    return f"{value / base:8.2f}x baseline"


def target(met: bool, text: str) -> str:
    return f"target {text}: {'met' if met else 'MISSED'}"


# --- stock fixtures -------------------------------------------------------------------------


def make_skus(count: int, prefix: str) -> list:
    from inventory.models import Sku

    Sku.objects.bulk_create(
        (Sku(code=f"{prefix}-{i:06d}", name=f"{prefix} {i}") for i in range(count)),
        batch_size=2000,
    )
    return list(Sku.objects.filter(code__startswith=f"{prefix}-").order_by("code"))


def make_locations(count: int, prefix: str) -> list:
    from inventory.models import Location

    Location.objects.bulk_create(
        Location(code=f"{prefix}-{i}", name=f"{prefix} {i}", kind="warehouse", country="DE")
        for i in range(count)
    )
    return list(Location.objects.filter(code__startswith=f"{prefix}-").order_by("code"))


def stock_up(
    skus: Sequence, locations: Sequence, on_hand: Callable[[int, int], int], chunk: int = 500
) -> None:
    """Give every (sku, location) a level and a one-receipt ledger (stock_history_load_many)."""
    from inventory.services import LevelHistory, stock_history_load_many

    now = timezone.now()
    histories = [
        LevelHistory(sku=sku, location=loc, entries=[(now, "receipt", on_hand(i, j))])
        for i, sku in enumerate(skus)
        for j, loc in enumerate(locations)
    ]
    for start in range(0, len(histories), chunk):
        stock_history_load_many(histories=histories[start : start + chunk], actor="bench")


# --- the baseline ---------------------------------------------------------------------------

BASELINE_ON_HAND = 10**9


def baseline_levels(count: int, prefix: str = "BASE") -> list[int]:
    """`count` StockLevel ids (own SKUs, one location, plenty of stock) for the baseline."""
    from inventory.models import StockLevel

    skus = make_skus(count, prefix)
    locations = make_locations(1, prefix)
    stock_up(skus, locations, lambda i, j: BASELINE_ON_HAND)
    return list(
        StockLevel.objects.filter(sku__in=skus, location=locations[0])
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def baseline_transaction(level_ids: Sequence[int], order_id: int) -> None:
    """One order of three lines: lock three levels in pk order, reserve 1 of each, log it."""
    from inventory.models import MovementKind, StockLevel, StockMovement

    with transaction.atomic():
        levels = list(
            StockLevel.objects.select_for_update().filter(pk__in=level_ids).order_by("pk")
        )
        for level in levels:
            level.reserved += 1
            level.save(update_fields=["reserved", "updated_at"])
        StockMovement.objects.bulk_create(
            StockMovement(
                sku_id=level.sku_id,
                location_id=level.location_id,
                kind=MovementKind.RESERVATION,
                reserved_delta=1,
                order_id=order_id,
                order_line_id=order_id * 3 + line,
                actor="bench",
            )
            for line, level in enumerate(levels)
        )


def baseline_op(level_ids: Sequence[int], first_order_id: int) -> Callable[[int], None]:
    """Operation n of a baseline loop: the next triple of `level_ids` (a multiple of 3)."""
    triples = [level_ids[i : i + 3] for i in range(0, len(level_ids) - 2, 3)]

    def run(n: int) -> None:
        baseline_transaction(triples[n % len(triples)], first_order_id + n)

    return run


def baseline_latency(level_ids: Sequence[int], rounds: int = 200) -> tuple[list[float], int]:
    """Single-threaded baseline: latencies (ms) of `rounds` transactions, and its statements."""
    run = baseline_op(level_ids, first_order_id=7 * 10**9)
    counter = iter(range(10**9))
    timed(lambda: run(next(counter)), 20)  # warm-up
    queries = count_queries(lambda: run(next(counter)))
    return timed(lambda: run(next(counter)), rounds), queries
