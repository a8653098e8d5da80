"""Benchmark: labels per second from one worker with the in-house carrier
(fulfilment/services/labels.py, the task fulfilment.labels_buy run in-process).

Set-up: a shop (one channel, one warehouse, 200 SKUs with plenty of stock); BENCH_LABELS (150)
orders of 3 lines captured (routing on capture gives one shipment each), picked and packed in
one parcel, then `shipment_ship_request(carrier="inhouse")` for each (the enqueued task goes to
the in-memory broker: nothing consumes it, bench/_common.py). Then `labels_buy(shipment_id=...)`
is called for each shipment in turn, as one worker of the "labels" queue would, after WARMUP
(20) of them: each call renders the 4x6 PDF and the ZPL (reportlab), stores the label under the
shipment's lock and ships the shipment (stock consumed, order shipped).

Prints labels per second, p50/p95 per label, statements per call, where the time goes (the
carrier alone: rendering the label; the rest: the database work), and the throughput as a ratio
to the baseline of ARCHITECTURE.md measured in the same run, before and after (one order, three
lines, three StockLevel rows locked and updated in one transaction; see bench/_common.py).
Target: >= 20 labels/s from one worker. A second pass with BENCH_PARCELS (3) parcels per
shipment shows the cost per label when a shipment has several.

PostgreSQL is the reference (SQLite runs too):
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench \
        .venv/bin/python bench/labels.py
The test database (test_<name>) is created and dropped by the script.
"""

from __future__ import annotations

import os
import time

from _common import (
    analyze,
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
)
from _orders import order_payload, shop, status_distribution

LABELS = int(os.environ.get("BENCH_LABELS", "150"))  # `make bench` must fit in ~20 min
PARCELS = int(os.environ.get("BENCH_PARCELS", "3"))
WARMUP = 20


def packed_shipments(count: int, first: int, codes: list[str], parcels: int) -> list[int]:
    """Capture `count` orders, pick and pack their shipments in `parcels` parcels each, and
    ask for in-house labels; the shipment ids."""
    from fulfilment.models import Shipment
    from fulfilment.services import shipment_pack, shipment_pick
    from fulfilment.services.labels import shipment_ship_request
    from orders.services import order_capture

    ids = []
    for n in range(first, first + count):
        result = order_capture(channel="web", **order_payload(n, codes, prefix="LB"))
        for shipment in Shipment.objects.filter(order=result.order).prefetch_related("lines"):
            lines = [(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()]
            shipment_pick(shipment=shipment.pk, lines=lines, actor="bench")
            shipment_pack(
                shipment=shipment.pk,
                parcels=[{"weight_grams": 500 + 100 * k} for k in range(parcels)],
                actor="bench",
            )
            shipment_ship_request(shipment=shipment.pk, carrier="inhouse", actor="bench")
            ids.append(shipment.pk)
    return ids


def run(ids: list[int]) -> list[float]:
    """Per-call latencies (ms) of labels_buy, one call per shipment."""
    from fulfilment.tasks import labels_buy

    samples = []
    for shipment_id in ids:
        begin = time.perf_counter()
        status = labels_buy(shipment_id=shipment_id)
        samples.append((time.perf_counter() - begin) * 1000)
        if status != "shipped":
            raise SystemExit(f"shipment {shipment_id} is {status}, not shipped")
    return samples


def render_only(ids: list[int]) -> list[float]:
    """The carrier alone (PDF and ZPL of one label, no database): ms per label."""
    from fulfilment.adapters.carriers import carrier_for, label_reference
    from fulfilment.services.labels import _plan

    carrier = carrier_for("inhouse")
    samples = []
    for shipment_id in ids:
        plan = _plan(shipment_id)
        if plan is None:
            continue
        for parcel in plan.missing:
            begin = time.perf_counter()
            carrier.buy_label(
                reference=label_reference(shipment_id, parcel.id),
                shipment_data=plan.data,
                parcel=parcel,
            )
            samples.append((time.perf_counter() - begin) * 1000)
    return samples


def main() -> None:
    with test_database():
        from fulfilment.models import Shipment, ShippingLabel
        from fulfilment.tasks import labels_buy
        from orders.models import Order

        base_ids = baseline_levels(30)
        started = time.perf_counter()
        _, codes = shop(skus=200, locations=1, stock=10**6, prefix="LB")
        single = packed_shipments(WARMUP + LABELS + 1, 0, codes, parcels=1)
        several = packed_shipments(WARMUP + LABELS // PARCELS + 1, 10**5, codes, parcels=PARCELS)
        analyze()
        built = time.perf_counter() - started

        before, base_queries = baseline_latency(base_ids)
        rendering = render_only(single[WARMUP : WARMUP + 100])
        run(single[:WARMUP])
        queries = count_queries(lambda: labels_buy(shipment_id=single[-1]))
        begin = time.perf_counter()
        one = run(single[WARMUP:-1])
        one_elapsed = time.perf_counter() - begin

        run(several[:WARMUP])
        queries_several = count_queries(lambda: labels_buy(shipment_id=several[-1]))
        begin = time.perf_counter()
        multi = run(several[WARMUP:-1])
        multi_elapsed = time.perf_counter() - begin
        after, _ = baseline_latency(base_ids)
        base_ms = (p50(before) + p50(after)) / 2

        labels_one = ShippingLabel.objects.filter(shipment_id__in=single[WARMUP:-1]).count()
        labels_multi = ShippingLabel.objects.filter(shipment_id__in=several[WARMUP:-1]).count()
        rate_one = labels_one / one_elapsed
        rate_multi = labels_multi / multi_elapsed
        per_label_multi = [ms / PARCELS for ms in multi]

        print(
            f"labels on {describe_database()}: in-house carrier, one worker in-process, "
            f"{labels_one} shipments of 1 parcel and {len(multi)} of {PARCELS} parcels "
            f"(set-up {built:.0f} s)"
        )
        print(
            f"{'baseline: 3-line order, 3 rows':<40} {latency(before + after)}  "
            f"{base_queries:>2} queries  (before {p50(before):.2f} ms, after {p50(after):.2f} ms)"
        )
        print(
            f"{'labels_buy, 1 parcel':<40} {latency(one)}  {queries:>2} queries  "
            f"{rate_one:6.1f} labels/s  {ratio(p50(one), base_ms)}  "
            f"{target(rate_one >= 20, '>= 20 labels/s')}"
        )
        print(
            f"{f'labels_buy, {PARCELS} parcels (per label)':<40} {latency(per_label_multi)}  "
            f"{queries_several:>2} queries  {rate_multi:6.1f} labels/s  "
            f"{ratio(p50(per_label_multi), base_ms)}  {target(rate_multi >= 20, '>= 20 labels/s')}"
        )
        render = p50(rendering)
        print(
            f"where the time goes (1 parcel, p50 {p50(one):.1f} ms): rendering the label "
            f"(PDF + ZPL, no database) {render:.1f} ms, the rest (plan, lock and store, ship: "
            f"stock, order, events) {p50(one) - render:.1f} ms"
        )
        for name, timings, count in (
            ("labels_buy, 1 parcel (p50)", one, queries),
            (
                f"labels_buy, {PARCELS} parcels, per label (p50)",
                per_label_multi,
                queries_several / PARCELS,
            ),
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
        shipped = Shipment.objects.filter(pk__in=single + several)
        orders = Order.objects.filter(pk__in=shipped.values("order_id"))
        print(
            f"shipments: {shipped.filter(status='shipped').count()} shipped of {shipped.count()}; "
            f"orders: {status_distribution(orders)}"
        )


if __name__ == "__main__":
    main()
