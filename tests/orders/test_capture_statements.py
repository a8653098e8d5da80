"""How many SQL statements capturing and routing an order costs (issue 16).

The scenario of the issue's measurements: `POST /api/v1/orders/` with 3 lines for a known
customer, each SKU in stock at the channel's 3 locations, no holds; the order is captured
(committed) and then routed in its own transaction through fulfilment's real routing port.
The counts are exact, per database vendor: a change that adds a statement to the hot path
fails here and prints the numbered statements. Reference data is cached per process, so each
count is taken on a second order, once the first has warmed the caches.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory import services as stock
from oms.roles import MANAGER
from orders.models import Customer, Order
from tests.conftest import token_client
from tests.factories import ChannelFactory, LocationFactory, SkuFactory

# The integrator events (webhooks/, issue 19) are outbox messages in these transactions: in the
# capture they join the conversion's INSERT (free); routing wrote no outbox message of its own,
# so theirs is one INSERT more, which PostgreSQL pays for by writing the lines' and the order's
# UPDATEs as one statement (oms.sql.rows_update_many). SQLite has no data-modifying CTEs: +1.
#: Statements of one POST /api/v1/orders/ (3 lines, known customer, stock at 3 locations).
CAPTURE_STATEMENTS = {"postgresql": 20, "sqlite": 22}
#: The same with an Idempotency-Key.
CAPTURE_IDEMPOTENT_STATEMENTS = {"postgresql": 22, "sqlite": 24}
#: Statements of one routing decision (the port's route of a captured order).
ROUTING_STATEMENTS = {"postgresql": 13, "sqlite": 15}


def statement_list(queries: list[dict[str, Any]]) -> str:
    return "\n".join(f"{n:3d}. {q['sql'][:400]}" for n, q in enumerate(queries, start=1))


def assert_statements(context: CaptureQueriesContext, expected: dict[str, int]) -> None:
    want = expected[connection.vendor]
    got = len(context.captured_queries)
    assert got == want, (
        f"{got} statements on {connection.vendor}, expected {want}:\n"
        + statement_list(context.captured_queries)
    )


@pytest.fixture
def real_routing(routing_calls: list[Any]) -> Iterator[None]:
    """Fulfilment's routing port, as in production (tests/orders replaces it by default)."""
    from fulfilment.services.routing_port import RoutingPort
    from orders.ports import routing_register

    previous = routing_register(RoutingPort())
    yield
    routing_register(previous)


@pytest.fixture
def shop(db: None, real_routing: None, orders_roles_granted: None) -> dict[str, Any]:
    def loc(code: str, lat: str, lon: str) -> Any:
        return LocationFactory(
            code=code, country="DE", latitude=Decimal(lat), longitude=Decimal(lon)
        )

    sites = [
        loc("BER", "52.520000", "13.405000"),
        loc("HAM", "53.551100", "9.993700"),
        loc("MUC", "48.137200", "11.575600"),
    ]
    ChannelFactory(code="web", currency="EUR", kind="api", locations=sites)
    skus = [SkuFactory(code=f"S-{n}") for n in range(1, 4)]
    for sku in skus:
        for site in sites:
            stock.stock_adjust(sku=sku, location=site, kind="receipt", quantity=1000)
    Customer.objects.create(email="anna@example.de", first_name="Anna", last_name="Schmidt")
    return {"sites": sites, "skus": skus}


_numbers = itertools.count(1)


def payload() -> dict[str, Any]:
    return {
        "channel": "web",
        "external_id": f"ST-{next(_numbers)}",
        "currency": "EUR",
        "customer": {"email": "anna@example.de", "first_name": "Anna", "last_name": "Schmidt"},
        "shipping_address": {
            "name": "Anna Schmidt",
            "line1": "Torstraße 1",
            "city": "Berlin",
            "postal_code": "10119",
            "country": "DE",
        },
        "lines": [
            {"sku": f"S-{n}", "quantity": 1 + n % 2, "unit_price": "19.95"} for n in range(1, 4)
        ],
        "shipping_price": "4.95",
        "payment_status": "paid",
    }


def post(client: Any, headers: dict[str, str] | None = None) -> Any:
    response = client.post("/api/v1/orders/", payload(), format="json", headers=headers or {})
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "allocated"
    assert response.json()["hold_reasons"] == []
    return response


@pytest.mark.django_db(transaction=True)
def test_capture_over_http_costs_a_known_number_of_statements(shop: dict[str, Any]) -> None:
    client = token_client(MANAGER)
    post(client)  # warms the per-process caches
    with CaptureQueriesContext(connection) as context:
        response = post(client)
    assert_statements(context, CAPTURE_STATEMENTS)
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == "allocated"


@pytest.mark.django_db(transaction=True)
def test_capture_with_an_idempotency_key_costs_a_known_number_of_statements(
    shop: dict[str, Any],
) -> None:
    client = token_client(MANAGER)
    post(client, {"Idempotency-Key": "warm"})
    with CaptureQueriesContext(connection) as context:
        post(client, {"Idempotency-Key": "measured"})
    assert_statements(context, CAPTURE_IDEMPOTENT_STATEMENTS)


@pytest.mark.django_db(transaction=True)
def test_routing_decision_costs_a_known_number_of_statements(
    shop: dict[str, Any], routing_calls: list[Any]
) -> None:
    from orders.services import order_capture
    from orders.services.routing import order_route_now

    def captured() -> Order:
        data = payload()
        order = order_capture(channel=data.pop("channel"), **data).order
        return order

    # Routed on capture already: measure a decision on orders captured with routing off.
    from orders.ports import routing_register

    previous = routing_register(None)
    try:
        first, second = captured(), captured()
    finally:
        routing_register(previous)
    assert order_route_now(order_id=first.pk, trigger="captured")  # warms the caches
    with CaptureQueriesContext(connection) as context:
        assert order_route_now(order_id=second.pk, trigger="captured")
    assert_statements(context, ROUTING_STATEMENTS)
    second.refresh_from_db()
    assert second.status == "allocated"
