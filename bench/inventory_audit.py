"""Benchmark: the ledger audit (inventory.selectors.ledger_drift, inventory_audit command).

Loads BENCH_MOVEMENTS (300,000; the target is set for 1,000,000) StockMovement rows spread over
2,000 SKUs x 5 locations (receipts, reservations, shipments and releases over the past year),
sets every StockLevel to the sums of its ledger, then puts 3 quantities out of line on purpose.
It prints the time of
ledger_drift() (median of 3 runs, each run listed) and of the `inventory_audit` command, the
movements audited per second, the peak Python memory of an audit (tracemalloc, a separate run)
and the peak RSS of the process, each time as a ratio to the baseline of ARCHITECTURE.md
measured in the same run, single-threaded (one order, three lines: three StockLevel rows locked
and updated in one transaction; see bench/_common.py). Target: < 30 s for 1,000,000 movements
(scaled to the count loaded).

The rows are loaded with COPY on PostgreSQL (bulk_create of 10,000 rows takes about 0.7 s here,
so a million would take most of the time budget), with bulk_create in batches of 10,000
elsewhere; then the tables are vacuumed and analyzed, as autovacuum would in production.

PostgreSQL is the reference (SQLite runs too; scale it down):
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench \
        .venv/bin/python bench/inventory_audit.py
    BENCH_MOVEMENTS=100000 DEBUG=1 .venv/bin/python bench/inventory_audit.py
The test database (test_oms_bench) is created and dropped by the script.
"""

from __future__ import annotations

import io
import os
import resource
import statistics
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta

from _common import (
    analyze,
    baseline_latency,
    baseline_levels,
    count_queries,
    describe_database,
    make_locations,
    make_skus,
    p50,
    record,
    target,
    test_database,
)
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

#: 300,000 by default, so that `make bench` fits in its time next to the two 10,000-order runs
#: of issue 16; BENCH_MOVEMENTS=1000000 measures the size the target was set for.
MOVEMENTS = int(os.environ.get("BENCH_MOVEMENTS", "300000"))
SKUS = 2_000
LOCATIONS = 5
BATCH = 10_000
DRIFTED = 3
COLUMNS = (
    "sku_id",
    "location_id",
    "kind",
    "on_hand_delta",
    "reserved_delta",
    "quarantined_delta",
    "order_id",
    "order_line_id",
    "actor",
    "reason",
    "created_at",
)
# Per level, a repeating cycle: receive 5, reserve 2, ship 1, release 1 (+4 on hand, 0 reserved).
CYCLE = (("receipt", 5, 0), ("reservation", 0, 2), ("shipment", -1, -1), ("release", 0, -1))


def movements(
    pairs: list[tuple[int, int]], start: datetime, totals: dict[tuple[int, int], list[int]]
) -> Iterator[tuple]:
    """MOVEMENTS rows in time order, round-robin over `pairs`; adds their deltas to `totals`."""
    step = timedelta(days=365) / max(MOVEMENTS, 1)
    for i in range(MOVEMENTS):
        pair = pairs[i % len(pairs)]
        kind, on_hand, reserved = CYCLE[(i // len(pairs)) % len(CYCLE)]
        sums = totals[pair]
        sums[0] += on_hand
        sums[1] += reserved
        order = i if reserved else None
        yield (*pair, kind, on_hand, reserved, 0, order, order, "bench", "", start + i * step)


def load(pairs: list[tuple[int, int]]) -> dict[tuple[int, int], list[int]]:
    """Write the movements; return the (on_hand, reserved) sums per pair."""
    from inventory.models import StockMovement

    totals = {pair: [0, 0] for pair in pairs}
    rows = movements(pairs, timezone.now() - timedelta(days=366), totals)
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(StockMovement._meta.db_table)
        with transaction.atomic(), connection.cursor() as cursor:
            sql = f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        return totals
    batch: list[StockMovement] = []
    for row in rows:
        batch.append(StockMovement(**dict(zip(COLUMNS, row, strict=True))))
        if len(batch) == BATCH:
            StockMovement.objects.bulk_create(batch, batch_size=BATCH)
            batch = []
    StockMovement.objects.bulk_create(batch, batch_size=BATCH)
    return totals


def main() -> None:
    with test_database():
        from inventory.models import StockLevel, StockMovement
        from inventory.selectors import ledger_drift

        base_ids = baseline_levels(30)
        started = time.perf_counter()
        skus = make_skus(SKUS, "AUD")
        locations = make_locations(LOCATIONS, "AUD")
        pairs = [(sku.pk, loc.pk) for sku in skus for loc in locations]
        totals = load(pairs)
        StockLevel.objects.bulk_create(
            (
                StockLevel(sku_id=s, location_id=loc, on_hand=on_hand, reserved=reserved)
                for (s, loc), (on_hand, reserved) in totals.items()
            ),
            batch_size=2000,
        )
        drifted = StockLevel.objects.order_by("-pk").values_list("pk", flat=True)[:DRIFTED]
        StockLevel.objects.filter(pk__in=list(drifted)).update(quarantined=1)
        analyze()
        loaded = time.perf_counter() - started
        base, base_queries = baseline_latency(base_ids)
        unit = p50(base) / 1000

        runs = []
        for _ in range(3):
            begin = time.perf_counter()
            found = ledger_drift()
            runs.append(time.perf_counter() - begin)
        seconds = statistics.median(runs)
        drift_queries = count_queries(ledger_drift)
        tracemalloc.start()
        ledger_drift()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out = io.StringIO()
        begin = time.perf_counter()
        try:
            call_command("inventory_audit", stdout=out)
        except CommandError as exc:
            verdict = str(exc)
        else:
            verdict = "no drift"
        command = time.perf_counter() - begin
        stored = StockMovement.objects.filter(location__in=locations).count()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        print(
            f"inventory audit on {describe_database()}: {stored:,} movements over "
            f"{len(pairs):,} levels ({SKUS:,} SKUs x {LOCATIONS} locations), loaded in "
            f"{loaded:.1f} s ({'COPY' if connection.vendor == 'postgresql' else 'bulk_create'})"
        )
        print(
            f"{'baseline: 3-line order, 3 rows':<31} p50 {p50(base):7.2f} ms  "
            f"{base_queries:>2} queries  {1:10.0f}x baseline"
        )
        print(
            f"{'ledger_drift()':<31} {seconds:7.2f} s   {drift_queries:>2} queries  "
            f"{seconds / unit:10.0f}x baseline  {MOVEMENTS / seconds:>10,.0f} movements/s  "
            f"{target(seconds * 10**6 / MOVEMENTS < 30, '< 30 s per 1,000,000')}"
        )
        print(
            f"{'inventory_audit command':<31} {command:7.2f} s               "
            f"{command / unit:10.0f}x baseline  {MOVEMENTS / command:>10,.0f} movements/s  "
            f"{target(command * 10**6 / MOVEMENTS < 30, '< 30 s per 1,000,000')}"
        )
        print(
            f"ledger_drift runs: {', '.join(f'{r:.2f} s' for r in runs)}; found "
            f"{len(found)} drifting quantities ({DRIFTED} put out of line); command: {verdict}"
        )
        for name, took, queries in (
            ("ledger_drift()", seconds, drift_queries),
            ("inventory_audit command", command, None),
        ):
            record(
                f"{name}, {stored:,} movements",
                stored / took,
                "movements/s",
                1 / unit,
                "tx/s (1 connection)",
                higher_is_better=True,
                statements=queries,
                note=f"{took:.1f} s",
            )
        print(
            f"peak memory: {peak / 2**20:.1f} MiB Python heap during ledger_drift() "
            f"(tracemalloc), {rss:.0f} MiB RSS for the whole process (ru_maxrss)"
        )


if __name__ == "__main__":
    main()
