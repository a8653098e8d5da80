"""Benchmark: order search (orders.selectors.order_search) over 200,000 (or 1,000,000) orders.

Loads BENCH_ORDERS (200,000; the target is set for 1,000,000) orders straight into
orders_order, then times
`list(order_search(Order.objects.all(), term)[:50])` (the first page, newest first, as the API
and the admin ask for it) for realistic terms: an order number, an e-mail fragment, a last name
(about 1 % of the orders), a SKU code, a phone fragment, two words (a last and a first name), and a
misspelt name that matches nothing. Prints the p50/p95 of BENCH_ROUNDS (10) runs per term after
one warm-up run, the rows found, the plan PostgreSQL chose (which index), and the p50 as a
ratio to the baseline of ARCHITECTURE.md measured in the same run (one order, three lines,
three StockLevel rows locked and updated in one transaction; see bench/_common.py). Target:
p50 < 100 ms for every term.

The orders: 3 channels, 2 years of orders one minute apart, 400,000 shoppers (German names,
e-mails and phone numbers), 1 to 4 lines each from 20,000 SKU codes (only the search text holds
the codes: no order lines are loaded), statuses as an older shop has them (mostly completed),
every NOT NULL column filled. `search_text` is built as capture builds it (orders/services/
capture.py, search_text_for): number, external id and number, e-mail, phone, names, SKU codes.

On PostgreSQL the rows are written with COPY (psycopg's cursor.copy): the table's plain
indexes (the pg_trgm GIN index of orders/migrations/0002_search_trigram.py among them) are
dropped first and built again afterwards with their own definitions, the unique constraints
stay; then VACUUM ANALYZE. SQLite has no COPY and no trigram index: the rows are inserted with
bulk_create, BENCH_ORDERS defaults to 100,000 there, and every search scans the table.

PostgreSQL is the reference:
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench \
        .venv/bin/python bench/orders_search.py
The test database (test_oms_bench) is created and dropped by the script; 1,000,000 orders take
about 1.2 GB in it (indexes included).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import time
from collections.abc import Iterator

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
from _orders import CITIES, STREETS, person
from django.db import connection

POSTGRES = connection.vendor == "postgresql"
#: 200,000 by default, so that `make bench` fits in its time next to the two 10,000-order runs
#: of issue 16 (loading 1,000,000 takes about 7 minutes on 2 busy cores): BENCH_ORDERS=1000000
#: measures the size the target was set for.
ORDERS = int(os.environ.get("BENCH_ORDERS", "200000" if POSTGRES else "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
SHOPPERS = 400_000
SKU_CODES = [f"{kind}-{i:06d}" for kind in ("TEE", "MUG", "CAP", "BAG") for i in range(5000)]
CHUNK = 20_000
START = dt.datetime(2024, 11, 1, tzinfo=dt.UTC)
# (status, payment status, share in %) of an older shop: most orders are long completed.
STATUSES = (
    [("completed", "paid")] * 72
    + [("delivered", "paid")] * 8
    + [("shipped", "paid")] * 8
    + [("allocated", "paid")] * 4
    + [("pending", "paid")] * 3
    + [("backordered", "paid")] * 2
    + [("cancelled", "refunded")] * 3
)


def shopper_of(i: int) -> int:
    return (i * 2654435761) % SHOPPERS


def skus_of(i: int) -> list[str]:
    count = 1 + (i * 31) % 4
    return [SKU_CODES[(i * 7919 + k * 104729) % len(SKU_CODES)] for k in range(count)]


def order_rows(first: int, last: int, channels: list[int]) -> Iterator[dict]:
    """The column values of orders first..last-1 (ids), as capture would have stored them."""
    prefixes = ("SHOP", "AMZ", "EBAY")
    for i in range(first, last):
        first_name, last_name, email, phone = person(shopper_of(i))
        city, postal, _, _ = CITIES[i % len(CITIES)]
        status, payment = STATUSES[i % len(STATUSES)]
        number = str(100000 + i)
        external_id = f"{prefixes[i % 3]}-{i}"
        external_number = f"#{10000 + i}"
        name = f"{first_name} {last_name}"
        address = json.dumps(
            {
                "name": name,
                "line1": f"{STREETS[i % len(STREETS)]} {1 + i % 120}",
                "city": city,
                "postal_code": postal,
                "country": "DE",
            },
            ensure_ascii=False,
        )
        codes = skus_of(i)
        parts = [number, external_id, external_number, email, phone, first_name, last_name]
        parts += [phone, name, *codes]
        total = f"{19.9 * len(codes) + 4.95:.4f}"
        at = START + dt.timedelta(minutes=i)
        yield {
            "id": i,
            "number": number,
            "channel_id": channels[i % 3],
            "external_id": external_id,
            "external_number": external_number,
            "status": status,
            "payment_status": payment,
            "is_on_hold": False,
            "customer_id": None,
            "email": email,
            "phone": phone,
            "currency": "EUR",
            "subtotal": f"{19.9 * len(codes):.4f}",
            "shipping_price": "4.9500",
            "tax_total": "0.0000",
            "discount_total": "0.0000",
            "total": total,
            "prices_include_tax": True,
            "channel_total": total,
            "base_currency": "EUR",
            "total_base": total,
            "fx_rate": "1.0000000000",
            "fx_source": "same currency",
            "fx_date": at.date(),
            "shipping_address": address,
            "billing_address": address,
            "ship_country": "DE",
            "placed_at": at,
            "raw_payload": "{}",
            "notes": "",
            "priority": 0,
            "tracking_token": secrets.token_urlsafe(24),
            "search_text": " ".join(p.strip().lower() for p in parts if p and p.strip()),
            "personal_data_erased_at": None,
            "created_at": at,
            "updated_at": at,
        }


def copy_value(value: object) -> str:
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def load_postgresql(channels: list[int]) -> tuple[float, float]:
    """COPY the orders in; returns (seconds writing, seconds building the indexes again)."""
    from orders.models import Order

    table = Order._meta.db_table
    columns = [f.column for f in Order._meta.concrete_fields]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND NOT "
            "EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.schemaname)"
            " || '.' || quote_ident(i.indexname))::regclass)",
            [table],
        )
        plain = cursor.fetchall()
        for name, _ in plain:
            cursor.execute(f'DROP INDEX "{name}"')
    started = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor
        names = ", ".join(f'"{c}"' for c in columns)
        with raw.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            for start in range(1, ORDERS + 1, CHUNK):
                rows = order_rows(start, min(ORDERS + 1, start + CHUNK), channels)
                text = "".join(
                    "\t".join(copy_value(row[c]) for c in columns) + "\n" for row in rows
                )
                copy.write(text.encode())
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [f'"{table}"', ORDERS]
        )
    written = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for _, definition in plain:
            cursor.execute(definition)
        cursor.execute("RESET maintenance_work_mem")
    return written, time.perf_counter() - started


def load_sqlite(channels: list[int]) -> tuple[float, float]:
    from orders.models import Order

    started = time.perf_counter()
    for start in range(1, ORDERS + 1, CHUNK):
        rows = order_rows(start, min(ORDERS + 1, start + CHUNK), channels)
        Order.objects.bulk_create((Order(**row) for row in rows), batch_size=2000)
    return time.perf_counter() - started, 0.0


def plan_of(queryset: object) -> str:
    """The access paths of the query's plan: 'Index Scan Backward using x; Bitmap ...'."""
    text = queryset.explain()  # type: ignore[attr-defined]
    if not POSTGRES:
        return " ".join(text.split())[:120]
    paths = re.findall(
        r"((?:Parallel )?(?:Seq Scan|Index Scan Backward|Index Scan|Index Only "
        r"Scan|Bitmap Index Scan|Bitmap Heap Scan)(?: using \w+| on \w+)?)",
        text,
    )
    heads = re.findall(r"^\s*(?:->\s*)?(Limit|Incremental Sort|Sort|Gather Merge)\s+\(", text, re.M)
    return " > ".join(dict.fromkeys(heads)) + ": " + "; ".join(dict.fromkeys(paths))


def main() -> None:
    with test_database():
        from inventory.models import Channel
        from orders.models import Order
        from orders.selectors import order_search

        base_ids = baseline_levels(30)
        channels = [
            Channel.objects.create(code=code, name=code.title(), kind=kind, currency="EUR").pk
            for code, kind in (("web", "shopify"), ("amazon", "amazon"), ("ebay", "ebay"))
        ]
        started = time.perf_counter()
        written, indexed = load_postgresql(channels) if POSTGRES else load_sqlite(channels)
        analyze_started = time.perf_counter()
        analyze()
        analyzed = time.perf_counter() - analyze_started
        loaded = time.perf_counter() - started
        if Order.objects.count() != ORDERS:
            raise SystemExit(f"expected {ORDERS} orders, found {Order.objects.count()}")

        middle = ORDERS // 2
        first_name, last_name, _, phone = person(shopper_of(middle + 1))
        terms = [
            ("order number", str(100000 + middle)),
            ("e-mail fragment", person(shopper_of(middle))[2].split("@")[0]),
            ("last name", "Zimmermann"),
            ("SKU code", SKU_CODES[1234]),
            ("phone fragment", phone.split()[-1]),
            ("two words", f"{last_name} {first_name}"),
            ("misspelt (no match)", "Zimmermannn"),
        ]
        base, base_queries = baseline_latency(base_ids)
        size = ""
        if POSTGRES:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('orders_order'))")
                size = f", {cursor.fetchone()[0]} with indexes"

        print(
            f"order search on {describe_database()}: {ORDERS:,} orders{size} (loaded in "
            f"{loaded:.0f} s: {'COPY' if POSTGRES else 'bulk_create'} {written:.0f} s, indexes "
            f"{indexed:.0f} s, VACUUM ANALYZE {analyzed:.0f} s), first 50 newest first, "
            f"{ROUNDS} rounds after a warm-up"
        )
        print(f"{'baseline: 3-line order, 3 rows':<43} {latency(base)}  {base_queries} queries")
        worst = 0.0
        for label, term in terms:

            def search(term: str = term) -> list:
                return list(order_search(Order.objects.all(), term)[:50])

            found = len(search())
            rounds = ROUNDS
            samples: list[float] = []
            for _ in range(rounds):
                begin = time.perf_counter()
                search()
                samples.append((time.perf_counter() - begin) * 1000)
                if samples[0] > 2000:  # a slow plan: three rounds tell enough
                    rounds = 3
                    if len(samples) >= rounds:
                        break
            worst = max(worst, p50(samples))
            record(
                f"order_search, {label} (p50)",
                p50(samples),
                "ms",
                p50(base),
                "ms (p50, 1 connection)",
                higher_is_better=False,
                statements=count_queries(search),
                note=f"{ORDERS:,} orders",
            )
            print(
                f"{label + ' ' + repr(term):<43} {latency(samples)}  {found:>2} rows  "
                f"{ratio(p50(samples), p50(base))}  {target(p50(samples) < 100, 'p50 < 100 ms')}"
            )
            print(f"    plan: {plan_of(order_search(Order.objects.all(), term)[:50])}")
        print(target(worst < 100, "p50 < 100 ms for every term"))


if __name__ == "__main__":
    main()
