"""Benchmark: the CSV export of the order list (oms.admin.export), streamed and in the background.

Writes BENCH_EXPORT_ORDERS (10,000) orders directly (bulk_create: the export reads orders, it
never captures them), then times BENCH_ROUNDS (5) streamed exports of the whole list through
the admin (Django test client, a logged-in superuser, the body read to its end), with the peak
of Python memory allocated while streaming (tracemalloc), and one background export of the
same list run as a worker would (the job's task, its parts written to the database), beside
the baseline of ARCHITECTURE.md measured in the same run (see bench/_common.py). The streamed
export's memory must not grow with the list: the same is measured at a tenth of the rows.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench \
        .venv/bin/python bench/list_export.py
"""

from __future__ import annotations

import os
import time
import tracemalloc
from decimal import Decimal

from _common import (
    baseline_latency,
    baseline_levels,
    count_queries,
    describe_database,
    latency,
    p50,
    ratio,
    record,
    test_database,
    timed,
)
from django.utils import timezone

ORDERS = int(os.environ.get("BENCH_EXPORT_ORDERS", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def seed(count: int, start: int, channel) -> None:
    from orders.models import Order

    now = timezone.now()
    Order.objects.bulk_create(
        [
            Order(
                number=f"B{n:07d}",
                channel=channel,
                external_id=f"bench-{n}",
                external_number=f"#{n}",
                status="allocated",
                payment_status="paid",
                email=f"shopper{n}@example.com",
                currency="EUR",
                subtotal=Decimal("49.90"),
                total=Decimal("54.85"),
                ship_country="DE",
                placed_at=now,
            )
            for n in range(start, start + count)
        ],
        batch_size=2000,
    )


def streamed_peak(client, url: str) -> tuple[int, int]:
    """(rows, peak bytes allocated) of one streamed export read to its end."""
    tracemalloc.start()
    response = client.get(url)
    rows = sum(chunk.count(b"\n") for chunk in response.streaming_content) - 1
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return rows, peak


def main() -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from oms.admin import export
    from oms.admin.export import export_job_run
    from oms.jobs import job_run, job_start
    from tests.factories import ChannelFactory

    url = "/admin/orders/order/export.csv"
    with test_database():
        channel = ChannelFactory(code="bench")
        small = ORDERS // 10
        seed(small, 0, channel)
        admin = get_user_model().objects.create(
            username="bench-admin", is_staff=True, is_superuser=True
        )
        staff = Client()
        staff.force_login(admin)
        export.BACKGROUND_ROWS = ORDERS * 10  # streamed here, whatever the size
        small_rows, small_peak = streamed_peak(staff, url)
        seed(ORDERS - small, small, channel)
        base_ids = baseline_levels(3)
        before, _ = baseline_latency(base_ids)

        def get() -> object:
            response = staff.get(url)
            b"".join(response.streaming_content)
            return response

        timed(get, 1, expect=200)
        queries = count_queries(get)
        samples = timed(get, ROUNDS, expect=200)
        rows, peak = streamed_peak(staff, url)

        job = job_start(
            kind="export",
            title="bench",
            user=admin,
            task=export.EXPORT_TASK,
            params={"model": "orders.order", "query": ""},
            total=ORDERS,
        )
        started = time.perf_counter()
        job_run(job.pk, export_job_run)
        background_ms = (time.perf_counter() - started) * 1000
        job.refresh_from_db()
        after, _ = baseline_latency(base_ids)
        base_ms = (p50(before) + p50(after)) / 2

        print(f"Order list export of {rows:,} rows on {describe_database()}")
        print(f"{'baseline: 3-line order, 3 rows':<44} {latency(before + after)}")
        print(
            f"{'streamed export, whole list':<44} {latency(samples, with_max=True)}  "
            f"{queries} queries  {ratio(p50(samples), base_ms)}"
        )
        print(
            f"{'peak Python memory while streaming':<44} {peak / 1e6:7.2f} MB for {rows:,} rows, "
            f"{small_peak / 1e6:.2f} MB for {small_rows:,}"
        )
        print(
            f"{'background export (job, parts in the DB)':<44} {background_ms:9.1f} ms  "
            f"{job.status}, {job.result.get('bytes', 0) / 1e6:.2f} MB in "
            f"{job.parts.count()} parts"
        )
        record(
            f"order list CSV export of {rows:,} rows, streamed (p50)",
            p50(samples),
            "ms",
            base_ms,
            "ms (p50, 1 connection)",
            higher_is_better=False,
            statements=queries,
        )
        record(
            f"order list CSV export of {rows:,} rows, background job",
            background_ms,
            "ms",
            base_ms,
            "ms (p50, 1 connection)",
            higher_is_better=False,
            condition=f"peak memory streaming {rows:,} rows <= 2x that of {small_rows:,}",
            condition_met=peak <= 2 * small_peak,
            note=f"peak {peak / 1e6:.2f} MB vs {small_peak / 1e6:.2f} MB",
        )


if __name__ == "__main__":
    main()
