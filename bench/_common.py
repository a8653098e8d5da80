"""Helpers shared by the benchmarks; not a benchmark itself (`make bench` skips bench/_*.py).

Importing this module sets up Django (oms.settings, DEBUG=1 unless set), so a benchmark imports
it before any model. It provides the throwaway test database, the percentile and printing
helpers, stock fixtures, concurrent workers (processes or threads), `record()` (each measure as
a structured result, which `make bench` tabulates: see bench/_report.py), and the baseline of
ARCHITECTURE.md ("Benchmarks"): one order, three lines, three stock rows locked and updated in
one transaction, on one connection or in concurrent workers. It was written before the orders
app had models, so the baseline is emulated with inventory models only (and stays so, to keep
the ratios of all benchmarks comparable): select_for_update three StockLevel rows in primary-key
order, `reserved += 1` on each, and insert three "reservation" StockMovement rows. Tasks that
code enqueues go to an in-memory broker (CELERY_BROKER_URL, unless set): nothing consumes them.
bench/_orders.py adds the helpers of the order benchmarks.

On SQLite the test database file is renamed test_bench_<name>, so that a benchmark never drops
the test database of a pytest run going on at the same time.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import queue
import statistics
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_STARTED = time.perf_counter()

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

from _report import Result, append_result  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import (  # noqa: E402
    DatabaseError,
    connection,
    connections,
    reset_queries,
    transaction,
)
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


# --- structured results ---------------------------------------------------------------------

_DATABASE: list[str] = []


def record(
    measure: str,
    figure: float,
    unit: str,
    baseline: float,
    baseline_unit: str,
    *,
    higher_is_better: bool,
    statements: float | None = None,
    target_ratio: float | None = None,
    condition: str = "",
    condition_met: bool | None = None,
    note: str = "",
) -> Result:
    """Report one measure beside its same-run baseline; prints it, and appends it to the file
    BENCH_RESULTS names (JSON lines, set by `make bench`) when set.

    `figure` and `baseline` are both rates (`higher_is_better`) or both times, so that the
    ratio (the measure's speed relative to the baseline: above 1 is faster) means one thing
    for every measure. `target_ratio`: the ratio the issue asks for, if it gives one.
    Call it inside test_database() (it reads the database's version once).
    """
    if not _DATABASE:
        _DATABASE.append(describe_database())
    result = Result(
        bench=Path(sys.argv[0]).stem,
        measure=measure,
        figure=figure,
        unit=unit,
        baseline=baseline,
        baseline_unit=baseline_unit,
        higher_is_better=higher_is_better,
        statements=statements,
        target=target_ratio,
        condition=condition,
        condition_met=condition_met,
        note=note,
        database=_DATABASE[0],
        vendor=connection.vendor,
        elapsed_s=round(time.perf_counter() - _STARTED, 1),
    )
    goal = ""
    if result.met is not None:
        wanted = f">= {target_ratio:g}x" if target_ratio is not None else ""
        wanted += (", " if wanted and condition else "") + condition
        goal = f"  target {wanted}: {'met' if result.met else 'MISSED'}"
    print(
        f"result | {measure}: {figure:,.4g} {unit}; baseline {baseline:,.4g} {baseline_unit}; "
        f"ratio {result.ratio:.3g}x{goal}"
    )
    path = os.environ.get("BENCH_RESULTS")
    if path:
        append_result(path, result)
    return result


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


def baseline_per_second(before: Sequence[float], after: Sequence[float] = ()) -> float:
    """Baseline transactions per second on one connection, from latencies (ms) measured before
    and after the measure (the mean of the two medians when both are given)."""
    medians = [p50(samples) for samples in (before, after) if samples]
    return 1000 / (sum(medians) / len(medians))


def baseline_latency(level_ids: Sequence[int], rounds: int = 200) -> tuple[list[float], int]:
    """Single-threaded baseline: latencies (ms) of `rounds` transactions, and its statements."""
    run = baseline_op(level_ids, first_order_id=7 * 10**9)
    counter = iter(range(10**9))
    timed(lambda: run(next(counter)), 20)  # warm-up
    queries = count_queries(lambda: run(next(counter)))
    return timed(lambda: run(next(counter)), rounds), queries


# --- concurrent workers ---------------------------------------------------------------------


@dataclass
class WorkerResult:
    started: float = 0.0
    ended: float = 0.0
    done: int = 0
    warmed: int = 0
    refused: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)
    error: str = ""


@dataclass
class Figures:
    """The sum of the workers of one run: operations per second, latencies (ms), counts."""

    per_second: float
    latencies: list[float]
    done: int
    warmed: int
    refused: int
    failed: int

    @classmethod
    def mean(cls, runs: Sequence[Figures]) -> Figures:
        """Runs before and after a measure as one reference: their mean rate, all samples."""
        return cls(
            per_second=sum(r.per_second for r in runs) / len(runs),
            latencies=[ms for r in runs for ms in r.latencies],
            done=sum(r.done for r in runs),
            warmed=sum(r.warmed for r in runs),
            refused=sum(r.refused for r in runs),
            failed=sum(r.failed for r in runs),
        )


WARMUP_OPS = 20


def _worker(
    mode: str,
    db_name: str,
    seconds: float,
    op: Callable[..., Callable[[int], None]],
    args: tuple[Any, ...],
    barrier: Any,
    results: Any,
) -> None:
    """Warm up, wait for every worker, then run `op(*args)` for `seconds`; put a WorkerResult.

    `op` is a module-level factory (picklable): it returns the operation, called with 0, 1, ...
    An InsufficientStock counts as refused, a DatabaseError as failed; both go on.
    """
    from oms.errors import InsufficientStock

    result = WorkerResult()
    try:
        if mode == "processes":
            use_database(db_name)
        run = op(*args)
        for n in range(WARMUP_OPS):
            run(n)
        result.warmed = WARMUP_OPS
        barrier.wait(timeout=300)
        clock = time.perf_counter
        result.started = clock()
        deadline = result.started + seconds
        n = WARMUP_OPS
        while True:
            n += 1
            begin = clock()
            try:
                run(n)
            except InsufficientStock:
                result.refused += 1
            except DatabaseError:
                result.failed += 1
            else:
                result.done += 1
                result.latencies.append((clock() - begin) * 1000)
            if clock() >= deadline:
                break
        result.ended = clock()
    except BaseException:
        result.error = traceback.format_exc()
        barrier.abort()
    finally:
        connections.close_all()
        results.put(result)


def run_workers(
    db_name: str,
    op: Callable[..., Callable[[int], None]],
    args_per_worker: Sequence[tuple[Any, ...]],
    *,
    seconds: float,
    mode: str = "processes",
) -> Figures:
    """Run `op` in len(args_per_worker) concurrent workers for `seconds`; sum their figures.

    mode "processes": each worker is spawned, calls django.setup() and connects to the test
    database `db_name`, keeping its connection for the run (as gunicorn workers with persistent
    connections do); `op` must then be importable (a module-level function). mode "threads":
    threads of this process, which share the GIL for the Python side of the ORM.
    """
    count = len(args_per_worker)
    if mode == "processes":
        connections.close_all()  # the test database is shared; keep no idle connection around
        context = multiprocessing.get_context("spawn")
        barrier: Any = context.Barrier(count + 1)
        results: Any = context.Queue()
        workers: list[Any] = [
            context.Process(
                target=_worker, args=(mode, db_name, seconds, op, args, barrier, results)
            )
            for args in args_per_worker
        ]
    elif mode == "threads":
        barrier = threading.Barrier(count + 1)
        results = queue.Queue()
        workers = [
            threading.Thread(
                target=_worker, args=(mode, db_name, seconds, op, args, barrier, results)
            )
            for args in args_per_worker
        ]
    else:
        raise SystemExit(f"BENCH_MODE is 'processes' or 'threads', not {mode!r}")
    for w in workers:
        w.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a worker failed: see below
        barrier.wait(timeout=300)
    collected: list[WorkerResult] = [results.get(timeout=seconds + 300) for _ in workers]
    for w in workers:
        w.join()
    errors = [r.error for r in collected if r.error]
    if errors:
        raise SystemExit(f"a worker failed:\n{errors[0]}")
    return Figures(
        per_second=sum(r.done / (r.ended - r.started) for r in collected),
        latencies=[ms for r in collected for ms in r.latencies],
        done=sum(r.done for r in collected),
        warmed=sum(r.warmed for r in collected),
        refused=sum(r.refused for r in collected),
        failed=sum(r.failed for r in collected),
    )


def baseline_concurrent(
    db_name: str,
    level_ids: Sequence[int],
    *,
    workers: int,
    seconds: float,
    first_order_id: int,
    mode: str = "processes",
) -> Figures:
    """The baseline in `workers` concurrent workers, each on its own rows (30 levels each:
    `level_ids` holds 30 x workers): transactions per second of all of them together."""
    args = [(level_ids[30 * w :][:30], (first_order_id + w) * 10**8) for w in range(workers)]
    if any(len(ids) < 30 for ids, _ in args):
        raise SystemExit(f"baseline_concurrent needs 30 levels per worker, got {len(level_ids)}")
    return run_workers(db_name, baseline_op, args, seconds=seconds, mode=mode)
