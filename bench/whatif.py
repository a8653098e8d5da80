"""Benchmark: what-if routing (reports/whatif.py) replaying BENCH_WHATIF_ORDERS (10,000) past
orders, with the live rules and with a draft, as the worker's task does (one run: both sides).

The past: 20 warehouses in the 20 largest German cities (bench/_orders.py), one channel, 1,000
SKUs; each warehouse carries about 60 % of them (1 to 8 units each: the nearest often runs out),
received the day before the window (a receipt each in the ledger, what the replay reads as the
stock of that time), and 200 receipts more during the window. 10,000 orders arrived over the 7
days of the window, 1 to 3 lines of 1 or 2 units, to the same cities (addresses without
coordinates, geocoded by postal code as a shop's are); they are inserted in bulk (no routing of
their own: the replay ignores what happened to them). The draft switches the first warehouse
off, caps the second at 150 shipments a day and never ships an order in more than 2 shipments.

Timed: `whatif_run_execute` (read the orders and the ledger, replay both sides, store the
result), once. Printed: the time, the orders replayed per second beside the baseline of
ARCHITECTURE.md measured in the same run (transactions per second on one connection: one order,
three lines, three stock rows locked and updated), the statements, and both sides' figures.
Target (issue 22): 10,000 orders in under 60 s.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench \
        .venv/bin/python bench/whatif.py
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time

from _common import (
    baseline_latency,
    baseline_levels,
    baseline_per_second,
    count_queries,
    describe_database,
    latency,
    make_skus,
    record,
    target,
    test_database,
)
from _orders import CITIES, warehouses
from django.utils import timezone

ORDERS = int(os.environ.get("BENCH_WHATIF_ORDERS", "10000"))
SKUS, LOCATIONS, DAYS = 1000, 20, 7
TARGET_S = 60.0


def seed() -> tuple[object, dt.date, dt.date]:
    """The past described above; returns the draft and the window."""
    from channels.services import channel_create
    from fulfilment.models import RuleKind
    from inventory.models import MovementKind, StockMovement
    from orders.models import Order, OrderLine
    from reports.whatif import routing_draft_create

    rng = random.Random(22)
    catalogue = make_skus(SKUS, "WI")
    sites = warehouses(LOCATIONS, "WI")
    channel = channel_create(code="web", name="Web", kind="api", currency="EUR", locations=sites)
    end = timezone.localdate() - dt.timedelta(days=1)
    start = end - dt.timedelta(days=DAYS - 1)
    opening = timezone.make_aware(dt.datetime.combine(start, dt.time(6)) - dt.timedelta(days=1))
    moves = [
        StockMovement(
            sku=sku,
            location=site,
            kind=MovementKind.RECEIPT,
            on_hand_delta=rng.randint(1, 8),
            created_at=opening,
            actor="bench",
        )
        for sku in catalogue
        for site in sites
        if rng.random() < 0.6
    ]
    moves += [
        StockMovement(
            sku=rng.choice(catalogue),
            location=rng.choice(sites),
            kind=MovementKind.RECEIPT,
            on_hand_delta=rng.randint(5, 50),
            created_at=opening + dt.timedelta(days=1 + rng.random() * DAYS),
            actor="bench",
        )
        for _ in range(200)
    ]
    StockMovement.objects.bulk_create(moves, batch_size=5000)
    arrivals = sorted(
        opening + dt.timedelta(days=1, seconds=rng.randint(0, DAYS * 86400 - 7 * 3600))
        for _ in range(ORDERS)
    )
    orders = []
    for n, arrived in enumerate(arrivals):
        city, postal, _, _ = CITIES[rng.randrange(len(CITIES))]
        orders.append(
            Order(
                channel=channel,
                external_id=f"WI-{n}",
                number=f"WI{n:06d}",
                currency="EUR",
                base_currency="EUR",
                placed_at=arrived,
                status="shipped",
                shipping_address={
                    "name": "Bench",
                    "line1": "Street 1",
                    "postal_code": postal,
                    "city": city,
                    "country": "DE",
                },
            )
        )
    Order.objects.bulk_create(orders, batch_size=2000)
    for order, arrived in zip(orders, arrivals, strict=True):
        order.created_at = arrived
    Order.objects.bulk_update(orders, ["created_at"], batch_size=2000)
    lines = []
    for order in orders:
        for n, sku in enumerate(rng.sample(catalogue, rng.randint(1, 3)), start=1):
            lines.append(
                OrderLine(
                    order=order,
                    line_number=n,
                    sku=sku,
                    sku_code=sku.code,
                    quantity=rng.randint(1, 2),
                )
            )
    OrderLine.objects.bulk_create(lines, batch_size=5000)
    draft = routing_draft_create(
        name="bench",
        actor="bench",
        rules=[{"name": "At most 2 shipments", "kind": RuleKind.SPLITS, "max_splits": 2}],
        locations={
            sites[0].pk: {"ships_online": False},
            sites[1].pk: {"daily_capacity": 150},
        },
    )
    return draft, start, end


def main() -> None:
    from reports.models import WhatIfRun
    from reports.whatif import whatif_run_create, whatif_run_execute

    with test_database():
        started = time.perf_counter()
        draft, start, end = seed()
        seeded_s = time.perf_counter() - started
        base_ids = baseline_levels(3)
        print(
            f"What-if routing of {ORDERS:,} orders over {DAYS} days on {describe_database()}: "
            f"{LOCATIONS} warehouses, {SKUS:,} SKUs; seeded in {seeded_s:.1f} s"
        )
        before, base_queries = baseline_latency(base_ids)
        run = whatif_run_create(draft=draft, start=start, end=end, actor="bench")
        took: list[float] = []

        def replay() -> None:
            WhatIfRun.objects.filter(pk=run.pk).update(status="queued")
            began = time.perf_counter()
            whatif_run_execute(run_id=run.pk)
            took.append(time.perf_counter() - began)

        queries = count_queries(replay)
        after, _ = baseline_latency(base_ids)
        seconds = took[0]
        rate = ORDERS / seconds
        base_rate = baseline_per_second(before, after)
        result = WhatIfRun.objects.get(pk=run.pk).result
        print(
            f"{'baseline: 3-line order, 3 rows':<40} {latency(before + after)}  "
            f"{base_queries:>2} queries"
        )
        print(
            f"{'replay of ' + format(ORDERS, ',') + ' orders, 2 sides':<40} {seconds:8.1f} s  "
            f"{rate:8.0f} orders/s  {queries:>3} queries  "
            f"{target(seconds < TARGET_S, f'< {TARGET_S:.0f} s')}"
        )
        for side in ("current", "draft"):
            f = result[side]
            print(
                f"  {side:<8} shipments/order {f['shipments_per_order']}, "
                f"avg distance {f['average_distance_km']} km, "
                f"delivery {f['average_delivery_days']} d, backorders {f['backorders']:,}, "
                f"outcomes {f['outcomes']}"
            )
        print(f"  orders whose decision changed: {result['changed_count']:,}")
        record(
            f"what-if replay of {ORDERS:,} orders (live and draft)",
            rate,
            "orders/s",
            base_rate,
            "transactions/s (1 connection)",
            higher_is_better=True,
            statements=queries,
            condition=f"{ORDERS:,} orders < {TARGET_S:.0f} s",
            condition_met=seconds < TARGET_S,
            note=f"{seconds:.1f} s",
        )


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"(ran in {time.perf_counter() - started:.0f} s)")
