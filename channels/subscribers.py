"""How the channels app reacts to events of the apps below it: it writes pushes to the outbox.

Invariant: only orders of a channel with a connector are pushed (shipments, our
cancellations, refunds another provider paid back); a cancellation the channel
itself asked for is not echoed back to it.
"""

from __future__ import annotations

import uuid

from channels.services.push import order_connected
from channels.services.sync import CHANNEL_CANCEL_PREFIX
from fulfilment.events import ShipmentShipped
from oms.outbox import outbox_enqueue
from orders.events import OrderCancelled
from returns.events import RefundSucceeded


def _connected(order_id: int) -> bool:
    return order_connected(order_id)


def push_on_shipment_shipped(event: ShipmentShipped) -> None:
    if not _connected(event.order_id):
        return
    outbox_enqueue("channels.shipment_push", shipment_id=event.shipment_id)


def push_on_order_cancelled(event: OrderCancelled) -> None:
    if event.reason.startswith(CHANNEL_CANCEL_PREFIX) or not _connected(event.order_id):
        return
    reference = f"cancel-{event.order_id}-{uuid.uuid4().hex[:12]}"
    lines = [] if event.full else [[pk, q] for pk, q in event.line_quantities]
    outbox_enqueue(
        "channels.cancel_push",
        order_id=event.order_id,
        reference=reference,
        reason=event.reason,
        lines=lines,
    )


def push_on_refund_succeeded(event: RefundSucceeded) -> None:
    # A refund the channel paid back itself (payment provider "channel") is known to it already.
    if event.provider == "channel" or not _connected(event.order_id):
        return
    outbox_enqueue(
        "channels.refund_push",
        order_id=event.order_id,
        reference=event.reference,
        amount=event.amount,
        currency=event.currency,
        reason=event.reason,
    )
