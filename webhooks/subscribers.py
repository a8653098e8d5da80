"""The domain events of the apps below, noted for the webhooks worker (webhooks.services).

In the changing transaction a handler reads nothing and serialises nothing: it writes one outbox
message per event (`webhooks.event_record`: the event type, the object, when, and a small
`change`), which joins the INSERT of the transaction's other messages when the change runs in
an `outbox_batch()` (capture, routing, a sync page). The worker records the `Event` from it
(webhooks.services.recording). Each handler is subscribed with `oms.events.subscribe_many`, so a
batch that publishes many events writes their messages in one go."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.utils import timezone

from fulfilment.events import ShipmentCreated, ShipmentDelivered, ShipmentException, ShipmentShipped
from inventory.events import StockChanged
from oms import events
from oms.outbox import outbox_batch, outbox_enqueue
from orders.events import (
    OrderCancelled,
    OrderCaptured,
    OrderHeld,
    OrderReleased,
    OrderStatusChanged,
)
from returns.events import RefundFailed, RefundSucceeded, ReturnCreated, ReturnReceived
from webhooks.models import STOCK_CHANGED
from webhooks.services.recording import RECORD_TASK


def _no_change(_: Any) -> dict[str, Any]:
    return {}


#: domain event class -> (event type, object type, the attribute holding the object's id, what
#: changed: a small dict from the domain event, never read from the database)
SIMPLE: dict[type, tuple[str, str, str, Callable[[Any], dict[str, Any]]]] = {
    OrderCaptured: ("order.created", "order", "order_id", _no_change),
    OrderStatusChanged: (
        "order.status_changed",
        "order",
        "order_id",
        lambda e: {"from": e.previous, "to": e.status},
    ),
    OrderHeld: ("order.held", "order", "order_id", lambda e: {"reason": e.reason}),
    OrderReleased: ("order.released", "order", "order_id", lambda e: {"reasons": list(e.reasons)}),
    OrderCancelled: (
        "order.cancelled",
        "order",
        "order_id",
        lambda e: {"full": e.full, "reason": e.reason},
    ),
    ShipmentCreated: ("shipment.created", "shipment", "shipment_id", _no_change),
    ShipmentShipped: ("shipment.shipped", "shipment", "shipment_id", _no_change),
    ShipmentDelivered: ("shipment.delivered", "shipment", "shipment_id", _no_change),
    ShipmentException: (
        "shipment.exception",
        "shipment",
        "shipment_id",
        lambda e: {"description": e.description},
    ),
    ReturnCreated: ("return.created", "return", "return_id", _no_change),
    ReturnReceived: ("return.received", "return", "return_id", lambda e: {"status": e.status}),
    RefundSucceeded: (
        "refund.succeeded",
        "refund",
        "refund_id",
        lambda e: {"amount": e.amount, "currency": e.currency},
    ),
    RefundFailed: ("refund.failed", "refund", "refund_id", lambda e: {"failure": e.failure}),
}


def _now() -> str:
    return timezone.now().isoformat()


def _simple(
    event_type: str, object_type: str, attribute: str, change: Callable[[Any], dict[str, Any]]
) -> Callable[[Sequence[Any]], None]:
    def record(found: Sequence[Any]) -> None:
        at = _now()
        with outbox_batch():  # joins the change's own batch, if it has one
            for e in found:
                outbox_enqueue(
                    RECORD_TASK,
                    event_type=event_type,
                    object_type=object_type,
                    object_id=int(getattr(e, attribute)),
                    occurred_at=at,
                    change=change(e),
                )

    record.__name__ = f"record_{event_type.replace('.', '_')}"
    return record


_HANDLERS = {klass: _simple(*spec) for klass, spec in SIMPLE.items()}


def record_stock_changed(found: Sequence[StockChanged]) -> None:
    """One stock.changed per stock level (SKU at a location) among the pairs; the worker finds
    the level (its id is the event's object id)."""
    pairs = sorted({pair for event in found for pair in event.pairs})
    if not pairs:
        return
    at = _now()
    with outbox_batch():
        for sku_id, location_id in pairs:
            outbox_enqueue(
                RECORD_TASK,
                event_type=STOCK_CHANGED,
                object_type="stock_level",
                object_id=0,
                sku_id=sku_id,
                location_id=location_id,
                occurred_at=at,
                change={},
            )


def subscribe_all() -> None:
    for klass, handler in _HANDLERS.items():
        events.subscribe_many(klass, handler)
    events.subscribe_many(StockChanged, record_stock_changed)
