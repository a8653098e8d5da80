"""Benchmark: renewing BENCH_SUBSCRIPTIONS (10,000) due subscriptions (issue 20).

The shop: one channel fed by 3 warehouses with 1,000 SKUs and plenty of stock; 10,000 active
monthly subscriptions of 2 lines each, all due. Measured, in one process as a worker runs it:
the beat's claim (subscriptions_renew_due: SELECT ... FOR UPDATE SKIP LOCKED in batches, one
renewal row, the next date and an outbox message per subscription), then each renewal's
processing (renewal_process: the charge through the payment port first, then order_capture
with external id SUB-<number>-<sequence> paid, routed once, the payment record and the
renewal's outcome; no payment hold placed and released). The payment port answers from an
in-process fake provider (bench only: no network), so the figure is the OMS's own cost.

Printed: renewals per second end to end (claim + process), the claim alone, statements per
renewal, p50/p95 per renewal, and the ratio to the baseline of ARCHITECTURE.md measured in the
same run, before and after (one order, three lines, three StockLevel rows locked and updated in
one transaction; bench/_common.py). The processing loop stops after BENCH_MAX_SECONDS (300)
of its own and says so.

PostgreSQL is the reference (SQLite runs too):
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench \
        .venv/bin/python bench/subscriptions.py
The test database (test_oms_bench) is created and dropped by the script.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from decimal import Decimal

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
    test_database,
)
from _orders import person, shop, status_distribution

SUBSCRIPTIONS = int(os.environ.get("BENCH_SUBSCRIPTIONS", "10000"))
MAX_SECONDS = float(os.environ.get("BENCH_MAX_SECONDS", "300"))


class BenchCharger:
    """The payment port's charge, answered in process (one outcome per key, like a PSP)."""

    name = "bench"

    def __init__(self) -> None:
        self.charges: dict[str, object] = {}

    def charge(self, request):
        from returns.payments import ProviderCapture

        return self.charges.setdefault(
            request.key, ProviderCapture(state="succeeded", reference=f"pi_{request.key[-24:]}")
        )

    def charge_lookup(self, request):
        return self.charges.get(request.key)

    def refund(self, request):
        raise NotImplementedError

    def refund_lookup(self, request):
        return None


def subscriptions_make(count: int, codes: list[str], due: dt.datetime) -> None:
    from inventory.models import Channel, Sku
    from subscriptions.models import NUMBER_BASE, Subscription, SubscriptionLine

    channel = Channel.objects.get(code="web")
    skus = {s.code: s for s in Sku.objects.filter(code__in=codes)}
    batch = 1000
    for start in range(0, count, batch):
        subs = []
        for n in range(start, min(count, start + batch)):
            first, last, email, _ = person(n)
            subs.append(
                Subscription(
                    channel=channel,
                    email=email,
                    customer_name=f"{first} {last}",
                    shipping_address={
                        "name": f"{first} {last}",
                        "line1": f"Torstraße {1 + n % 120}",
                        "city": "Berlin",
                        "postal_code": "10119",
                        "country": "DE",
                    },
                    currency="EUR",
                    shipping_price=Decimal("4.95"),
                    interval="month",
                    interval_count=1,
                    anchor_at=due,
                    next_order_at=due,
                    payment_reference=f"cus_{n}:pm_{n}",
                )
            )
        created = Subscription.objects.bulk_create(subs)
        for sub in created:
            Subscription.objects.filter(pk=sub.pk).update(number=str(NUMBER_BASE + sub.pk))
        SubscriptionLine.objects.bulk_create(
            SubscriptionLine(
                subscription=sub,
                sku=skus[codes[(i * 7 + k * 104729) % len(codes)]],
                quantity=1 + k,
                unit_price=Decimal("12.50") + k,
            )
            for i, sub in enumerate(created, start=start)
            for k in range(2)
        )


def main() -> None:
    with test_database():
        from returns.payments import payment_provider_override
        from subscriptions.models import SubscriptionRenewal
        from subscriptions.services import renewal_process, subscriptions_renew_due

        payment_provider_override(BenchCharger())  # type: ignore[arg-type]
        base_ids = baseline_levels(30)
        started = time.perf_counter()
        _, codes = shop(skus=1000, locations=3, stock=10**6)
        due = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        subscriptions_make(SUBSCRIPTIONS, codes, due)
        analyze()
        setup = time.perf_counter() - started

        before, base_queries = baseline_latency(base_ids)
        loop_started = time.perf_counter()
        run = subscriptions_renew_due(limit=SUBSCRIPTIONS)
        claim_seconds = time.perf_counter() - loop_started
        ids = list(SubscriptionRenewal.objects.order_by("pk").values_list("pk", flat=True))
        queries = count_queries(lambda: renewal_process(renewal_id=ids[0]))
        samples: list[float] = []
        deadline = time.perf_counter() + MAX_SECONDS  # the processing's own budget
        for renewal_id in ids[1:]:
            begin = time.perf_counter()
            renewal_process(renewal_id=renewal_id)
            samples.append((time.perf_counter() - begin) * 1000)
            if begin > deadline:
                break
        elapsed = time.perf_counter() - loop_started
        done = len(samples) + 1
        per_second = done / elapsed
        after, _ = baseline_latency(base_ids)
        base_per_second = 2000 / (p50(before) + p50(after))
        stopped = "" if done == len(ids) else f" (stopped after {MAX_SECONDS:g} s)"

        renewals = SubscriptionRenewal.objects.filter(pk__in=ids[:done])
        paid = renewals.filter(status="paid").count()
        from orders.models import Order

        orders = Order.objects.filter(external_id__startswith="SUB-")
        print(
            f"subscription renewals on {describe_database()}: {run.claimed} due subscriptions "
            f"claimed in {claim_seconds:.1f} s ({run.claimed / claim_seconds:.0f}/s), {done} "
            f"renewals captured, routed and charged in {elapsed:.1f} s{stopped} "
            f"(setup {setup:.0f} s)"
        )
        print(
            f"{'baseline: 3-line order, 3 rows':<31} {base_per_second:6.0f}/s  "
            f"{latency(before + after)}  {base_queries:>2} queries  (1 connection; "
            f"before {1000 / p50(before):.0f}/s, after {1000 / p50(after):.0f}/s)"
        )
        print(
            f"{'renewal (claim+charge+capture)':<31} {per_second:6.0f}/s  {latency(samples)}  "
            f"{queries:>2} queries per renewal processed  {ratio(per_second, base_per_second)}"
        )
        print(
            f"renewals paid: {paid} of {done}; orders: {orders.count()} "
            f"({status_distribution(orders)}); one order per period: "
            f"{orders.count() == renewals.count()}"
        )
        record(
            f"subscription renewals in process, 2 lines, {done:,} renewals",
            per_second,
            "renewals/s",
            base_per_second,
            "tx/s (1 connection)",
            higher_is_better=True,
            statements=queries,
        )
        payment_provider_override(None)


if __name__ == "__main__":
    main()
