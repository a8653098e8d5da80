"""Benchmark: the catalogue API (list 500 SKUs, create with and without Idempotency-Key).

Prints latency percentiles, queries per request, and each figure as a ratio to a baseline
measured in the same run (a plain ORM read of the same 500 rows into dicts, and a plain ORM
insert), because these machines drift. For `make bench`'s table each p50 is also recorded
against the baseline every benchmark shares (one order, three lines, three stock rows locked and
updated in one transaction; see bench/_common.py). Runs on a throwaway test database of the
configured DATABASE_URL (SQLite by default; helpers in bench/_common.py).
Usage: DEBUG=1 .venv/bin/python bench/api_catalogue.py
"""

from __future__ import annotations

import statistics

from _common import (
    baseline_latency,
    baseline_levels,
    count_queries,
    pct,
    record,
    test_database,
    timed,
)
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

SKUS = 5_000
ROUNDS = 40


def report(
    name: str,
    samples: list[float],
    baseline: list[float],
    queries: int | None,
    shared_ms: float,
) -> None:
    """Print against this benchmark's own baseline; record against the shared one."""
    p50, base = statistics.median(samples), statistics.median(baseline)
    q = f"{queries:>3} queries" if queries is not None else ""
    print(
        f"{name:<38} p50 {p50:7.2f} ms  p95 {pct(samples, 95):7.2f} ms  "
        f"{p50 / base:6.1f}x baseline  {q}"
    )
    record(
        f"{name} (p50)",
        p50,
        "ms",
        shared_ms,
        "ms (p50, 1 connection)",
        higher_is_better=False,
        statements=queries,
    )


def main() -> None:
    with test_database():
        from django.contrib.auth.models import Group, User

        from inventory.models import Sku
        from inventory.services import sku_create

        Sku.objects.bulk_create(
            Sku(code=f"B-{i:06d}", name=f"Bench {i}", barcode=f"{4100000000000 + i}")
            for i in range(SKUS)
        )
        user = User.objects.create_user("bench")
        user.groups.add(Group.objects.get(name="Manager"))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

        fields = ["id", "code", "name", "barcode", "weight_grams", "is_active"]
        base_list = timed(lambda: list(Sku.objects.order_by("id").values(*fields)[:500]), ROUNDS)
        list_queries = count_queries(lambda: client.get("/api/v1/skus/?page_size=500"))
        api_list = timed(lambda: client.get("/api/v1/skus/?page_size=500"), ROUNDS, 200)

        counter = iter(range(10**9))
        base_insert = timed(lambda: Sku.objects.create(code=f"X-{next(counter)}", name="x"), ROUNDS)
        service_insert = timed(lambda: sku_create(code=f"S-{next(counter)}", name="s"), ROUNDS)
        plain = timed(
            lambda: client.post(
                "/api/v1/skus/", {"code": f"P-{next(counter)}", "name": "p"}, format="json"
            ),
            ROUNDS,
            201,
        )
        with_key = timed(
            lambda: client.post(
                "/api/v1/skus/",
                {"code": f"K-{(n := next(counter))}", "name": "k"},
                format="json",
                HTTP_IDEMPOTENCY_KEY=f"key-{n}",
            ),
            ROUNDS,
            201,
        )
        first_key = next(counter)
        replay = timed(
            lambda: client.post(
                "/api/v1/skus/",
                {"code": f"R-{first_key}", "name": "r"},
                format="json",
                HTTP_IDEMPOTENCY_KEY=f"replay-{first_key}",
            ),
            ROUNDS,
            201,
        )

        shared, shared_queries = baseline_latency(baseline_levels(30))
        shared_ms = statistics.median(shared)

        print(f"catalogue API on {connection.vendor}, {SKUS} SKUs, {ROUNDS} rounds each")
        print(
            f"{'(shared baseline: 3-line order, 3 rows)':<38} p50 {shared_ms:7.2f} ms  "
            f"{shared_queries} queries"
        )
        report("GET /skus/?page_size=500", api_list, base_list, list_queries, shared_ms)
        report("sku_create service", service_insert, base_insert, None, shared_ms)
        report("POST /skus/", plain, base_insert, None, shared_ms)
        report("POST /skus/ with Idempotency-Key", with_key, base_insert, None, shared_ms)
        report("POST /skus/ replayed key", replay, base_insert, None, shared_ms)


if __name__ == "__main__":
    main()
