from __future__ import annotations

import copy
from typing import Any

import pytest

from inventory import services as stock
from tests.factories import ChannelFactory, LocationFactory, SkuFactory

PAYLOAD: dict[str, Any] = {
    "channel": "web",
    "external_id": "1001",
    "currency": "EUR",
    "placed_at": "2026-11-20T10:00:00+01:00",
    "customer": {
        "email": "Anna.Schmidt@Example.com",
        "first_name": "Anna",
        "last_name": "Schmidt",
        "phone": "+49 30 1234567",
    },
    "shipping_address": {
        "name": "Anna Schmidt",
        "line1": "Torstraße 1",
        "city": "Berlin",
        "postal_code": "10119",
        "country": "DE",
    },
    "lines": [
        {"sku": "TEE-1", "quantity": 2, "unit_price": "19.95", "discount": "0.00", "tax": "0.00"},
        {"sku": "MUG-1", "quantity": 1, "unit_price": "9.90", "discount": "1.00", "tax": "0.00"},
    ],
    "shipping_price": "4.95",
    "payment_status": "paid",
    "notes": "",
}


@pytest.fixture
def payload() -> dict[str, Any]:
    return copy.deepcopy(PAYLOAD)


@pytest.fixture
def catalogue(db):
    wh = LocationFactory(code="WH")
    channel = ChannelFactory(code="web", currency="EUR", locations=[wh])
    tee, mug = SkuFactory(code="TEE-1"), SkuFactory(code="MUG-1")
    for sku in (tee, mug):
        stock.stock_adjust(sku=sku, location=wh, kind="receipt", quantity=20)
    return {"channel": channel, "wh": wh, "tee": tee, "mug": mug}


# --- Fixtures of the lifecycle, transition, FX, concurrency and API tests ----------------------


@pytest.fixture
def capture_order(catalogue):
    """Capture an order through the service: PAYLOAD with `changes`, a new external id each."""
    import itertools

    from orders.services import order_capture

    numbers = itertools.count(1)

    def capture(**changes: Any):
        data = copy.deepcopy(PAYLOAD)
        data["external_id"] = f"T-{next(numbers)}"
        data.update(changes)
        return order_capture(channel=data.pop("channel"), **data).order

    return capture


@pytest.fixture
def advance(catalogue):
    """Bring a freshly captured order to a status through the real services (stock included).

    allocated: every line reserved at WH; backordered: one unit of line 1 only;
    partially_shipped: all allocated, line 1 shipped; shipped, delivered, completed: all shipped
    (then marked); cancelled: cancelled in full.
    """
    from orders import services

    wh = catalogue["wh"]

    def go(order, status: str):
        lines = list(order.lines.order_by("line_number"))
        if status == "backordered":
            services.order_allocate(order=order, allocations=[(lines[0].pk, wh.pk, 1)])
        elif status != "pending" and status != "cancelled":
            services.order_allocate(
                order=order, allocations=[(ln.pk, wh.pk, ln.quantity) for ln in lines]
            )
        if status == "partially_shipped":
            services.order_ship(order=order, shipped=[(lines[0].pk, wh.pk, lines[0].quantity)])
        if status in ("shipped", "delivered", "completed"):
            services.order_ship(order=order, shipped=[(ln.pk, wh.pk, ln.quantity) for ln in lines])
        if status in ("delivered", "completed"):
            services.order_status_set(order=order, status="delivered")
        if status == "completed":
            services.order_status_set(order=order, status="completed")
        if status == "cancelled":
            services.order_cancel(order=order)
        order.refresh_from_db()
        assert order.status == status
        return order

    return go


@pytest.fixture
def published():
    """The orders' domain events published during the test (subscribed for the test only)."""
    from oms import events
    from orders.events import OrderAddressChanged, OrderCancelled

    seen: list[Any] = []

    def record(event: Any) -> None:
        seen.append(event)

    kinds = (OrderCancelled, OrderAddressChanged)
    for kind in kinds:
        events.subscribe(kind, record)
    yield seen
    for kind in kinds:
        events.unsubscribe(kind, record)


@pytest.fixture
def orders_roles_granted(db):
    """Grant the roles their orders permissions, as a second `migrate` would.

    Whether a single `migrate` grants them depends on where the migration planner happens to run
    oms.0002_roles (see test_api.py::test_migrate_grants_the_roles_the_permissions_of_new_order_
    models); the API tests must not depend on that.
    """
    from django.apps import apps

    from oms.roles import roles_sync

    roles_sync(apps)


class RoutingRecorder:
    """Stands in for fulfilment's routing port: records what the orders services ask for."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []

    def route(self, *, order_id: int, trigger: str, actor: str = "system") -> None:
        self.calls.append((order_id, trigger))

    def reroute(self, *, order_id: int, trigger: str, actor: str = "system") -> None:
        self.calls.append((order_id, f"reroute:{trigger}"))


@pytest.fixture(autouse=True)
def routing_calls():
    """The orders app is tested on its own layer: fulfilment's routing port is replaced by a
    recorder (the calls it received, (order id, trigger)), and fulfilment's reactions to its
    events (shrinking shipments on cancel, flagging and resuming shipments on hold and
    release) are switched off; all of them are tested in tests/fulfilment."""
    from fulfilment import subscribers
    from oms import events
    from orders.events import OrderCancelled, OrderHeld, OrderReleased
    from orders.ports import routing_register

    recorder = RoutingRecorder()
    previous = routing_register(recorder)
    pairs = [
        (OrderCancelled, subscribers.shrink_on_cancel),
        (OrderHeld, subscribers.flag_shipments_on_hold),
        (OrderReleased, subscribers.resume_shipments_on_release),
    ]
    active = [(e, h) for e, h in pairs if h in events.handlers_for(e)]
    for event, handler in active:
        events.unsubscribe(event, handler)
    yield recorder.calls
    routing_register(previous)
    for event, handler in active:
        events.subscribe(event, handler)
