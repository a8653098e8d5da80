"""Every write of the returns app: returns (RMAs), receiving with disposition, refunds.

Invariants:
- a line is never returned (requested or received) more than it shipped: checked under the
  order's row lock, which every return and refund service takes first (lock order: Order ->
  OrderLine -> StockLevel -> ReturnRequest);
- receiving never exceeds what the return asked for; sellable units go back on hand at the
  receiving location (a `return_restock` movement), damaged and defective ones into quarantine;
- the refunds of an order that have not failed never add up to more than was paid: checked
  under the order's row lock, so concurrent refunds serialise;
- a refund is executed by the payment provider after commit, with its idempotency key, and a
  refund that is no longer pending is never executed again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum

from inventory.models import Location
from inventory.services import stock_quarantine, stock_restock_return
from oms.errors import Conflict, NotFound, PermanentError, ValidationFailed
from oms.states import assert_transition
from orders.models import Order, OrderLine
from orders.services import order_event_add, order_get_for_update, order_payment_status_set
from orders.states import PaymentStatus
from returns.adapters import PaymentAdapter, payment_adapter
from returns.models import Refund, ReturnLine, ReturnReason, ReturnRequest
from returns.states import (
    ACTIVE_RETURN_STATUSES,
    REFUND_TRANSITIONS,
    TRANSITIONS,
    Condition,
    RefundStatus,
    ReturnSource,
    ReturnStatus,
)

ZERO = Decimal("0")
CENT = Decimal("0.01")
PAID_STATUSES = frozenset(
    {PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
)


def _return_id(return_request: ReturnRequest | int) -> int:
    return return_request if isinstance(return_request, int) else int(return_request.pk)


def _order_id_of(return_id: int) -> int:
    order_id = ReturnRequest.objects.filter(pk=return_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound(f"Return {return_id} does not exist.")
    return int(order_id)


def _lock_return(return_id: int) -> ReturnRequest:
    return ReturnRequest.objects.select_for_update().get(pk=return_id)


def returned_or_requested(order_id: int, *, exclude_return_id: int | None = None) -> dict[int, int]:
    """Per order line: the quantity on active returns (requested, authorised, received...)."""
    rows = ReturnLine.objects.filter(
        return_request__order_id=order_id, return_request__status__in=ACTIVE_RETURN_STATUSES
    )
    if exclude_return_id is not None:
        rows = rows.exclude(return_request_id=exclude_return_id)
    return {
        int(row["order_line_id"]): int(row["total"])
        for row in rows.values("order_line_id").annotate(total=Sum("quantity"))
    }


@transaction.atomic
def return_create(
    *,
    order: Order | int,
    lines: Sequence[Mapping[str, Any]],
    comment: str = "",
    source: str = ReturnSource.STAFF,
    actor: str = "system",
) -> ReturnRequest:
    """Request a return of shipped lines: `lines` are {order_line, quantity, reason (code)}.

    Raises ValidationFailed (no lines, unknown line or reason, more than shipped minus what is
    returned or requested already: `lines.N.quantity`), NotFound (no such order).
    """
    if not lines:
        raise ValidationFailed("A return needs at least one line.", errors={"lines": ["Empty."]})
    if source not in ReturnSource.values:
        raise ValidationFailed("Unknown source.", errors={"source": [source]})
    order_id = order if isinstance(order, int) else int(order.pk)
    locked = order_get_for_update(order_id)  # NotFound for an unknown order
    order_lines = {
        ln.pk: ln
        for ln in OrderLine.objects.select_for_update().filter(order=locked).order_by("pk")
    }
    reasons = {r.code: r for r in ReturnReason.objects.filter(is_active=True)}
    taken = returned_or_requested(locked.pk)
    wanted: dict[int, int] = {}
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(lines):
        line = order_lines.get(int(item["order_line"]))
        if line is None:
            errors[f"lines.{index}.order_line"] = ["Not a line of this order."]
            continue
        if item.get("reason") not in reasons:
            errors[f"lines.{index}.reason"] = ["Unknown return reason."]
        quantity = int(item["quantity"])
        wanted[line.pk] = wanted.get(line.pk, 0) + quantity
        eligible = line.quantity_shipped - max(taken.get(line.pk, 0), line.quantity_returned)
        if quantity <= 0 or wanted[line.pk] > eligible:
            errors[f"lines.{index}.quantity"] = [
                f"At most {max(eligible, 0)} of this line can be returned."
            ]
    if errors:
        raise ValidationFailed("These lines cannot be returned.", errors=errors)
    count = ReturnRequest.objects.filter(order=locked).count()
    ret = ReturnRequest.objects.create(
        number=f"{locked.number or locked.pk}-R{count + 1}",
        order=locked,
        source=source,
        comment=comment,
    )
    merged: dict[int, tuple[int, str]] = {}
    for item in lines:
        line_id = int(item["order_line"])
        previous = merged.get(line_id, (0, str(item["reason"])))
        merged[line_id] = (previous[0] + int(item["quantity"]), previous[1])
    ReturnLine.objects.bulk_create(
        [
            ReturnLine(
                return_request=ret, order_line_id=line_id, quantity=qty, reason=reasons[code]
            )
            for line_id, (qty, code) in merged.items()
        ]
    )
    order_event_add(
        order=locked,
        kind="return_requested",
        actor=actor,
        return_id=ret.pk,
        number=ret.number,
        lines=[{"order_line": k, "quantity": v[0], "reason": v[1]} for k, v in merged.items()],
    )
    return ret


def _transition(
    *, return_request: ReturnRequest | int, target: str, actor: str, **data: Any
) -> ReturnRequest:
    return_id = _return_id(return_request)
    with transaction.atomic():
        order = order_get_for_update(_order_id_of(return_id))
        ret = _lock_return(return_id)
        if ret.status == target:
            return ret
        assert_transition(TRANSITIONS, ret.status, target, what=f"Return {ret.number}")
        previous, ret.status = ret.status, target
        ret.save(update_fields=["status", "updated_at"])
        order_event_add(
            order=order,
            kind=f"return_{target}",
            actor=actor,
            return_id=ret.pk,
            number=ret.number,
            before=previous,
            after=target,
            **data,
        )
        return ret


def return_authorise(
    *, return_request: ReturnRequest | int, actor: str = "system"
) -> ReturnRequest:
    """Accept a requested return. Raises InvalidTransition, NotFound."""
    return _transition(return_request=return_request, target=ReturnStatus.AUTHORISED, actor=actor)


def return_reject(
    *, return_request: ReturnRequest | int, reason: str = "", actor: str = "system"
) -> ReturnRequest:
    """Refuse a requested return. Raises InvalidTransition, NotFound."""
    return _transition(
        return_request=return_request, target=ReturnStatus.REJECTED, actor=actor, reason=reason
    )


def return_cancel(
    *, return_request: ReturnRequest | int, reason: str = "", actor: str = "system"
) -> ReturnRequest:
    """Cancel a return before anything was received. Raises InvalidTransition, NotFound."""
    return _transition(
        return_request=return_request, target=ReturnStatus.CANCELLED, actor=actor, reason=reason
    )


def return_complete(*, return_request: ReturnRequest | int, actor: str = "system") -> ReturnRequest:
    """Close a received return (it was settled). Raises InvalidTransition, NotFound."""
    return _transition(return_request=return_request, target=ReturnStatus.COMPLETED, actor=actor)


@transaction.atomic
def return_receive(
    *,
    return_request: ReturnRequest | int,
    location: Location | str,
    lines: Sequence[Mapping[str, Any]],
    actor: str = "system",
) -> ReturnRequest:
    """Receive returned units at a location: `lines` are {order_line, quantity, condition}.

    Sellable units go back on hand there, damaged and defective ones into quarantine; the order
    lines count them returned. Raises ValidationFailed (unknown line or condition, more than
    the return asked for: `lines.N.quantity`, unknown location), InvalidTransition (not
    authorised or partially received), NotFound.
    """
    if not lines:
        raise ValidationFailed("Receive at least one line.", errors={"lines": ["Empty."]})
    if isinstance(location, str):
        found = Location.objects.filter(code=location).first()
        if found is None:
            raise ValidationFailed("Unknown location.", errors={"location": [location]})
        location = found
    return_id = _return_id(return_request)
    order = order_get_for_update(_order_id_of(return_id))
    # Every writer of a return locks its order first: this read cannot change under us.
    ret = ReturnRequest.objects.get(pk=return_id)
    if ret.status not in (ReturnStatus.AUTHORISED, ReturnStatus.PARTIALLY_RECEIVED):
        assert_transition(
            TRANSITIONS, ret.status, ReturnStatus.RECEIVED, what=f"Return {ret.number}"
        )
    return_lines = {rl.order_line_id: rl for rl in ret.lines.all()}
    order_lines = {
        ln.pk: ln
        for ln in OrderLine.objects.select_for_update(of=("self",))
        .filter(pk__in=return_lines)
        .select_related("sku")
        .order_by("pk")
    }
    errors: dict[str, list[str]] = {}
    counts: dict[tuple[int, str], int] = {}
    received: dict[int, int] = {}
    for index, item in enumerate(lines):
        line_id = int(item["order_line"])
        return_line = return_lines.get(line_id)
        if return_line is None:
            errors[f"lines.{index}.order_line"] = ["Not a line of this return."]
            continue
        condition = str(item.get("condition", ""))
        if condition not in Condition.values:
            errors[f"lines.{index}.condition"] = ["Unknown condition."]
            continue
        quantity = int(item["quantity"])
        received[line_id] = received.get(line_id, 0) + quantity
        if (
            quantity <= 0
            or return_line.quantity_received + received[line_id] > return_line.quantity
        ):
            left = return_line.quantity - return_line.quantity_received
            errors[f"lines.{index}.quantity"] = [f"At most {left} more can be received."]
            continue
        counts[(line_id, condition)] = counts.get((line_id, condition), 0) + quantity
    if errors:
        raise ValidationFailed("These units cannot be received.", errors=errors)
    for (line_id, condition), quantity in sorted(counts.items()):
        order_line = order_lines[line_id]
        sku = order_line.sku
        if sku is None or not sku.track_inventory:
            continue
        if condition == Condition.SELLABLE:
            stock_restock_return(
                sku=sku,
                location=location,
                quantity=quantity,
                return_id=ret.pk,
                order_line_id=line_id,
                actor=actor,
            )
        else:
            stock_quarantine(
                sku=sku,
                location=location,
                quantity=quantity,
                reason=f"return {ret.number}: {condition}",
                return_id=ret.pk,
                actor=actor,
            )
    ret = _lock_return(return_id)
    for line_id, quantity in received.items():
        return_line = return_lines[line_id]
        return_line.quantity_received += quantity
        return_line.quantity_sellable += counts.get((line_id, Condition.SELLABLE), 0)
        return_line.quantity_damaged += counts.get((line_id, Condition.DAMAGED), 0)
        return_line.quantity_defective += counts.get((line_id, Condition.DEFECTIVE), 0)
        return_line.save(
            update_fields=[
                "quantity_received",
                "quantity_sellable",
                "quantity_damaged",
                "quantity_defective",
            ]
        )
        order_line = order_lines[line_id]
        order_line.quantity_returned += quantity
        order_line.save(update_fields=["quantity_returned"])
    complete = all(rl.quantity_received >= rl.quantity for rl in return_lines.values())
    target = ReturnStatus.RECEIVED if complete else ReturnStatus.PARTIALLY_RECEIVED
    previous = ret.status
    if previous != target:
        assert_transition(TRANSITIONS, previous, target, what=f"Return {ret.number}")
        ret.status = target
        ret.save(update_fields=["status", "updated_at"])
    order_event_add(
        order=order,
        kind="return_received",
        actor=actor,
        return_id=ret.pk,
        number=ret.number,
        location=location.code,
        before=previous,
        after=target,
        lines=[
            {"order_line": line_id, "condition": condition, "quantity": quantity}
            for (line_id, condition), quantity in sorted(counts.items())
        ],
    )
    return ret


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def refund_suggested_amount(
    *, return_request: ReturnRequest | int, include_shipping: bool = False
) -> Decimal:
    """What to refund for the received units: per unit, the price less the line's discount
    share plus its tax share (unless prices include tax), less the reason's restocking fee;
    optionally the order's shipping price. Raises NotFound."""
    try:
        ret = ReturnRequest.objects.select_related("order").get(pk=_return_id(return_request))
    except ReturnRequest.DoesNotExist as exc:
        raise NotFound("No such return.") from exc
    order = ret.order
    total = ZERO
    for rl in ret.lines.select_related("order_line", "reason"):
        if rl.quantity_received <= 0:
            continue
        line = rl.order_line
        unit = line.unit_price - line.discount / line.quantity
        if not order.prices_include_tax:
            unit += line.tax / line.quantity
        amount = unit * rl.quantity_received
        fee = amount * rl.reason.restocking_fee_percent / Decimal(100)
        total += amount - fee
    if include_shipping:
        total += order.shipping_price
    return _money(max(total, ZERO))


def refundable_amount(order: Order) -> Decimal:
    """What was paid less the refunds that have not failed (read it under the order's lock)."""
    paid = order.total if order.payment_status in PAID_STATUSES else ZERO
    refunded = (
        Refund.objects.filter(order=order)
        .exclude(status=RefundStatus.FAILED)
        .aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    return paid - refunded


@dataclass(frozen=True)
class _Enqueue:
    refund_id: int

    def __call__(self) -> None:
        from returns.tasks import refund_execute

        refund_execute.delay(refund_id=self.refund_id)


@transaction.atomic
def refund_create(
    *,
    order: Order | int,
    amount: Decimal,
    reason: str = "",
    return_request: ReturnRequest | int | None = None,
    idempotency_key: str | None = None,
    actor: str = "system",
) -> Refund:
    """Record a pending refund (an appeasement without a return) and execute it after commit.

    A replay with the same idempotency key returns the first refund. Raises ValidationFailed
    (amount not positive, a return of another order), Conflict `refund_exceeds_paid` (more than
    was paid less earlier refunds; nothing written), NotFound.
    """
    amount = Decimal(amount)
    if amount <= 0:
        raise ValidationFailed("A refund must be positive.", errors={"amount": ["Must be > 0."]})
    order_id = order if isinstance(order, int) else int(order.pk)
    locked = order_get_for_update(order_id)  # NotFound for an unknown order
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
        return_id = _return_id(return_request)
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
    )
    transaction.on_commit(_Enqueue(refund.pk))
    return refund


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
    return_id = _return_id(return_request)
    order_id = _order_id_of(return_id)
    order_get_for_update(order_id)
    ret = _lock_return(return_id)
    if ret.status not in (
        ReturnStatus.AUTHORISED,
        ReturnStatus.PARTIALLY_RECEIVED,
        ReturnStatus.RECEIVED,
        ReturnStatus.COMPLETED,
    ):
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


def refund_execute(*, refund: Refund | int, adapter: PaymentAdapter | None = None) -> Refund:
    """Execute a pending refund through the payment provider (at most once per refund).

    A refund that is no longer pending is returned as it is. TransientError propagates (the task
    retries); PermanentError marks the refund failed. Raises NotFound.
    """
    refund_id = refund if isinstance(refund, int) else int(refund.pk)
    current = Refund.objects.select_related("order").filter(pk=refund_id).first()
    if current is None:
        raise NotFound(f"Refund {refund_id} does not exist.")
    if current.status != RefundStatus.PENDING:
        return current
    # Call out before taking any lock: the idempotency key makes a repeated call harmless.
    target, reference, failure = RefundStatus.SUCCEEDED, "", ""
    try:
        result = (adapter or payment_adapter()).refund(
            order_reference=current.order.number or str(current.order_id),
            amount=current.amount,
            currency=current.currency,
            idempotency_key=current.idempotency_key,
        )
        reference = result.reference
    except PermanentError as exc:
        target, failure = RefundStatus.FAILED, str(exc)[:500]
    with transaction.atomic():
        order = order_get_for_update(current.order_id)
        locked = Refund.objects.select_for_update().get(pk=refund_id)
        if locked.status != RefundStatus.PENDING:
            return locked
        assert_transition(REFUND_TRANSITIONS, locked.status, target, what="Refund")
        locked.status = target
        locked.provider_reference = reference
        locked.failure_reason = failure
        locked.save(update_fields=["status", "provider_reference", "failure_reason", "updated_at"])
        order_event_add(
            order=order,
            kind=f"refund_{target}",
            actor=locked.actor,
            refund_id=locked.pk,
            amount=str(locked.amount),
            currency=locked.currency,
            reference=reference,
            failure=failure,
        )
        if target == RefundStatus.SUCCEEDED:
            refunded = (
                Refund.objects.filter(order=order, status=RefundStatus.SUCCEEDED).aggregate(
                    total=Sum("amount")
                )["total"]
                or ZERO
            )
            status = (
                PaymentStatus.REFUNDED
                if refunded >= order.total
                else PaymentStatus.PARTIALLY_REFUNDED
            )
            order_payment_status_set(order=order, status=status, actor=locked.actor)
        return locked
