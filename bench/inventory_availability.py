"""Benchmark: a 1,000-SKU availability request for a channel fed by 5 locations.

Measures the latency (p50/p95/max over BENCH_ROUNDS, 50, requests) of
GET /api/v1/availability/?channel=CODE&sku=A,B,... with 1,000 SKU codes, through the API
(rest_framework.test.APIClient, token of a user in the "Manager" group), the queries each request
sends, and the same for the selector alone (channels.selectors.channel_availability). Each p50
is printed as a ratio to the baseline of ARCHITECTURE.md measured in the same run, single-
threaded (one order, three lines: three StockLevel rows locked and updated in one transaction;
see bench/_common.py). Target: p95 < 100 ms for the API request.

The data: 1,200 SKUs, 6 locations (5 feed the channel), a stock level for every pair except one
SKU in seven at the last two locations, some units reserved, a channel buffer of 2; the
statistics are refreshed (VACUUM ANALYZE) before measuring, as autovacuum would.

PostgreSQL is the reference (SQLite runs too):
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench \
        .venv/bin/python bench/inventory_availability.py
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
    gc_pauses,
    latency,
    make_locations,
    make_skus,
    p50,
    pct,
    ratio,
    record,
    stock_up,
    target,
    test_database,
    timed,
)

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "50"))
SKUS = 1_000
LOCATIONS = 5


def main() -> None:
    with test_database():
        from django.contrib.auth.models import Group, User
        from rest_framework.authtoken.models import Token
        from rest_framework.test import APIClient

        from channels.selectors import channel_availability
        from channels.services import channel_create
        from inventory.models import StockLevel
        from oms.roles import MANAGER

        base_ids = baseline_levels(30)
        started = time.perf_counter()
        skus = make_skus(SKUS + 200, "AV")
        locations = make_locations(LOCATIONS + 1, "AV")
        # Every pair has stock except one SKU in seven at the last two locations (one of them
        # outside the channel); a third of the levels have units reserved (levels only: the
        # ledger is not audited here).
        stock_up(skus, locations[:-2], lambda i, j: 1 + (i * 7 + j * 13) % 50)
        stock_up(
            [sku for i, sku in enumerate(skus) if i % 7], locations[-2:], lambda i, j: 5 + i % 11
        )
        StockLevel.objects.filter(sku__in=skus[::3], on_hand__gte=4).update(reserved=3)
        channel = channel_create(
            code="web",
            name="Web",
            kind="shopify",
            currency="EUR",
            locations=locations[:LOCATIONS],
            stock_buffer=2,
        )
        wanted = skus[100 : 100 + SKUS]
        url = f"/api/v1/availability/?channel=web&sku={','.join(s.code for s in wanted)}"

        user = User.objects.create_user("bench")
        user.groups.add(Group.objects.get(name=MANAGER))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        analyze()
        setup = time.perf_counter() - started

        first = client.get(url)
        if first.status_code != 200 or len(first.json()) != SKUS:
            raise SystemExit(f"unexpected answer: HTTP {first.status_code} {first.content[:300]!r}")
        if len(first.json()[0]["locations"]) != LOCATIONS:
            raise SystemExit(f"expected {LOCATIONS} locations per SKU: {first.json()[0]}")
        api_queries = count_queries(lambda: client.get(url))
        with gc_pauses() as api_gc:
            api = timed(lambda: client.get(url), ROUNDS, 200)

        def selector() -> object:
            return channel_availability(channel=channel, skus=wanted)

        selector()
        selector_queries = count_queries(selector)
        with gc_pauses() as selector_gc:
            alone = timed(selector, ROUNDS)
        base, base_queries = baseline_latency(base_ids)

        print(
            f"inventory availability on {describe_database()}: {SKUS} SKUs x {LOCATIONS} "
            f"locations, {ROUNDS} rounds, {len(url) / 1024:.1f} KiB URL, "
            f"{len(first.content) / 1024:.0f} KiB answer (setup {setup:.1f} s)"
        )
        rows = [
            ("baseline: 3-line order, 3 rows", base, base_queries, ""),
            (
                "GET /availability/, 1,000 SKUs",
                api,
                api_queries,
                target(pct(api, 95) < 100, "p95 < 100 ms"),
            ),
            ("channel_availability selector", alone, selector_queries, ""),
        ]
        for name, samples, queries, goal in rows:
            print(
                f"{name:<31} {latency(samples, with_max=True)}  {queries:>2} queries  "
                f"{ratio(p50(samples), p50(base))}  {goal}".rstrip()
            )
        for name, samples, queries in (
            (f"GET /api/v1/availability/, {SKUS:,} SKUs (p50)", api, api_queries),
            (f"channel_availability selector, {SKUS:,} SKUs (p50)", alone, selector_queries),
        ):
            record(
                name,
                p50(samples),
                "ms",
                p50(base),
                "ms (p50, 1 connection)",
                higher_is_better=False,
                statements=queries,
            )
        for name, pauses in (("API requests", api_gc), ("selector calls", selector_gc)):
            print(
                f"python full garbage collections during the {ROUNDS} {name}: {len(pauses)}, "
                f"{max(pauses, default=0):.0f} ms max"
            )


if __name__ == "__main__":
    main()
