"""Payments recorded on an order: the authorisation (or capture) the shop sends with it.

Invariants:
- a payment's amount is positive, on the order's currency grid, in the order's currency; its
  key is unique (the same key again returns the first record, a different payment under it is
  a conflict);
- captured never exceeds what was authorised (when an authorisation is recorded), checked
  under the order's lock.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from oms.errors import Conflict, ValidationFailed
from oms.money import money_problem
from orders.models import Order
from orders.services import order_event_add, order_get_for_update
from returns.models import Payment
from returns.states import PaymentKind, PaymentRecordStatus

ZERO = Decimal(0)


def payments_total(order: Order, kind: str) -> Decimal:
    """What the order's succeeded payments of `kind` add up to."""
    total = Payment.objects.filter(
        order=order, kind=kind, status=PaymentRecordStatus.SUCCEEDED
    ).aggregate(total=Sum("amount"))["total"]
    return Decimal(total or ZERO)


@transaction.atomic
def payment_record(
    *,
    order: Order | int,
    kind: str,
    amount: Decimal,
    reference: str,
    provider: str = "",
    key: str = "",
    actor: str = "system",
) -> Payment:
    """Record an authorisation or capture the shop (or its provider) made for the order.

    Raises ValidationFailed (kind, amount, reference), Conflict `payment_exceeds_authorized`
    (a capture above what is authorised), Conflict `idempotency_key_reused`, NotFound.
    """
    if kind not in (PaymentKind.AUTHORIZATION, PaymentKind.CAPTURE):
        raise ValidationFailed(
            "Record an authorisation or a capture.",
            errors={"kind": ["One of: authorization, capture."]},
        )
    reference = (reference or "").strip()
    if not reference or len(reference) > 128:
        raise ValidationFailed(
            "The provider's reference is required.", errors={"reference": ["1 to 128 chars."]}
        )
    order_id = order if isinstance(order, int) else int(order.pk)
    locked = order_get_for_update(order_id)
    if not amount.is_finite() or amount <= 0:
        raise ValidationFailed("A payment is positive.", errors={"amount": ["Must be > 0."]})
    problem = money_problem(amount, locked.currency)
    if problem:
        raise ValidationFailed(
            f"The amount is not an amount of {locked.currency}.", errors={"amount": [problem]}
        )
    key = key or f"{kind}-{locked.pk}-{reference}"
    existing = Payment.objects.filter(key=key).first()
    if existing is not None:
        if (existing.order_id, existing.kind, existing.amount) != (locked.pk, kind, amount):
            raise Conflict("This key was used for another payment.", code="idempotency_key_reused")
        return existing
    if kind == PaymentKind.CAPTURE:
        authorised = payments_total(locked, PaymentKind.AUTHORIZATION)
        captured = payments_total(locked, PaymentKind.CAPTURE)
        if authorised and captured + amount > authorised:
            raise Conflict(
                f"At most {authorised - captured} {locked.currency} is left to capture.",
                code="payment_exceeds_authorized",
            )
    payment = Payment.objects.create(
        order=locked,
        provider=provider or locked.channel.payment_provider,
        kind=kind,
        amount=amount,
        currency=locked.currency,
        reference=reference,
        key=key,
        actor=actor,
    )
    order_event_add(
        order=locked,
        kind=f"payment_{kind}_recorded",
        actor=actor,
        payment_id=payment.pk,
        amount=str(amount),
        currency=locked.currency,
        reference=reference,
        provider=payment.provider,
    )
    return payment
