"""Reactions of returns to the orders' and fulfilment's domain events (subscribed in
ReturnsConfig.ready): each writes a task to the outbox inside the publisher's transaction."""

from __future__ import annotations

from fulfilment.events import ShipmentShipped
from oms.outbox import outbox_enqueue
from orders.events import OrderCancelled
from orders.models import Order
from returns.services.payments import CAPTURE_TASK, VOID_TASK, capture_key
from returns.services.refunds import CANCEL_REFUND_STATUSES


def refund_on_order_cancelled(event: OrderCancelled) -> None:
    """Cancelling a paid order uses the same refund service: once the cancellation commits,
    a task refunds the cancelled units' value (keyed by the cancellation, read here inside its
    transaction, so the same event delivered twice is one refund). Units paid back already
    (refunded on the channel: `event.refund` False) are not refunded again."""
    from returns.services import cancellation_key

    if not event.refund:
        return
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


def _captured_on_shipment(order_id: int) -> bool:
    return Order.objects.filter(
        pk=order_id, channel__capture_on_shipment=True, payments__kind="authorization"
    ).exists()


def capture_on_shipment_shipped(event: ShipmentShipped) -> None:
    """A shipment of an order captured on shipment left: a task captures what it shipped."""
    if _captured_on_shipment(event.order_id):
        outbox_enqueue(
            CAPTURE_TASK, shipment_id=event.shipment_id, dedupe_key=capture_key(event.shipment_id)
        )


def void_on_order_cancelled(event: OrderCancelled) -> None:
    """Units of an order captured on shipment were cancelled: a task voids what is left of its
    authorisation once nothing is left to ship (it checks)."""
    if _captured_on_shipment(event.order_id):
        outbox_enqueue(VOID_TASK, order_id=event.order_id)
