"""A hold on an order reaches its shipments: they are flagged while it lasts and resume after.

Invariants:
- a held order is not fulfilled: its shipments' commands refuse it under the order's lock
  (fulfilment.services.shipments.refuse_if_on_hold, 409 `order_on_hold`); this module only
  makes the hold visible in the shipment queue and undoes that on release;
- a hold flag is needs_attention with a message starting with HOLD_ATTENTION_PREFIX
  ("Order on hold: <the active holds>"); placing a hold flags every open shipment (pending,
  picking, packed, sent) that does not need attention for another reason: such a shipment
  keeps its own message, and a release never clears it;
- releasing the last hold clears exactly the hold flags, and the shipments it clears resume
  what the hold stopped: a packed shipment with a carrier asks for its labels again
  (shipment_label_retry) and a pending 3PL shipment with an active partner is handed off
  again (shipment_partner_resend), both through their own enqueueing after the commit; a
  cancelled order resumes nothing;
- everything runs in the hold's or release's transaction, under the order's lock (lock order
  Order -> Shipment, shipments by primary key).
"""

from __future__ import annotations

from fulfilment.models import Shipment
from fulfilment.services.labels import shipment_label_retry
from fulfilment.services.partners import shipment_partner_resend
from fulfilment.services.shipments import HOLD_ATTENTION_PREFIX, _lock, shipment_hold_flag
from fulfilment.states import OPEN, ShipmentStatus
from inventory.models import LocationKind
from oms.errors import Conflict
from orders.selectors import order_hold_reasons
from orders.services import order_get_for_update
from orders.states import OrderStatus


def held_problem(shipment: Shipment) -> str:
    """ "order N is on hold (its holds)", or "" when the shipment's order is not on hold."""
    if not shipment.order.is_on_hold:
        return ""
    reasons = "; ".join(order_hold_reasons(shipment.order_id)) or "hold"
    return f"order {shipment.order} is on hold ({reasons})"


def order_shipments_hold_flag(*, order_id: int, actor: str = "system") -> list[int]:
    """Flag the open shipments of a held order; returns the ids of those carrying a hold flag."""
    order_get_for_update(order_id)
    flagged = []
    for pk in (
        Shipment.objects.filter(order_id=order_id, status__in=OPEN)
        .order_by("pk")
        .values_list("pk", flat=True)
    ):
        if shipment_hold_flag(shipment=pk, actor=actor):
            flagged.append(pk)
    return flagged


def order_shipments_hold_clear(*, order_id: int, actor: str = "system") -> list[int]:
    """Clear the hold flags of a released order's shipments and resume them (labels asked for
    again, 3PL hand-off sent again); returns the ids of the shipments cleared.

    Does nothing while the order still has an active hold.
    """
    order = order_get_for_update(order_id)
    if order.is_on_hold:
        return []
    cleared = []
    for pk in (
        Shipment.objects.filter(
            order_id=order_id,
            needs_attention=True,
            attention_message__startswith=HOLD_ATTENTION_PREFIX,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    ):
        _order, shipment = _lock(pk)
        if not shipment.attention_message.startswith(HOLD_ATTENTION_PREFIX):
            continue  # flagged for another reason meanwhile
        cleared.append(pk)
        if order.status != OrderStatus.CANCELLED and _resume(shipment, actor):
            continue  # the resuming service cleared the flag
        shipment.needs_attention, shipment.attention_message = False, ""
        shipment.save(update_fields=["needs_attention", "attention_message"])
    return cleared


def _resume(shipment: Shipment, actor: str) -> bool:
    """Start again what the hold stopped; True when a service took the shipment on (and
    cleared its flag)."""
    if shipment.status == ShipmentStatus.PACKED and shipment.carrier:
        shipment_label_retry(shipment=shipment.pk, actor=actor)
        return True
    if (
        shipment.status == ShipmentStatus.PENDING
        and shipment.location.kind == LocationKind.THIRD_PARTY
    ):
        try:
            shipment_partner_resend(shipment=shipment.pk, actor=actor)
        except Conflict:
            return False  # no active partner with a secret: staff send it when there is one
        return True
    return False
