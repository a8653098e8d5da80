"""Refunds: the suggested amount of a return, appeasements, the refund of a cancellation, and
their execution by the payment provider.

Invariants:
- the refunds of an order that have not failed never add up to more than was paid: checked
  under the order's row lock, so concurrent refunds serialise (lock order: Order -> ... ->
  ReturnRequest);
- a refund is executed after commit (its execution is written to the outbox with the refund)
  by the order's payment provider (returns.payments: the channel, Stripe, or staff for
  `manual`), with its provider key (the idempotency key, a new one per retry after a failure);
  from its second attempt on (or while the provider is still processing it) the provider is
  asked first whether it already happened, so money never leaves twice;
- a refund is `succeeded` only when whoever took the money confirms it: the provider answers
  that it paid, or staff confirm one paid by hand with its reference (`refund_confirm`); until
  then it stays pending (`waiting_for` staff or provider); a refusal is `failed` with the
  provider's message and may be retried (`refund_retry`) if the money is still due;
- a refund that is no longer pending is never executed again; one whose retries are spent stays
  pending, flagged for staff (it may have happened), and a pending refund nothing is executing
  (and no staff confirmation awaits) is executed again by `refunds_recover`;
- the suggested refund of a return counts, per unit, what the shopper paid (price less the
  line's discount share, plus its tax share unless prices include tax; the line's total split
  over its units to the cent, returned units taking the line's units from the first on in the
  order of the returns, cancelled ones from the last back, so a line refunded in several goes
  gives back exactly its total, never a cent less or more) less the reason's
  restocking fee, for the units the channel's `refund_basis` counts (received units, or every
  unit of an authorised return), less what was refunded for the return already; exchanged
  lines are settled by their replacement order: only the credit left over (what was paid for
  them less the replacement's price) is refunded, once the replacement order exists;
- cancelling quantities of a paid order refunds their value (the same per-unit rule; the
  shipping price too when nothing of the order shipped), capped at what is refundable, once
  per cancellation: the refund is keyed by the cancellation's timeline event. It is created by
  a task after the cancellation commits (returns.subscribers), so a refund problem never
  blocks a cancellation, and executed like every refund.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from djmoney.money import Money

from oms import events
from oms.errors import Conflict, InvalidTransition, NotFound, PermanentError, ValidationFailed
from oms.money import money_problem, round_money
from oms.outbox import outbox_enqueue, outbox_open_keys
from oms.states import assert_transition
from orders.models import Order, OrderEvent, OrderLine
from orders.services import order_event_add, order_get_for_update, order_payment_status_set
from orders.states import PaymentStatus
from returns.events import RefundFailed, RefundSucceeded
from returns.models import Payment, Refund, ReturnRequest
from returns.payments import PaymentProvider, ProviderRefund, RefundRequest, payment_provider_for
from returns.services._common import (
    ZERO,
    lock_return,
    order_id_of_return,
    return_id_of,
    return_line_starts,
    units_paid,
)
from returns.services.payments import capture_on_shipment, payment_status_sync
from returns.services.requests import return_complete
from returns.states import (
    REFUND_TRANSITIONS,
    TRANSITIONS,
    PaymentKind,
    PaymentRecordStatus,
    RefundStatus,
    RefundWaiting,
    ReturnStatus,
)

PAID_STATUSES = frozenset(
    {PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
)
#: A cancellation is refunded only when money was taken and some is left to give back.
CANCEL_REFUND_STATUSES = frozenset({PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED})
REFUNDABLE_RETURN_STATUSES = frozenset(
    {
        ReturnStatus.AUTHORISED,
        ReturnStatus.PARTIALLY_RECEIVED,
        ReturnStatus.RECEIVED,
        ReturnStatus.COMPLETED,
    }
)


def refund_suggested_amount(
    *, return_request: ReturnRequest | int, include_shipping: bool = False
) -> Decimal:
    """What to refund for a return now (see the module docstring); optionally with the
    order's shipping price. Raises NotFound."""
    try:
        ret = ReturnRequest.objects.select_related("order", "order__channel").get(
            pk=return_id_of(return_request)
        )
    except ReturnRequest.DoesNotExist as exc:
        raise NotFound("No such return.") from exc
    order = ret.order
    by_authorisation = order.channel.refund_basis == "authorised"
    accepted = ret.status in REFUNDABLE_RETURN_STATUSES
    total = credit = replacement = ZERO
    exchanged, exchange_settled = False, True
    return_lines = list(ret.lines.select_related("order_line", "reason"))
    starts = return_line_starts(ret, return_lines)
    for rl in return_lines:
        line = rl.order_line
        units = (rl.quantity if accepted else 0) if by_authorisation else rl.quantity_received
        if rl.is_exchange:
            exchanged = True
            credit += units_paid(line, order, starts[rl.pk], rl.quantity)
            replacement += (rl.exchange_unit_price or ZERO) * rl.exchange_quantity
            exchange_settled = exchange_settled and units >= rl.quantity
            continue
        if units <= 0:
            continue
        amount = units_paid(line, order, starts[rl.pk], units)
        total += amount - amount * rl.reason.restocking_fee_percent / Decimal(100)
    if exchanged and exchange_settled and ret.exchange_order_id is not None:
        total += max(credit - replacement, ZERO)
    if include_shipping:
        total += order.shipping_price
    already = (
        Refund.objects.filter(return_request=ret)
        .exclude(status=RefundStatus.FAILED)
        .aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    return round_money(max(total - already, ZERO), order.currency)


def paid_amount(order: Order) -> Decimal:
    """What the shopper paid: the captures recorded for an order paid by capture on shipment,
    else its total once its payment status says it was paid."""
    captured = Payment.objects.filter(
        order=order, kind=PaymentKind.CAPTURE, status=PaymentRecordStatus.SUCCEEDED
    ).aggregate(total=Sum("amount"))["total"]
    if captured is not None:
        return Decimal(captured)
    return order.total if order.payment_status in PAID_STATUSES else ZERO


def refundable_amount(order: Order) -> Decimal:
    """What was paid less the refunds that have not failed (read it under the order's lock),
    as django-money's Money of the order's currency: a refund in another currency would raise
    instead of being subtracted."""
    paid = Money(paid_amount(order), order.currency)
    refunded = sum(
        (
            Money(amount, currency)
            for amount, currency in Refund.objects.filter(order=order)
            .exclude(status=RefundStatus.FAILED)
            .values_list("amount", "currency")
        ),
        Money(0, order.currency),
    )
    return Decimal((paid - refunded).amount)


@transaction.atomic
def refund_create(
    *,
    order: Order | int,
    amount: Decimal,
    reason: str = "",
    return_request: ReturnRequest | int | None = None,
    idempotency_key: str | None = None,
    actor: str = "system",
    lines: Sequence[tuple[int, int]] = (),
) -> Refund:
    """Record a pending refund (an appeasement without a return) and execute it after commit.
    `lines` ((order line id, units) pairs, from refund_for_lines) go on its timeline entry, so
    later line refunds take the next units of those lines.

    A replay with the same idempotency key returns the first refund. Raises ValidationFailed
    (amount not positive, off the currency's grid ("0.005" EUR) or too large, a return of
    another order), Conflict `refund_exceeds_paid` (more than
    was paid less earlier refunds; nothing written), NotFound.
    """
    try:
        amount = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationFailed(
            "A refund is a decimal amount.", errors={"amount": ['A decimal such as "10.00".']}
        ) from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationFailed("A refund must be positive.", errors={"amount": ["Must be > 0."]})
    order_id = order if isinstance(order, int) else int(order.pk)
    locked = order_get_for_update(order_id)  # NotFound for an unknown order
    problem = money_problem(amount, locked.currency)
    if problem:
        raise ValidationFailed(
            f"The amount is not an amount of {locked.currency}.", errors={"amount": [problem]}
        )
    if idempotency_key:
        existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.order_id != locked.pk or existing.amount != amount:
                raise Conflict(
                    "This idempotency key was used for another refund.",
                    code="idempotency_key_reused",
                )
            return existing
    return_id = None
    if return_request is not None:
        return_id = return_id_of(return_request)
        if not ReturnRequest.objects.filter(pk=return_id, order_id=locked.pk).exists():
            raise ValidationFailed(
                "The return is not one of this order.", errors={"return": [str(return_id)]}
            )
    remaining = refundable_amount(locked)
    if amount > remaining:
        raise Conflict(
            f"At most {max(remaining, ZERO)} {locked.currency} can still be refunded.",
            code="refund_exceeds_paid",
            errors={"amount": [f"At most {max(remaining, ZERO)}."]},
        )
    refund = Refund.objects.create(
        order=locked,
        return_request_id=return_id,
        amount=amount,
        currency=locked.currency,
        reason=reason,
        actor=actor,
        **({"idempotency_key": idempotency_key} if idempotency_key else {}),
    )
    order_event_add(
        order=locked,
        kind="refund_requested",
        actor=actor,
        refund_id=refund.pk,
        return_id=return_id,
        amount=str(amount),
        currency=locked.currency,
        reason=reason,
        **({"lines": [{"line": ln, "quantity": q} for ln, q in lines]} if lines else {}),
    )
    refund_execute_later(refund.pk)
    return refund


def line_refunded_units(order_id: int) -> dict[int, int]:
    """Units of each line of the order refunded by line (refund_for_lines) in refunds that have
    not failed: from their timeline entries (two queries)."""
    entries = list(
        OrderEvent.objects.filter(
            order_id=order_id, kind="refund_requested", data__has_key="lines"
        ).values_list("data", flat=True)
    )
    failed = set(
        Refund.objects.filter(order_id=order_id, status=RefundStatus.FAILED).values_list(
            "pk", flat=True
        )
    )
    units: dict[int, int] = {}
    for data in entries:
        if data.get("refund_id") in failed:
            continue
        for item in data.get("lines") or []:
            if isinstance(item, dict) and isinstance(item.get("line"), int):
                units[item["line"]] = units.get(item["line"], 0) + int(item.get("quantity") or 0)
    return units


def refundable_units(line: OrderLine, refunded_by_line: dict[int, int]) -> int:
    """Units of a line that may still be refunded by line: neither cancelled (their refund is
    the cancellation's), returned (the return's) nor refunded by line already."""
    done = line.quantity_cancelled + line.quantity_returned + refunded_by_line.get(line.pk, 0)
    return max(0, line.quantity - done)


def refund_lines_amount(
    *,
    order: Order | int,
    lines: Sequence[tuple[int, int]],
    include_shipping: bool = False,
) -> Decimal:
    """What refunding `lines` ((order line id, units) pairs) gives back: per line, the next
    units' share of what the shopper paid for it (units_paid: the line's total split over its
    units to the cent, after its returned and earlier line-refunded units), plus the shipping
    price if asked, capped at what is still refundable. The preview of the order page's refund
    form and the amount refund_for_lines refunds. Raises ValidationFailed (a line of another
    order, units not positive or more than may be refunded), NotFound."""
    order_id = order if isinstance(order, int) else int(order.pk)
    found = Order.objects.filter(pk=order_id).first()
    if found is None:
        raise NotFound(f"Order {order_id} does not exist.")
    wanted = [(int(line), int(units)) for line, units in lines]
    by_id = {ln.pk: ln for ln in OrderLine.objects.filter(order_id=order_id)}
    done = line_refunded_units(order_id)
    errors: dict[str, list[str]] = {}
    total = ZERO
    for index, (line_id, units) in enumerate(wanted):
        line = by_id.get(line_id)
        if line is None:
            errors[f"lines.{index}.line"] = ["Not a line of this order."]
            continue
        left = refundable_units(line, done)
        if units <= 0 or units > left:
            errors[f"lines.{index}.quantity"] = [f"Between 1 and {left}."]
            continue
        start = line.quantity_returned + done.get(line_id, 0)
        total += units_paid(line, found, start, units)
        done[line_id] = done.get(line_id, 0) + units
    if not wanted and not include_shipping:
        errors["lines"] = ["Choose at least one line (or the shipping)."]
    if errors:
        raise ValidationFailed("These lines cannot be refunded.", errors=errors)
    if include_shipping:
        total += found.shipping_price
    return round_money(min(total, max(refundable_amount(found), ZERO)), found.currency)


@transaction.atomic
def refund_for_lines(
    *,
    order: Order | int,
    lines: Sequence[tuple[int, int]],
    include_shipping: bool = False,
    reason: str = "",
    idempotency_key: str | None = None,
    actor: str = "system",
) -> Refund:
    """Refund units of an order's lines without a return (the order page's "Refund" by lines):
    refund_lines_amount under the order's lock, recorded and executed by refund_create. Raises
    ValidationFailed (see refund_lines_amount; nothing left to refund), Conflict
    `refund_exceeds_paid`, NotFound."""
    order_id = order if isinstance(order, int) else int(order.pk)
    order_get_for_update(order_id)  # NotFound; serialises line refunds of the order
    amount = refund_lines_amount(order=order_id, lines=lines, include_shipping=include_shipping)
    if amount <= 0:
        raise ValidationFailed(
            "Nothing is left to refund on this order.", errors={"amount": ["Nothing is due."]}
        )
    return refund_create(
        order=order_id,
        amount=amount,
        reason=reason,
        idempotency_key=idempotency_key,
        actor=actor,
        lines=[(int(line), int(units)) for line, units in lines],
    )


@transaction.atomic
def return_refund(
    *,
    return_request: ReturnRequest | int,
    amount: Decimal | None = None,
    include_shipping: bool = False,
    reason: str = "",
    actor: str = "system",
) -> Refund:
    """Refund a return (the suggested amount unless given); a received return completes.

    Raises ValidationFailed (nothing to refund), Conflict `refund_exceeds_paid`,
    InvalidTransition (requested, rejected or cancelled returns), NotFound.
    """
    return_id = return_id_of(return_request)
    order_id = order_id_of_return(return_id)
    order_get_for_update(order_id)
    ret = lock_return(return_id)
    if ret.status not in REFUNDABLE_RETURN_STATUSES:
        assert_transition(
            TRANSITIONS, ret.status, ReturnStatus.COMPLETED, what=f"Return {ret.number}"
        )
    if amount is None:
        amount = refund_suggested_amount(return_request=ret, include_shipping=include_shipping)
        if amount <= 0:
            raise ValidationFailed(
                "Nothing received to refund yet.", errors={"amount": ["Give an amount."]}
            )
    refund = refund_create(
        order=order_id, amount=amount, reason=reason, return_request=ret, actor=actor
    )
    if ret.status == ReturnStatus.RECEIVED:
        return_complete(return_request=ret, actor=actor)
    return refund


def cancellation_key(order_id: int, line_quantities: Sequence[tuple[int, int]]) -> tuple[str, str]:
    """(idempotency key, actor) of a cancellation: its timeline event (the latest one that
    cancelled exactly these quantities), so the same cancellation delivered twice is one
    refund and two equal cancellations are two."""
    wanted = [{"line": int(line), "quantity": int(q)} for line, q in line_quantities]
    events = OrderEvent.objects.filter(
        order_id=order_id, kind__in=("cancelled", "lines_cancelled")
    ).order_by("-id")[:20]
    for event in events:
        if (event.data or {}).get("lines") == wanted:
            return f"cancel-{order_id}-{event.pk}", event.actor
    digest = hashlib.sha256(repr(sorted(wanted, key=repr)).encode()).hexdigest()[:24]
    return f"cancel-{order_id}-{digest}", "system"


@transaction.atomic
def refund_for_cancellation(
    *,
    order_id: int,
    line_quantities: Sequence[Sequence[int]],
    full: bool,
    reason: str = "",
    idempotency_key: str = "",
    actor: str = "",
) -> Refund | None:
    """Refund cancelled quantities of a paid order (see the module docstring); None when
    nothing is due. `idempotency_key` names the cancellation (cancellation_key: read in the
    cancelling transaction); the same key twice is one refund. Raises NotFound."""
    pairs = [(int(line), int(quantity)) for line, quantity in line_quantities]
    order = order_get_for_update(order_id)
    if order.payment_status not in CANCEL_REFUND_STATUSES:
        return None
    if not idempotency_key:
        idempotency_key, actor = cancellation_key(order.pk, pairs)
    key = idempotency_key
    existing = Refund.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    quantities = dict(pairs)
    lines = list(OrderLine.objects.filter(order=order, pk__in=list(quantities)))
    before = _cancelled_before(order.pk, key, quantities, lines)
    # Cancelled units count from the line's last unit back (returned ones from its first on).
    amount = sum(
        (
            units_paid(line, order, line.quantity - before[line.pk] - k, k)
            for line in lines
            for k in [quantities[line.pk]]
        ),
        ZERO,
    )
    if full:
        amount += order.shipping_price
    amount = round_money(min(amount, refundable_amount(order)), order.currency)
    if amount <= 0:
        return None
    return refund_create(
        order=order.pk,
        amount=amount,
        reason=f"order cancelled{': ' + reason if reason else ''}"[:255],
        idempotency_key=key,
        actor=actor or "system",
    )


def _cancelled_before(
    order_id: int, key: str, quantities: dict[int, int], lines: Sequence[OrderLine]
) -> dict[int, int]:
    """Units of each of `lines` cancelled before the cancellation `key` names: the quantities
    of the order's earlier cancellation events when the key names its event (so cancellations
    refunded late, or out of order, still take distinct units), else what the line counts
    cancelled less this cancellation's units."""
    event_id = key.removeprefix(f"cancel-{order_id}-")
    if event_id == key or not event_id.isdigit():
        return {ln.pk: max(0, ln.quantity_cancelled - quantities[ln.pk]) for ln in lines}
    events = dict(
        OrderEvent.objects.filter(
            order_id=order_id, kind__in=("cancelled", "lines_cancelled"), pk__lte=int(event_id)
        ).values_list("pk", "data")
    )
    if events.pop(int(event_id), False) is False:  # a digest that happens to be all digits
        return {ln.pk: max(0, ln.quantity_cancelled - quantities[ln.pk]) for ln in lines}
    before = dict.fromkeys(quantities, 0)
    for data in events.values():
        for item in (data or {}).get("lines") or []:
            if isinstance(item, dict) and item.get("line") in before:
                before[item["line"]] += int(item.get("quantity") or 0)
    return before


EXECUTE_TASK = "returns.refund_execute"
#: A refund still pending this long after it was asked for, with nothing pending or running
#: to execute it, is executed again by the recovery sweep.
RECOVER_AFTER = dt.timedelta(minutes=5)


def execute_key(refund_id: int) -> str:
    return f"{EXECUTE_TASK}:{refund_id}"


def refund_execute_later(refund_id: int) -> None:
    """The provider is called by a worker once this transaction commits (through the outbox)."""
    outbox_enqueue(EXECUTE_TASK, refund_id=refund_id, dedupe_key=execute_key(refund_id))


def refund_execute_gave_up(*, refund_id: int, reason: str) -> None:
    """The provider never answered through every retry: the refund stays pending (it may have
    happened) and is flagged for staff, with a timeline entry on its order."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().filter(pk=refund_id).first()
        if refund is None or refund.status != RefundStatus.PENDING:
            return
        refund.needs_attention = True
        refund.attention_message = f"The payment provider did not answer: {reason}"[:500]
        refund.save(update_fields=["needs_attention", "attention_message", "updated_at"])
        order_event_add(
            order=refund.order,
            kind="refund_stuck",
            refund_id=refund.pk,
            amount=str(refund.amount),
            currency=refund.currency,
            reason=refund.attention_message,
        )


def refunds_recover(*, limit: int = 200) -> int:
    """Execute again the refunds left pending (see RECOVER_AFTER), unless flagged for staff or
    waiting for staff to confirm them; the provider is asked first whether each already
    happened (a refund the provider is still processing is asked about again)."""
    stale = list(
        Refund.objects.filter(
            status=RefundStatus.PENDING,
            needs_attention=False,
            created_at__lt=timezone.now() - RECOVER_AFTER,
        )
        .exclude(waiting_for=RefundWaiting.STAFF)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    waiting = outbox_open_keys(execute_key(pk) for pk in stale)
    again = [pk for pk in stale if execute_key(pk) not in waiting]
    with transaction.atomic():
        for pk in again:
            refund_execute_later(pk)
    return len(again)


def _locked_pair(refund_id: int) -> tuple[Order, Refund]:
    """The refund's order and the refund, locked in the house order (Order first)."""
    order_id = Refund.objects.filter(pk=refund_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound(f"Refund {refund_id} does not exist.")
    order = order_get_for_update(order_id)
    return order, Refund.objects.select_for_update().get(pk=refund_id)


def refund_retry(*, refund: Refund | int, actor: str = "system") -> Refund:
    """Staff ask again for a refund: a flagged pending one (the provider never answered), or a
    failed one (with a new provider key, if the money is still due). Raises InvalidTransition
    (succeeded), Conflict `refund_exceeds_paid`, NotFound."""
    refund_id = refund if isinstance(refund, int) else int(refund.pk)
    with transaction.atomic():
        order, locked = _locked_pair(refund_id)
        if locked.status == RefundStatus.FAILED:
            remaining = refundable_amount(order)
            if locked.amount > remaining:
                raise Conflict(
                    f"At most {max(remaining, ZERO)} {locked.currency} can still be refunded.",
                    code="refund_exceeds_paid",
                )
            assert_transition(
                REFUND_TRANSITIONS, locked.status, RefundStatus.PENDING, what="Refund"
            )
            previous = locked.failure_reason
            locked.retries += 1
            locked.provider_key = f"{locked.idempotency_key}-retry{locked.retries}"
            locked.status, locked.attempts, locked.failure_reason = RefundStatus.PENDING, 0, ""
            fields = ["status", "retries", "provider_key", "attempts", "failure_reason"]
        elif locked.status == RefundStatus.PENDING and locked.waiting_for != RefundWaiting.STAFF:
            previous = locked.attention_message
            fields = []
        else:
            raise InvalidTransition(f"Refund {refund_id} is {locked.status}: nothing to retry.")
        locked.needs_attention, locked.attention_message = False, ""
        locked.save(update_fields=[*fields, "needs_attention", "attention_message", "updated_at"])
        order_event_add(
            order=order,
            kind="refund_retried",
            actor=actor,
            refund_id=locked.pk,
            previous=previous,
        )
        refund_execute_later(locked.pk)
    return locked


def refund_request(refund: Refund) -> RefundRequest:
    """What the provider is told of a refund (its order and channel read with it)."""
    order = refund.order
    payment = (
        Payment.objects.filter(
            order=order,
            kind__in=[PaymentKind.AUTHORIZATION, PaymentKind.CAPTURE],
            status=PaymentRecordStatus.SUCCEEDED,
        )
        .exclude(reference="")
        .order_by("kind", "pk")  # the authorisation names the payment; else the first capture
        .values_list("reference", flat=True)
        .first()
    )
    return RefundRequest(
        refund_id=refund.pk,
        key=refund.key_for_provider,
        order_id=order.pk,
        order_number=order.number or str(order.pk),
        order_external_id=order.external_id,
        channel_code=order.channel.code,
        channel_kind=order.channel.kind,
        amount=refund.amount,
        currency=refund.currency,
        reason=refund.reason,
        payment_reference=payment or "",
    )


def _provider_refund(
    current: Refund, provider: PaymentProvider, request: RefundRequest
) -> ProviderRefund:
    """Ask the provider for the refund. After an attempt whose outcome was never stored (or
    one the provider was still processing) the provider is asked first whether it exists, so
    money never leaves twice. TransientError propagates; PermanentError is the refund's
    failure."""
    try:
        found = (
            provider.refund_lookup(request)
            if current.attempts or current.waiting_for == RefundWaiting.PROVIDER
            else None
        )
        return found or provider.refund(request)
    except PermanentError as exc:
        return ProviderRefund(state="failed", message=str(exc)[:500])


def _refund_outcome_save(
    *, order: Order, locked: Refund, outcome: ProviderRefund, provider: str, actor: str = ""
) -> None:
    """Store the provider's answer on the locked pending refund, with its timeline entry."""
    if outcome.state == "pending":
        if (locked.waiting_for, locked.provider_reference) == (
            outcome.waiting_for,
            outcome.reference,
        ):
            return  # still waiting, as we knew
        locked.waiting_for = outcome.waiting_for or RefundWaiting.PROVIDER
        locked.provider, locked.provider_reference = provider, outcome.reference
        locked.action_url = outcome.action_url[:500]
        locked.needs_attention, locked.attention_message = False, outcome.message[:500]
        locked.save(
            update_fields=[
                "waiting_for",
                "provider",
                "provider_reference",
                "action_url",
                "needs_attention",
                "attention_message",
                "updated_at",
            ]
        )
        order_event_add(
            order=order,
            kind="refund_awaiting_confirmation",
            actor=locked.actor,
            refund_id=locked.pk,
            provider=provider,
            waiting_for=locked.waiting_for,
            reference=outcome.reference,
            message=outcome.message[:500],
            url=outcome.action_url,
        )
        return
    target = RefundStatus.SUCCEEDED if outcome.state == "succeeded" else RefundStatus.FAILED
    assert_transition(REFUND_TRANSITIONS, locked.status, target, what="Refund")
    locked.status = target
    locked.provider = provider
    locked.provider_reference = outcome.reference[:128]
    locked.failure_reason = outcome.message[:500] if target == RefundStatus.FAILED else ""
    locked.waiting_for = RefundWaiting.NOTHING
    locked.needs_attention, locked.attention_message = False, ""
    locked.save(
        update_fields=[
            "status",
            "provider",
            "provider_reference",
            "failure_reason",
            "waiting_for",
            "needs_attention",
            "attention_message",
            "updated_at",
        ]
    )
    order_event_add(
        order=order,
        kind=f"refund_{target}",
        actor=actor or locked.actor,
        refund_id=locked.pk,
        amount=str(locked.amount),
        currency=locked.currency,
        provider=provider,
        reference=locked.provider_reference,
        failure=locked.failure_reason,
    )
    if target == RefundStatus.FAILED:
        events.publish(
            RefundFailed(refund_id=locked.pk, order_id=order.pk, failure=locked.failure_reason)
        )
    else:
        _refund_succeeded(order=order, locked=locked)


def _refund_succeeded(*, order: Order, locked: Refund) -> None:
    """The order's payment status follows what its succeeded refunds add up to (against what
    was paid); the higher apps hear of the refund."""
    refunded = (
        Refund.objects.filter(order=order, status=RefundStatus.SUCCEEDED).aggregate(
            total=Sum("amount")
        )["total"]
        or ZERO
    )
    if capture_on_shipment(order):
        payment_status_sync(order=order)
    else:
        paid = paid_amount(order)
        status = (
            PaymentStatus.REFUNDED
            if refunded >= (paid or order.total)
            else PaymentStatus.PARTIALLY_REFUNDED
        )
        order_payment_status_set(order=order, status=status, actor=locked.actor)
    events.publish(
        RefundSucceeded(
            refund_id=locked.pk,
            order_id=order.pk,
            amount=str(locked.amount),
            currency=locked.currency,
            reference=locked.idempotency_key,
            reason=locked.reason,
            provider=locked.provider,
        )
    )


def refund_execute(*, refund: Refund | int, adapter: PaymentProvider | None = None) -> Refund:
    """Execute a pending refund through the order's payment provider (returns.payments), at
    most once per provider key.

    A refund that is no longer pending, or waits for staff to confirm it, is returned as it is.
    TransientError propagates (the task retries; the next attempt looks the refund up first);
    PermanentError marks the refund failed. Raises NotFound.
    """
    refund_id = refund if isinstance(refund, int) else int(refund.pk)
    current = Refund.objects.select_related("order__channel").filter(pk=refund_id).first()
    if current is None:
        raise NotFound(f"Refund {refund_id} does not exist.")
    if current.status != RefundStatus.PENDING or current.waiting_for == RefundWaiting.STAFF:
        return current
    provider = adapter or payment_provider_for(current.order.channel.payment_provider)
    request = refund_request(current)
    Refund.objects.filter(pk=refund_id, status=RefundStatus.PENDING).update(
        attempts=F("attempts") + 1
    )
    # Call out before taking any lock: the provider key makes a repeated call harmless, and
    # after an attempt whose outcome we never stored the provider is asked first.
    outcome = _provider_refund(current, provider, request)
    with transaction.atomic():
        order = order_get_for_update(current.order_id)
        locked = Refund.objects.select_for_update().get(pk=refund_id)
        if locked.status != RefundStatus.PENDING or locked.provider_key != current.provider_key:
            return locked  # settled meanwhile (or retried with another key)
        _refund_outcome_save(order=order, locked=locked, outcome=outcome, provider=provider.name)
        return locked


def refund_confirm(*, refund: Refund | int, reference: str, actor: str = "system") -> Refund:
    """Staff confirm a refund they paid by hand (cash, bank transfer, the channel's site) with
    its reference: it succeeds. The same confirmation again returns the refund. Raises
    ValidationFailed (no reference), Conflict `refund_not_awaiting_confirmation` (nothing to
    confirm: the provider pays it, or it is settled), NotFound."""
    reference = (reference or "").strip()
    if not reference:
        raise ValidationFailed(
            "Give the reference of the payment back.", errors={"reference": ["Required."]}
        )
    if len(reference) > 128:
        raise ValidationFailed(
            "The reference is too long.", errors={"reference": ["At most 128 characters."]}
        )
    refund_id = refund if isinstance(refund, int) else int(refund.pk)
    with transaction.atomic():
        order, locked = _locked_pair(refund_id)
        if locked.status == RefundStatus.SUCCEEDED and locked.provider_reference == reference:
            return locked
        if locked.status != RefundStatus.PENDING or locked.waiting_for != RefundWaiting.STAFF:
            raise Conflict(
                f"Refund {refund_id} is not waiting for staff to confirm it "
                f"({locked.status}{', ' + locked.waiting_for if locked.waiting_for else ''}).",
                code="refund_not_awaiting_confirmation",
            )
        _refund_outcome_save(
            order=order,
            locked=locked,
            outcome=ProviderRefund(state="succeeded", reference=reference),
            provider=locked.provider or order.channel.payment_provider,
            actor=actor,
        )
        return locked
