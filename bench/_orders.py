"""Helpers of the order benchmarks; not a benchmark itself (`make bench` skips bench/_*.py).

Import it after bench/_common.py (which sets up Django). It provides a web shop (a channel fed
by warehouses in German cities, SKUs with plenty of stock), realistic order payloads (German
names, addresses without coordinates, so that routing geocodes them as it would a shop's order),
the status distribution of the orders a benchmark created, and a per-statement profile.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

# (city, postal code, latitude, longitude): destinations, and where the warehouses are.
CITIES = [
    ("Berlin", "10117", 52.5244, 13.4105),
    ("Hamburg", "20095", 53.5507, 9.9930),
    ("Munich", "80331", 48.1374, 11.5755),
    ("Köln", "50667", 50.9333, 6.9500),
    ("Frankfurt am Main", "60311", 50.1155, 8.6842),
    ("Düsseldorf", "40213", 51.2232, 6.7793),
    ("Stuttgart", "70173", 48.7823, 9.1770),
    ("Essen", "45127", 51.4566, 7.0123),
    ("Dortmund", "44135", 51.5149, 7.4660),
    ("Dresden", "01067", 51.0509, 13.7383),
    ("Bremen", "28195", 53.0758, 8.8072),
    ("Nuremberg", "90402", 49.4542, 11.0775),
    ("Hannover", "30159", 52.3705, 9.7332),
    ("Leipzig", "04109", 51.3396, 12.3713),
    ("Bielefeld", "33602", 52.0333, 8.5333),
    ("Bonn", "53111", 50.7344, 7.0955),
    ("Münster", "48143", 51.9624, 7.6257),
    ("Mannheim", "68159", 49.4891, 8.4669),
    ("Augsburg", "86150", 48.3715, 10.8985),
    ("Karlsruhe", "76133", 49.0094, 8.4044),
]


def _words(text: str) -> list[str]:
    return text.split()


FIRST_NAMES = _words(
    "Anna Lena Marie Sophie Laura Julia Hannah Lea Emma Mia Lukas Leon Finn Jonas Paul Felix "
    "Maximilian Elias Noah Ben Thomas Michael Andreas Stefan Sabine Petra Claudia Katrin Jan Tim"
)
LAST_NAMES = _words(
    "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch "
    "Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann "
    "Lange Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler Herrmann König "
    "Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn Schubert Vogel "
    "Friedrich Keller Günther Frank Berger Winkler Roth Beck Lorenz Baumann Franke Albrecht "
    "Schuster Simon Ludwig Böhm Winter Kraus Martin Schumacher Krämer Vogt Stein Jäger Otto Sommer "
    "Groß Seidel Heinrich Brandt Haas Schreiber Graf Schulte Dietrich Ziegler Kuhn Kühn Pohl Engel "
    "Horn Busch Bergmann Thomas Voigt Sauer Arnold Wolff Pfeiffer"
)
STREETS = _words(
    "Hauptstraße Schulstraße Gartenweg Bahnhofstraße Dorfstraße Bergstraße Lindenallee"
)


def person(n: int) -> tuple[str, str, str, str]:
    """(first name, last name, e-mail, phone) of shopper n: a few hundred thousand distinct."""
    first = FIRST_NAMES[n % len(FIRST_NAMES)]
    last = LAST_NAMES[(n // len(FIRST_NAMES)) % len(LAST_NAMES)]
    ascii_last = last.lower().translate(str.maketrans({"ü": "ue", "ö": "oe", "ä": "ae", "ß": "ss"}))
    email = f"{first.lower()}.{ascii_last}{n % 997}@example.de"
    phone = f"+49 {30 + n % 70} {1000000 + (n * 7919) % 9000000}"
    return first, last, email, phone


def order_payload(
    n: int,
    sku_codes: Sequence[str],
    *,
    lines: int = 3,
    prefix: str = "B",
    payment_status: str = "paid",
    shopper: int | None = None,
) -> dict[str, Any]:
    """Order n of a channel: `lines` distinct SKUs of `sku_codes` (picked by n), JSON-ready."""
    first, last, email, phone = person(n if shopper is None else shopper)
    city, postal, _, _ = CITIES[n % len(CITIES)]
    picked = [sku_codes[(n * 7 + k * 104729) % len(sku_codes)] for k in range(lines)]
    if len(set(picked)) < lines:  # tiny catalogues: take neighbours instead
        picked = [sku_codes[(n + k) % len(sku_codes)] for k in range(lines)]
    return {
        "external_id": f"{prefix}-{n}",
        "external_number": f"#{10000 + n}",
        "currency": "EUR",
        "customer": {"email": email, "first_name": first, "last_name": last, "phone": phone},
        "shipping_address": {
            "name": f"{first} {last}",
            "line1": f"{STREETS[n % len(STREETS)]} {1 + n % 120}",
            "city": city,
            "postal_code": postal,
            "country": "DE",
        },
        "lines": [
            {"sku": code, "quantity": 1 + (n + k) % 2, "unit_price": f"{9.95 + k * 5:.2f}"}
            for k, code in enumerate(picked)
        ],
        "shipping_price": "4.95",
        "payment_status": payment_status,
    }


def warehouses(count: int, prefix: str, *, kind: str = "warehouse", priority: int = 10) -> list:
    """`count` locations at the coordinates of CITIES (cycled), shipping online."""
    from inventory.models import Location

    Location.objects.bulk_create(
        Location(
            code=f"{prefix}-{i}",
            name=f"{prefix} {CITIES[i % len(CITIES)][0]} {i}",
            kind=kind,
            city=CITIES[i % len(CITIES)][0],
            country="DE",
            latitude=Decimal(f"{CITIES[i % len(CITIES)][2] + (i // len(CITIES)) * 0.05:.6f}"),
            longitude=Decimal(f"{CITIES[i % len(CITIES)][3] + (i // len(CITIES)) * 0.05:.6f}"),
            priority=priority,
        )
        for i in range(count)
    )
    return list(Location.objects.filter(code__startswith=f"{prefix}-").order_by("pk"))


def shop(*, skus: int, locations: int, stock: int, prefix: str = "SHOP") -> tuple[Any, list]:
    """A channel "web" fed by `locations` warehouses holding `stock` of each of `skus` SKUs.

    Returns the channel and the SKU codes. Stock is loaded with its ledger (one receipt each).
    """
    from _common import make_skus, stock_up

    from channels.services import channel_create

    catalogue = make_skus(skus, prefix)
    sites = warehouses(locations, prefix)
    stock_up(catalogue, sites, lambda i, j: stock)
    channel = channel_create(code="web", name="Web", kind="api", currency="EUR", locations=sites)
    return channel, [sku.code for sku in catalogue]


def routing_on_capture() -> bool:
    """Whether fulfilment filled in the orders' routing port (captured orders are routed)."""
    from orders.ports import routing_port

    return routing_port() is not None


def status_distribution(orders: Any) -> str:
    """'allocated 290, backordered 10, pending 0 (on hold 0)' of an Order queryset."""
    from django.db.models import Count

    counts = Counter(
        dict(orders.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    )
    held = orders.filter(is_on_hold=True).count()
    main = ", ".join(f"{s} {counts.pop(s, 0)}" for s in ("pending", "allocated", "backordered"))
    rest = "".join(f", {s} {n}" for s, n in sorted(counts.items()))
    return f"{main}{rest} (on hold {held})"


# --- where the statements go ----------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    label: str  # "SELECT orders_customer"
    count: float  # per call
    ms: float  # per call


_TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)


def statement_label(sql: str) -> str:
    verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
    if verb in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"):
        return verb
    match = _TABLE.search(sql)
    return f"{verb} {match.group(1) if match else ''}".strip()


def profile(calls: Iterable[Callable[[], object]]) -> tuple[int, float, float, list[Statement]]:
    """Run the calls and watch their statements: (calls made, database ms per call, this
    process's CPU ms per call, statements per call by label, slowest first). Database time is
    the wall time each statement and COMMIT took from the client (round trip, driver and any
    wait for a CPU included), timed with perf_counter; BEGIN and savepoints are counted, not
    timed (psycopg sends BEGIN with the first statement).
    """
    count: dict[str, int] = defaultdict(int)
    waited: dict[str, float] = defaultdict(float)

    def timer(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            waited[statement_label(sql)] += time.perf_counter() - start

    commit = connection._commit

    def timed_commit() -> Any:
        start = time.perf_counter()
        try:
            return commit()
        finally:
            waited["COMMIT"] += time.perf_counter() - start

    made = 0
    cpu = time.process_time()
    connection._commit = timed_commit  # type: ignore[method-assign]
    try:
        with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(timer):
            for call in calls:
                call()
                made += 1
    finally:
        del connection._commit
    cpu = time.process_time() - cpu
    for query in ctx.captured_queries:
        count[statement_label(query["sql"])] += 1
    made = max(made, 1)
    statements = [
        Statement(label, n / made, waited.get(label, 0.0) * 1000 / made)
        for label, n in count.items()
    ]
    statements.sort(key=lambda st: (-st.ms, -st.count, st.label))
    return made, sum(waited.values()) * 1000 / made, cpu * 1000 / made, statements


def profile_text(statements: Sequence[Statement], limit: int = 30) -> str:
    return ", ".join(
        f"{st.label}{f' x{st.count:.3g}' if st.count != 1 else ''} {st.ms:.2f}"
        for st in itertools.islice(statements, limit)
    )
