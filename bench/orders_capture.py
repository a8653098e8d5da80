"""Benchmark: order capture in bulk, as a channel sync runs it (orders/services/capture.py).

Measures an in-process loop of `order_capture` over BENCH_ORDERS (1,000) distinct orders of 3
lines (paid, complete German addresses, 70 % new shoppers and 30 % returning ones): orders per
second, p50/p95 per capture, statements per order and the time the database took of it (a
profile of 100 more captures), and prints the throughput as a ratio to the baseline of
ARCHITECTURE.md measured in the same run, before and after (one order, three lines, three
StockLevel rows locked and updated in one transaction; see bench/_common.py). Target: >= 500
orders/s.

It measures whatever capture does when it runs: if fulfilment routes captured orders (the
orders' routing port, filled in by fulfilment), the routing is part of each capture, and the status
distribution of the orders shows it (allocated, or pending when nothing routes them). The
shop: one channel fed by 3 warehouses with 1,000 SKUs and plenty of stock each, BENCH_CUSTOMERS
(100,000) customers already known (so that the customer look-up runs on a table of realistic
size), no fraud rules. The loop stops after BENCH_MAX_SECONDS (120) at most, and says so.
Enqueued tasks (the currency conversion) go to an in-memory broker (bench/_common.py).

PostgreSQL is the reference (SQLite runs too):
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench \
        .venv/bin/python bench/orders_capture.py
The test database (test_oms_bench) is created and dropped by the script.
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
from _orders import (
    order_payload,
    person,
    profile,
    profile_text,
    routing_on_capture,
    shop,
    status_distribution,
)

ORDERS = int(os.environ.get("BENCH_ORDERS", "1000"))  # `make bench` must fit in ~20 min
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "100000"))
MAX_SECONDS = float(os.environ.get("BENCH_MAX_SECONDS", "120"))
WARMUP = 30
PROFILED = 100
RETURNING = 1_000_000  # shoppers from here on are the known customers


def known_customers(count: int) -> None:
    from orders.models import Customer

    batch = 5000
    for start in range(0, count, batch):
        people = [person(RETURNING + n) for n in range(start, min(count, start + batch))]
        Customer.objects.bulk_create(
            Customer(email=email, first_name=first, last_name=last, phone=phone)
            for first, last, email, phone in people
        )


def main() -> None:
    with test_database():
        from django.db.models.functions import Lower

        from orders.models import Customer, Order
        from orders.services import order_capture

        base_ids = baseline_levels(30)
        started = time.perf_counter()
        _, codes = shop(skus=1000, locations=3, stock=10**6)
        known_customers(CUSTOMERS)
        analyze()
        setup = time.perf_counter() - started

        def capture(n: int) -> object:
            shopper = RETURNING + (n * 7) % max(CUSTOMERS, 1) if CUSTOMERS and n % 10 < 3 else n
            payload = order_payload(n, codes, prefix="SYNC", shopper=shopper)
            result = order_capture(channel="web", **payload)
            if not result.created:
                raise SystemExit(f"order {n} was not created: {result.order}")
            return result

        numbers = iter(range(10**9))
        for _ in range(WARMUP):
            capture(next(numbers))
        queries = count_queries(lambda: capture(next(numbers)))
        before, base_queries = baseline_latency(base_ids)

        samples: list[float] = []
        first = next(numbers)
        loop_started = time.perf_counter()
        deadline = loop_started + MAX_SECONDS
        for n in range(first, first + ORDERS):
            begin = time.perf_counter()
            capture(n)
            samples.append((time.perf_counter() - begin) * 1000)
            if begin > deadline:
                break
        elapsed = time.perf_counter() - loop_started
        per_second = len(samples) / elapsed

        after, _ = baseline_latency(base_ids)
        base_per_second = 2000 / (p50(before) + p50(after))
        calls, db_ms, cpu_ms, labels = profile(
            (lambda n=n: capture(n)) for n in range(10**8, 10**8 + PROFILED)
        )
        # The look-up capture runs (orders.services.capture): LOWER(email) = ...
        lookup = (
            Customer.objects.annotate(email_ci=Lower("email"))
            .filter(email_ci="anna.mueller1@example.de")
            .explain()
        )
        stopped = "" if len(samples) == ORDERS else f" (stopped after {MAX_SECONDS:g} s)"

        print(
            f"order capture on {describe_database()}: {len(samples)} orders of 3 lines in "
            f"{elapsed:.1f} s{stopped}, {CUSTOMERS} known customers, routing on capture: "
            f"{'yes' if routing_on_capture() else 'no'} (setup {setup:.0f} s)"
        )
        print(
            f"{'baseline: 3-line order, 3 rows':<31} {base_per_second:6.0f}/s  "
            f"{latency(before + after)}  {base_queries:>2} queries  (1 connection; "
            f"before {1000 / p50(before):.0f}/s, after {1000 / p50(after):.0f}/s)"
        )
        print(
            f"{'order_capture, 3 lines':<31} {per_second:6.0f}/s  {latency(samples)}  "
            f"{queries:>2} queries  {ratio(per_second, base_per_second)}  "
            f"{target(per_second >= 500, '>= 500 orders/s')}"
        )
        mean_ms = elapsed * 1000 / len(samples)
        print(
            f"where the time goes ({calls} more captures): {mean_ms:.1f} ms per order on "
            f"average, of which waiting for the database {db_ms:.1f} ms (statements and COMMIT, "
            f"wall time); this process's CPU {cpu_ms:.1f} ms per order"
        )
        print(f"statements per order (ms each): {profile_text(labels)}")
        print(f"customer look-up by e-mail (LOWER(email) =): {lookup.splitlines()[0].strip()}")
        created = Order.objects.filter(channel__code="web")
        print(f"orders created: {created.count()}: {status_distribution(created)}")
        record(
            f"order_capture in process, 3 lines, {len(samples):,} orders",
            per_second,
            "orders/s",
            base_per_second,
            "tx/s (1 connection)",
            higher_is_better=True,
            statements=queries,
        )


if __name__ == "__main__":
    main()
