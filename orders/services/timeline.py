"""The order timeline: one append-only OrderEvent per fact."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from orders.models import Order, OrderEvent


def order_event_add(*, order: Order, kind: str, actor: str = "system", **data: Any) -> OrderEvent:
    """Append an event to the order's timeline (in the caller's transaction)."""
    return OrderEvent.objects.create(
        order=order, kind=kind, actor=actor, data=data, created_at=timezone.now()
    )
