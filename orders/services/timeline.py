"""The order timeline: one append-only OrderEvent per fact.

Every status change of an order is written here (`status_changed`, by whichever command or
batch made it): this is where OrderStatusChanged is published, in the same transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from oms import events
from orders.events import OrderStatusChanged
from orders.models import Order, OrderEvent

STATUS_CHANGED = "status_changed"


def _status_changes(rows: Iterable[OrderEvent]) -> None:
    """Publish OrderStatusChanged for the status changes among `rows` (written)."""
    changes = [
        OrderStatusChanged(
            order_id=row.order_id,
            previous=str(row.data.get("from", "")),
            status=str(row.data["to"]),
        )
        for row in rows
        if row.kind == STATUS_CHANGED
    ]
    if changes:
        events.publish_many(changes)


def order_event_add(*, order: Order, kind: str, actor: str = "system", **data: Any) -> OrderEvent:
    """Append an event to the order's timeline (in the caller's transaction)."""
    event = OrderEvent.objects.create(
        order=order, kind=kind, actor=actor, data=data, created_at=timezone.now()
    )
    _status_changes([event])
    return event


def order_events_add(
    *, order: Order, entries: Iterable[tuple[str, str, dict[str, Any]]]
) -> list[OrderEvent]:
    """Append several events, (kind, actor, data) each, in that order, in one INSERT."""
    now = timezone.now()
    rows = [
        OrderEvent(order=order, kind=kind, actor=actor, data=data, created_at=now)
        for kind, actor, data in entries
    ]
    created = OrderEvent.objects.bulk_create(rows) if rows else []
    _status_changes(rows)
    return created


def orders_events_add(
    *, entries: Iterable[tuple[Order, str, str, dict[str, Any]]]
) -> list[OrderEvent]:
    """Append events of several orders, (order, kind, actor, data) each, in that order, in one
    INSERT (a batch of orders routed together)."""
    now = timezone.now()
    rows = [
        OrderEvent(order=order, kind=kind, actor=actor, data=data, created_at=now)
        for order, kind, actor, data in entries
    ]
    created = OrderEvent.objects.bulk_create(rows) if rows else []
    _status_changes(rows)
    return created
