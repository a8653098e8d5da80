"""Benchmark: every report over a year, through the API (JSON and CSV) and the admin page.

A year of 1,000,000 orders is too big to capture at CI time, and the reports never read orders:
they read the rollup tables (reports/models.py). So the script writes the rollup rows of such a
year directly: BENCH_REPORT_DAYS (365) days x 5 channels x 10 locations, with about 2,740
orders a day per channel's share, BENCH_REPORT_BUCKETS (6) lead-time hours per day, channel,
location and kind, and 40 SKUs x 4 reasons of returns per day and channel. It then times
BENCH_ROUNDS (5) GETs of each report over the whole year, grouped by day and by month, through
the API (Django test client, token of an integrator) and the admin page (a logged-in
superuser), after one warm-up, with the p50 as a ratio to the baseline of ARCHITECTURE.md
measured in the same run (see bench/_common.py). Target (issue 22): under 1 s each.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench \
        .venv/bin/python bench/reports.py
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
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
    target,
    test_database,
    timed,
)
from django.utils import timezone

DAYS = int(os.environ.get("BENCH_REPORT_DAYS", "365"))
BUCKETS = int(os.environ.get("BENCH_REPORT_BUCKETS", "6"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CHANNELS, LOCATIONS, SKUS, REASONS = 5, 10, 40, 4
ORDERS_PER_DAY = 1_000_000 // 365


def seed() -> dict[str, int]:
    """The rollup rows of a year; returns the rows written per table."""
    from reports import models as m
    from tests.factories import ChannelFactory, LocationFactory

    rng = random.Random(22)
    channels = [ChannelFactory(code=f"bench-{n}") for n in range(CHANNELS)]
    locations = [LocationFactory(code=f"BL{n}") for n in range(LOCATIONS)]
    end = timezone.localdate()
    days = [end - dt.timedelta(days=n) for n in range(DAYS)]
    per_channel = ORDERS_PER_DAY // CHANNELS
    rows: dict[type, list] = {
        model: []
        for model in (
            m.SalesDay,
            m.FulfilmentDay,
            m.LeadTimeBucket,
            m.InventoryDay,
            m.ReturnSkuDay,
            m.ReturnReasonDay,
            m.RefundDay,
            m.ChannelDay,
        )
    }
    for day in days:
        for loc in locations:
            rows[m.InventoryDay].append(
                m.InventoryDay(
                    day=day,
                    location=loc,
                    skus=2000,
                    skus_out=rng.randint(0, 80),
                    skus_dead=rng.randint(0, 200),
                    on_hand=rng.randint(50_000, 90_000),
                    units_sold=rng.randint(500, 900),
                    forecast=Decimal(700),
                    forecast_error=Decimal(rng.randint(50, 300)),
                )
            )
        for ch in channels:
            orders = per_channel + rng.randint(-50, 50)
            rows[m.SalesDay].append(
                m.SalesDay(
                    day=day,
                    channel=ch,
                    orders=orders,
                    units=orders * 2,
                    revenue=Decimal(orders * 57),
                    orders_split=orders // 12,
                    orders_backordered=orders // 40,
                )
            )
            rows[m.RefundDay].append(
                m.RefundDay(day=day, channel=ch, refunds=20, amount=Decimal(900))
            )
            rows[m.ChannelDay].append(
                m.ChannelDay(
                    day=day,
                    channel=ch,
                    sync_runs=288,
                    sync_runs_failed=rng.randint(0, 3),
                    failed_records=rng.randint(0, 9),
                    pushes=1440,
                    pushes_failed=rng.randint(0, 5),
                    lag_orders=orders,
                    lag_seconds=orders * 40,
                    lag_seconds_max=600,
                )
            )
            for s in range(SKUS):
                rows[m.ReturnSkuDay].append(
                    m.ReturnSkuDay(
                        day=day,
                        channel=ch,
                        sku_code=f"SKU-{s:03d}",
                        units_shipped=50,
                        units_returned=rng.randint(0, 6),
                        units_restocked=2,
                        units_written_off=1,
                    )
                )
            for r in range(REASONS):
                rows[m.ReturnReasonDay].append(
                    m.ReturnReasonDay(day=day, channel=ch, reason=f"reason-{r}", returns=5, units=6)
                )
            for loc in locations:
                shipped = orders // LOCATIONS
                rows[m.FulfilmentDay].append(
                    m.FulfilmentDay(
                        day=day,
                        channel=ch,
                        location=loc,
                        shipped=shipped,
                        shipped_promised=shipped,
                        shipped_on_time=shipped - 3,
                        delivered=shipped,
                        delivered_promised=shipped,
                        delivered_on_time=shipped - 5,
                    )
                )
                for kind, offset in (("ship", 4), ("deliver", 40)):
                    for b in range(BUCKETS):
                        rows[m.LeadTimeBucket].append(
                            m.LeadTimeBucket(
                                day=day,
                                channel=ch,
                                location=loc,
                                kind=kind,
                                hours=offset + b * 3,
                                count=max(1, shipped // BUCKETS),
                            )
                        )
    for model, objs in rows.items():
        model.objects.bulk_create(objs, batch_size=2000)
    return {model.__name__: len(objs) for model, objs in rows.items()}


def main() -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from oms.roles import INTEGRATOR

    with test_database():
        started = time.perf_counter()
        written = seed()
        seeded_s = time.perf_counter() - started
        base_ids = baseline_levels(3)
        users = get_user_model().objects
        integrator = users.create(username="bench-integrator")
        integrator.groups.add(Group.objects.get(name=INTEGRATOR))
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=integrator).key}")
        staff = Client()
        staff.force_login(users.create(username="bench-admin", is_staff=True, is_superuser=True))
        end = timezone.localdate()
        span = {"from": (end - dt.timedelta(days=DAYS - 1)).isoformat(), "to": end.isoformat()}
        pages = {
            "sales": "salesday",
            "fulfilment": "fulfilmentday",
            "inventory": "inventoryday",
            "returns": "returnskuday",
            "channels": "channelday",
        }
        print(
            f"Reports over {DAYS} days on {describe_database()}: rollup rows written in "
            f"{seeded_s:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in written.items())
        )
        before, base_queries = baseline_latency(base_ids)
        measures = []
        for name, model in pages.items():
            for label, client, url, params in (
                ("API JSON by day", api, f"/api/v1/reports/{name}/", {**span, "group": "day"}),
                ("API JSON by month", api, f"/api/v1/reports/{name}/", {**span, "group": "month"}),
                ("API CSV by day", api, f"/api/v1/reports/{name}/", {**span, "format": "csv"}),
                ("admin page by day", staff, f"/admin/reports/{model}/", span),
            ):

                def get(client=client, url=url, params=params) -> object:
                    response = client.get(url, params)
                    if hasattr(response, "streaming_content"):
                        b"".join(response.streaming_content)
                    return response

                timed(get, 1, expect=200)
                queries = count_queries(get)
                measures.append(
                    (f"{name} report, {label}", timed(get, ROUNDS, expect=200), queries)
                )
        after, _ = baseline_latency(base_ids)
        base_ms = (p50(before) + p50(after)) / 2
        print(
            f"{'baseline: 3-line order, 3 rows':<40} {latency(before + after)}  "
            f"{base_queries:>2} queries"
        )
        for measure, samples, queries in measures:
            print(
                f"{measure:<40} {latency(samples, with_max=True)}  {queries:>2} queries  "
                f"{ratio(p50(samples), base_ms)}  {target(p50(samples) < 1000, 'p50 < 1 s')}"
            )
            record(
                f"{measure} over {DAYS} days (p50)",
                p50(samples),
                "ms",
                base_ms,
                "ms (p50, 1 connection)",
                higher_is_better=False,
                statements=queries,
                condition="p50 < 1000 ms",
                condition_met=p50(samples) < 1000,
            )


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"(ran in {time.perf_counter() - started:.0f} s)")
