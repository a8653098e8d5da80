"""Benchmark: the shopper's tracking page, GET /track/<token>/, through the Django test client.

The script creates the test database and in it one order of two shipments (two warehouses
that each hold one of the order's two SKUs, so routing splits it), picks, packs and ships
both with the in-house carrier and records BENCH_EVENTS (10) tracking events on each, as
webhooks and polls would. It then times BENCH_ROUNDS (300) GETs of the tracking page after 20
warm-up requests, one after the other, with the Django test client (URL resolution,
middleware, the view, its queries and the template, no HTTP server): p50/p95/max, the
statements per page, the database's share of a request, the 404 of an unknown token, and the
p50 as a ratio to the baseline of ARCHITECTURE.md measured in the same run, before and after,
on the same connection (one order, three lines, three StockLevel rows locked and updated in
one transaction; see bench/_common.py). Target: p50 < 50 ms.

As in production, DEBUG is off while it runs (bench/_common.py's test_database), so templates
come from Django's cached loader.

PostgreSQL is the reference (SQLite runs too):
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench \
        .venv/bin/python bench/tracking_page.py
The test database (test_oms_bench) is created and dropped by the script.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time

# One client address asks for ROUNDS pages within seconds: far beyond the tracking pages' budgets
# (120/min, and 30 unknown tokens an hour, after which every page answers 429). Budgets this
# high keep the limiter's counting in each request without it refusing any.
os.environ.setdefault("OMS_RATE_TRACKING", "1000000/min")
os.environ.setdefault("OMS_RATE_TRACKING_NOT_FOUND", "1000000/hour")

from _common import (
    baseline_latency,
    baseline_levels,
    count_queries,
    describe_database,
    latency,
    make_skus,
    p50,
    ratio,
    record,
    target,
    test_database,
    timed,
)
from _orders import order_payload, profile, profile_text, warehouses
from django.test import Client
from django.utils import timezone

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "300"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "10"))
STATUSES = ["pre_transit"] + ["in_transit"] * 100


class Event:
    """Shaped like fulfilment.adapters.carriers.TrackingEventData."""

    def __init__(self, n: int, status: str, start: dt.datetime) -> None:
        self.external_id = f"bench-{n}"
        self.status = status
        self.description = f"Scan {n}: arrived at a sorting centre"
        self.place = "Leipzig, DE"
        self.occurred_at = start + dt.timedelta(hours=3 * n)


def tracked_order() -> tuple[str, int, int]:
    """The order of two shipments with EVENTS events each: (token, shipments, events)."""
    from channels.services import channel_create
    from fulfilment import services
    from fulfilment.models import Shipment, TrackingEvent
    from fulfilment.services.tracking import tracking_events_record
    from inventory.services import stock_adjust
    from orders.services import order_capture

    skus = make_skus(2, "TRK")
    sites = warehouses(2, "TRK")
    for sku, site in zip(skus, sites, strict=True):  # each warehouse holds one of the two
        stock_adjust(sku=sku, location=site, kind="receipt", quantity=100)
    channel_create(code="web", name="Web", kind="api", currency="EUR", locations=sites)
    order = order_capture(
        channel="web", **order_payload(1, [s.code for s in skus], lines=2, prefix="TRK")
    ).order
    shipments = list(Shipment.objects.filter(order=order).order_by("pk"))
    if len(shipments) != 2:
        raise SystemExit(f"expected an order of 2 shipments, routing made {len(shipments)}")
    start = timezone.now() - dt.timedelta(days=2)
    for shipment in shipments:
        lines = [(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()]
        services.shipment_pick(shipment=shipment.pk, lines=lines)
        services.shipment_pack(shipment=shipment.pk, parcels=[{"weight_grams": 900}])
        number = f"NW{shipment.pk:018d}"
        services.shipment_ship(
            shipment=shipment.pk,
            carrier="inhouse",
            service="standard",
            tracking_number=number,
            tracking_url=f"https://track.example/{number}",
        )
        tracking_events_record(
            shipment=shipment.pk,
            events=[Event(n, STATUSES[n], start) for n in range(EVENTS)],
            source="bench",
        )
    events = TrackingEvent.objects.filter(shipment__order=order).count()
    return order.tracking_token, len(shipments), events


def main() -> None:
    logging.getLogger("django.request").setLevel(logging.ERROR)  # the timed 404s
    with test_database():
        base_ids = baseline_levels(30)
        token, shipments, events = tracked_order()
        client = Client()
        url = f"/track/{token}/"

        def page() -> object:
            return client.get(url)

        timed(page, 20, expect=200)  # warm-up: URL resolver, template cache, connection
        queries = count_queries(page)
        size = len(client.get(url).content)
        before, base_queries = baseline_latency(base_ids)
        samples = timed(page, ROUNDS, expect=200)
        missing = timed(lambda: client.get(f"/track/{'x' * 32}/"), ROUNDS // 3, expect=404)
        after, _ = baseline_latency(base_ids)
        profiled, db_ms, cpu_ms, statements = profile(page for _ in range(50))
        base_ms = (p50(before) + p50(after)) / 2

        print(
            f"GET /track/<token>/ on {describe_database()}: Django test client, DEBUG=0, one "
            f"order of {shipments} shipments and {events} tracking events, {ROUNDS} requests "
            f"one after the other after 20 warm-up requests"
        )
        print(
            f"{'baseline: 3-line order, 3 rows':<34} {latency(before + after)}  "
            f"{base_queries:>2} queries  (before {p50(before):.2f} ms, after {p50(after):.2f} ms)"
        )
        print(
            f"{'tracking page (200)':<34} {latency(samples, with_max=True)}  {queries:>2} queries"
            f"  {size / 1024:.1f} KiB  {ratio(p50(samples), base_ms)}  "
            f"{target(p50(samples) < 50, 'p50 < 50 ms')}"
        )
        queries_missing = count_queries(lambda: client.get(f"/track/{chr(65) * 32}/"))
        print(
            f"{'unknown token (404)':<34} {latency(missing, with_max=True)}  "
            f"{queries_missing:>2} queries  {ratio(p50(missing), base_ms)}"
        )
        print(
            f"where the time goes ({profiled} pages): database {db_ms:.2f} ms, CPU of this "
            f"process {cpu_ms:.2f} ms per page"
        )
        print(f"statements per page (ms each): {profile_text(statements)}")
        for name, timings, count in (
            ("GET /track/<token>/, tracking page (p50)", samples, queries),
            ("GET /track/<token>/, unknown token 404 (p50)", missing, queries_missing),
        ):
            record(
                name,
                p50(timings),
                "ms",
                base_ms,
                "ms (p50, 1 connection)",
                higher_is_better=False,
                statements=count,
            )


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"(ran in {time.perf_counter() - started:.0f} s)")
