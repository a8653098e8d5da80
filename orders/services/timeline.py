"""The order timeline: one append-only OrderEvent per fact."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from orders.models import Order, OrderEvent


def order_event_add(*, order: Order, kind: str, actor: str = "system", **data: Any) -> OrderEvent:
    """Append an event to the order's timeline (in the caller's transaction)."""
    return OrderEvent.objects.create(
        order=order, kind=kind, actor=actor, data=data, created_at=timezone.now()
    )


def order_events_add(
    *, order: Order, entries: Iterable[tuple[str, str, dict[str, Any]]]
) -> list[OrderEvent]:
    """Append several events, (kind, actor, data) each, in that order, in one INSERT."""
    now = timezone.now()
    rows = [
        OrderEvent(order=order, kind=kind, actor=actor, data=data, created_at=now)
        for kind, actor, data in entries
    ]
    return OrderEvent.objects.bulk_create(rows) if rows else []


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
    return OrderEvent.objects.bulk_create(rows) if rows else []
