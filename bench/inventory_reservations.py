"""Benchmark: stock reservations per second with concurrent workers (stock_reserve).

Measures, with BENCH_WORKERS (4) concurrent workers running for BENCH_SECONDS (5) each:
1. distinct SKUs: each worker reserves 1 unit of its own SKUs (one request per call);
2. one hot SKU: every worker reserves 1 unit of the same SKU at the same location;
and prints reservations/s, p50/p95 latency, refused (InsufficientStock) and failed counts,
statements per reservation, and each throughput as a ratio to the baseline of ARCHITECTURE.md
measured in the same run with the same workers on distinct rows, once before and once after
(their mean is the reference): one order, three lines, i.e. three StockLevel rows locked in pk
order and updated and three movements inserted, in one transaction (see bench/_common.py).
Targets: >= 1,000 reservations/s on distinct SKUs, >= 300/s on the hot SKU, and (issue 16) the
hot SKU >= 0.8x the baseline in as many workers. Stock is plenty
(nothing is released), and the locations feed a channel, so every reservation also marks the
channel's stock push, as in production. Afterwards it checks that nothing was lost (reserved =
successes, no ledger drift).

Workers are processes by default (BENCH_MODE=processes): each one is spawned, calls
django.setup() and connects to the same test database by name, and keeps its connection for the
run (as gunicorn workers with persistent connections do). BENCH_MODE=threads runs them as
threads of this process instead: psycopg releases the GIL while waiting, but building and
compiling the ORM queries is Python work (about 4-5 ms of CPU per stock_reserve on the 2-core
reference machine), so threads reached about 0.6-0.7x the process throughput for stock_reserve
there (and about the same for the lighter baseline).

PostgreSQL is the reference (SQLite serializes every writer and runs too):
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench \
        .venv/bin/python bench/inventory_reservations.py
The test database (test_oms_bench) is created and dropped by the script.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

from _common import (
    Figures,
    baseline_concurrent,
    baseline_levels,
    baseline_op,
    count_queries,
    describe_database,
    latency,
    make_locations,
    make_skus,
    ratio,
    record,
    run_workers,
    stock_up,
    target,
    test_database,
)

SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
MODE = os.environ.get("BENCH_MODE", "processes")
SKUS_PER_WORKER = 50
STOCK = 10**9
#: The ratio issue 16 asks of the hot SKU: >= 0.8x the baseline in as many workers.
HOT_TARGET = 0.8


# --- what a worker runs ---------------------------------------------------------------------


def reserve_op(pairs: Sequence[tuple[int, int]], first_line_id: int) -> Callable[[int], None]:
    """Operation n: reserve 1 unit of the next (sku_id, location_id) of `pairs` for a new line."""
    from inventory.services import ReservationRequest, stock_reserve

    def run(n: int) -> None:
        sku_id, location_id = pairs[n % len(pairs)]
        line_id = first_line_id + n
        stock_reserve(
            requests=[ReservationRequest(line_id, line_id, sku_id, location_id, 1)], actor="bench"
        )

    return run


def line(name: str, figures: Figures, base: Figures, queries: int, goal: str = "") -> str:
    return (
        f"{name:<30} {figures.per_second:6.0f}/s  {latency(figures.latencies)}  "
        f"refused {figures.refused}  failed {figures.failed}  {queries:>2} queries  "
        f"{ratio(figures.per_second, base.per_second)}  {goal}"
    ).rstrip()


# --- the benchmark --------------------------------------------------------------------------


def main() -> None:
    with test_database() as db_name:
        from channels.services import channel_create
        from inventory.models import StockLevel
        from inventory.selectors import ledger_drift

        base_ids = baseline_levels(3 * 10 * WORKERS)
        skus = make_skus(SKUS_PER_WORKER * WORKERS + 1, "RES")
        distinct_at, hot_at = make_locations(2, "RES")
        stock_up(skus[:-1], [distinct_at], lambda i, j: STOCK)
        stock_up(skus[-1:], [hot_at], lambda i, j: STOCK)
        channel_create(
            code="web", name="Web", kind="api", currency="EUR", locations=[distinct_at, hot_at]
        )
        own = [
            [(sku.pk, distinct_at.pk) for sku in skus[w * SKUS_PER_WORKER :][:SKUS_PER_WORKER]]
            for w in range(WORKERS)
        ]
        hot_pair = (skus[-1].pk, hot_at.pk)
        started = time.perf_counter()

        def baseline(first: int) -> Figures:
            return baseline_concurrent(
                db_name, base_ids, workers=WORKERS, seconds=SECONDS, first_order_id=first, mode=MODE
            )

        def reserve(pairs: list[list[tuple[int, int]]], first: int) -> Figures:
            args = [(pairs[w], (first + w) * 10**8) for w in range(WORKERS)]
            return run_workers(db_name, reserve_op, args, seconds=SECONDS, mode=MODE)

        # The baseline runs before and after, so that drift during the run evens out.
        before = baseline(1)
        distinct = reserve(own, 11)
        hot = reserve([[hot_pair]] * WORKERS, 21)
        after = baseline(31)
        base = Figures.mean([before, after])
        elapsed = time.perf_counter() - started

        # Nothing lost: every success (warm-up included) is reserved, and the ledger agrees.
        reserved_distinct = sum(
            StockLevel.objects.filter(location=distinct_at).values_list("reserved", flat=True)
        )
        reserved_hot = StockLevel.objects.get(sku_id=hot_pair[0], location=hot_at).reserved
        drift = len(ledger_drift())
        q_base = count_queries(lambda: baseline_op(base_ids[:3], 99 * 10**8)(0))
        q_reserve = count_queries(lambda: reserve_op(own[0][:1], 98 * 10**8)(0))

        print(
            f"inventory reservations on {describe_database()}: {WORKERS} workers ({MODE}), "
            f"{SECONDS:g} s per run, {elapsed:.0f} s for the four runs"
        )
        print(line("baseline: 3-line order, 3 rows", base, base, q_base))
        print(f"  (baseline before: {before.per_second:.0f}/s, after: {after.per_second:.0f}/s)")
        print(
            line(
                "stock_reserve, distinct SKUs",
                distinct,
                base,
                q_reserve,
                target(distinct.per_second >= 1000, ">= 1,000/s"),
            )
        )
        print(
            line(
                "stock_reserve, one hot SKU",
                hot,
                base,
                q_reserve,
                target(hot.per_second >= 300, ">= 300/s"),
            )
            + f"  {target(hot.per_second >= HOT_TARGET * base.per_second, '>= 0.8x baseline')}"
        )
        base_unit = f"tx/s ({WORKERS} {MODE})"
        record(
            f"stock_reserve, distinct SKUs, {WORKERS} {MODE}",
            distinct.per_second,
            "reservations/s",
            base.per_second,
            base_unit,
            higher_is_better=True,
            statements=q_reserve,
        )
        record(
            f"stock_reserve, one hot SKU, {WORKERS} {MODE}",
            hot.per_second,
            "reservations/s",
            base.per_second,
            base_unit,
            higher_is_better=True,
            statements=q_reserve,
            target_ratio=HOT_TARGET,
        )
        print(
            f"check: reserved {reserved_distinct} of {distinct.done + distinct.warmed} distinct "
            f"and {reserved_hot} of {hot.done + hot.warmed} hot reservations made (warm-up "
            f"included); ledger drift: {drift} quantities"
        )


if __name__ == "__main__":
    main()
