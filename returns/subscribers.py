"""Reactions of returns to the orders' domain events (subscribed in ReturnsConfig.ready)."""

from __future__ import annotations

from oms.outbox import outbox_enqueue
from orders.events import OrderCancelled
from orders.models import Order
from returns.services.refunds import CANCEL_REFUND_STATUSES


def refund_on_order_cancelled(event: OrderCancelled) -> None:
    """Cancelling a paid order uses the same refund service: once the cancellation commits,
    a task refunds the cancelled units' value (keyed by the cancellation, read here inside its
    transaction, so the same event delivered twice is one refund)."""
    from returns.services import cancellation_key

    paid = Order.objects.filter(
        pk=event.order_id, payment_status__in=CANCEL_REFUND_STATUSES
    ).exists()
    if not paid:
        return
    key, actor = cancellation_key(event.order_id, event.line_quantities)
    outbox_enqueue(
        "returns.refund_for_cancellation",
        order_id=event.order_id,
        line_quantities=[[int(line), int(q)] for line, q in event.line_quantities],
        full=event.full,
        reason=event.reason,
        idempotency_key=key,
        actor=actor,
    )
