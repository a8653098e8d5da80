"""The domain events of the apps below, recorded as integrator events (webhooks.services).

Each handler is subscribed with `oms.events.subscribe_many`: a batch that publishes many events
(a page of orders captured or routed together) records them in one go."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fulfilment.events import ShipmentCreated, ShipmentDelivered, ShipmentException, ShipmentShipped
from inventory.events import StockChanged
from inventory.selectors import stock_level_list
from oms import events
from orders.events import (
    OrderCancelled,
    OrderCaptured,
    OrderHeld,
    OrderReleased,
    OrderStatusChanged,
)
from returns.events import RefundFailed, RefundSucceeded, ReturnCreated, ReturnReceived
from webhooks.services.recording import Raised, events_record, represent

#: domain event class -> (event type, object type, the attribute holding the object's id)
SIMPLE: dict[type, tuple[str, str, str]] = {
    OrderCaptured: ("order.created", "order", "order_id"),
    OrderStatusChanged: ("order.status_changed", "order", "order_id"),
    OrderHeld: ("order.held", "order", "order_id"),
    OrderReleased: ("order.released", "order", "order_id"),
    OrderCancelled: ("order.cancelled", "order", "order_id"),
    ShipmentCreated: ("shipment.created", "shipment", "shipment_id"),
    ShipmentShipped: ("shipment.shipped", "shipment", "shipment_id"),
    ShipmentDelivered: ("shipment.delivered", "shipment", "shipment_id"),
    ShipmentException: ("shipment.exception", "shipment", "shipment_id"),
    ReturnCreated: ("return.created", "return", "return_id"),
    ReturnReceived: ("return.received", "return", "return_id"),
    RefundSucceeded: ("refund.succeeded", "refund", "refund_id"),
    RefundFailed: ("refund.failed", "refund", "refund_id"),
}


def _simple(event_type: str, object_type: str, attribute: str) -> Callable[[Sequence[Any]], None]:
    def record(found: Sequence[Any]) -> None:
        events_record(Raised(event_type, object_type, int(getattr(e, attribute))) for e in found)

    record.__name__ = f"record_{event_type.replace('.', '_')}"
    return record


_HANDLERS = {klass: _simple(*spec) for klass, spec in SIMPLE.items()}


def record_stock_changed(found: Sequence[StockChanged]) -> None:
    """One stock.changed per stock level (SKU at a location) among the pairs, read once."""
    pairs = {pair for event in found for pair in event.pairs}
    if not pairs:
        return
    levels = sorted(
        (
            level
            for level in stock_level_list().filter(
                sku_id__in={s for s, _ in pairs}, location_id__in={loc for _, loc in pairs}
            )
            if (level.sku_id, level.location_id) in pairs
        ),
        key=lambda level: level.pk,
    )
    events_record(
        (Raised("stock.changed", "stock_level", level.pk) for level in levels),
        represented=represent("stock_level", levels),
    )


def subscribe_all() -> None:
    for klass, handler in _HANDLERS.items():
        events.subscribe_many(klass, handler)
    events.subscribe_many(StockChanged, record_stock_changed)
