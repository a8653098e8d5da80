"""Exchanges: the replacement order of a return's exchanged lines.

Invariants:
- one replacement order per return: it is captured through orders.services.order_capture on
  the order's channel with the external id "<return number>-X" (capture is idempotent per
  channel and external id) and linked to the return once (`exchange_order`, unique), so running
  this twice, or concurrently, gives one order;
- it is routed and fulfilled like any order (capture hands it to routing);
- pricing: the exchanged lines' credit is what the shopper paid for their units (see
  returns.services._common.units_paid: a line's total split over its units to the cent);
  when the replacements cost no more than the credit, the order is free (prices 0, payment
  `paid`); when they cost more, the order charges the difference (each line at its price, the
  credit given as line discounts, payment `pending`, which holds the order until it is paid)
  and a note in its timeline says so. A credit left over is refunded with the return
  (returns.services.refunds);
- the capture happens outside any lock of the return (capture locks stock rows, which come
  before returns in the lock order); only the link is written under the locks.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from oms.errors import NotFound, ValidationFailed
from oms.money import round_money
from orders.models import Order
from orders.services import order_capture, order_event_add, order_get_for_update, order_note_add
from orders.states import PaymentStatus
from returns.models import ReturnRequest
from returns.services._common import (
    ZERO,
    lock_return,
    return_id_of,
    return_line_starts,
    units_paid,
)


def exchange_external_id(ret: ReturnRequest) -> str:
    return f"{ret.number}-X"


def _payload(ret: ReturnRequest) -> tuple[dict[str, Any], Decimal]:
    """The capture arguments of the replacement order and the amount it charges."""
    order = ret.order
    return_lines = list(ret.lines.select_related("order_line", "exchange_sku").order_by("id"))
    lines = [rl for rl in return_lines if rl.is_exchange and rl.exchange_sku is not None]
    if not lines:
        raise ValidationFailed(f"Return {ret.number} asks for no exchange.")
    starts = return_line_starts(ret, return_lines)
    credit = sum(
        (units_paid(rl.order_line, order, starts[rl.pk], rl.quantity) for rl in lines), ZERO
    )
    prices = [(rl, round_money(rl.exchange_unit_price or ZERO, order.currency)) for rl in lines]
    cost = sum((price * rl.exchange_quantity for rl, price in prices), ZERO)
    difference = max(cost - credit, ZERO)
    order_lines = []
    left = credit
    for rl, price in prices:
        sku = rl.exchange_sku
        assert sku is not None  # filtered above
        if difference == 0:
            unit, discount = ZERO, ZERO
        else:
            unit = price
            discount = min(left, price * rl.exchange_quantity)
            left -= discount
        order_lines.append(
            {
                "sku": sku.code,
                "name": sku.name,
                "quantity": rl.exchange_quantity,
                "unit_price": str(unit),
                "discount": str(discount),
                "tax": "0",
            }
        )
    customer = order.customer
    payload: dict[str, Any] = {
        "channel": order.channel.code,
        "external_id": exchange_external_id(ret),
        "currency": order.currency,
        "lines": order_lines,
        "customer": (
            {
                "email": customer.email,
                "first_name": customer.first_name,
                "last_name": customer.last_name,
                "phone": customer.phone,
            }
            if customer is not None
            else ({"email": order.email, "phone": order.phone} if order.email else None)
        ),
        "shipping_address": dict(order.shipping_address or {}),
        "billing_address": dict(order.billing_address or {}),
        "shipping_price": "0",
        "payment_status": PaymentStatus.PENDING if difference > 0 else PaymentStatus.PAID,
        "prices_include_tax": True,  # the replacement's prices are tax included
        "external_number": exchange_external_id(ret),
        "raw_payload": {
            "exchange_for_return": ret.number,
            "original_order": order.number,
            "credit": str(credit),
            "charge": str(difference),
        },
    }
    return payload, difference


def return_exchange_order_create(
    *, return_request: ReturnRequest | int, actor: str = "system"
) -> Order:
    """Create (once) and link the replacement order of a return's exchanged lines.

    Raises ValidationFailed (no exchanged line, a cancelled or rejected return), NotFound.
    """
    return_id = return_id_of(return_request)
    ret = (
        ReturnRequest.objects.select_related(
            "order", "order__channel", "order__customer", "exchange_order"
        )
        .filter(pk=return_id)
        .first()
    )
    if ret is None:
        raise NotFound(f"Return {return_id} does not exist.")
    if ret.exchange_order is not None:
        return ret.exchange_order
    if ret.status in ("cancelled", "rejected", "requested"):
        raise ValidationFailed(
            f"Return {ret.number} is {ret.get_status_display().lower()}: no replacement is sent."
        )
    payload, difference = _payload(ret)
    replacement = order_capture(actor=actor, **payload).order
    with transaction.atomic():
        original = order_get_for_update(ret.order_id)
        locked = lock_return(ret.pk)
        if locked.exchange_order_id is not None:
            return Order.objects.get(pk=locked.exchange_order_id)
        locked.exchange_order = replacement
        locked.save(update_fields=["exchange_order", "updated_at"])
        order_event_add(
            order=original,
            kind="exchange_order_created",
            actor=actor,
            return_id=locked.pk,
            number=locked.number,
            exchange_order=replacement.number,
            charge=str(difference),
        )
        order_event_add(
            order=order_get_for_update(replacement.pk),
            kind="exchange_for_return",
            actor=actor,
            return_id=locked.pk,
            number=locked.number,
            original_order=original.number,
        )
        if difference > 0:
            order_note_add(
                order=replacement.pk,
                text=(
                    f"Exchange for return {locked.number} of order {original.number}: the "
                    f"replacement costs more than the items returned. Collect the difference of "
                    f"{difference} {original.currency} from the shopper, then mark it paid."
                ),
                actor=actor,
            )
    return replacement
