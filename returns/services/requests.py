"""Returns (RMAs): creation within the return window, the transitions, receiving with a
condition and a disposition per unit.

Invariants:
- a line is never returned (requested or received) more than it shipped: checked under the
  order's row lock, which every return and refund service takes first (lock order: Order ->
  OrderLine -> StockLevel -> ReturnRequest);
- a return is accepted only within the channel's return window (see returns.selectors); a
  shopper is refused outside it, staff may accept it with an `override_reason`, which is kept
  on the return and in the order's timeline;
- a shopper's return within the window is authorised at once when the channel says so
  (`returns_auto_authorise`), else it waits in `requested` for staff;
- receiving never exceeds what the return asked for; each unit has a condition (sellable,
  damaged, defective) and a disposition: restock (back on hand at the receiving location, a
  `return_restock` movement), quarantine (on the location's quarantined stock, not sellable) or
  write-off (quarantined, then written off at once through inventory's
  stock_write_off_quarantine: the ledger shows the unit came back and was destroyed). Damaged
  and defective units are never restocked;
- side effects (e-mails, exchange orders) are enqueued after commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from inventory.models import Location, Sku
from inventory.services import stock_quarantine, stock_restock_return, stock_write_off_quarantine
from oms import events
from oms.errors import ValidationFailed
from oms.limits import NUL_MESSAGE, integer_range, nul_paths
from oms.money import money_problem
from oms.outbox import outbox_enqueue
from oms.states import assert_transition
from orders.models import Order, OrderLine
from orders.services import order_event_add, order_get_for_update, order_line_returned_add
from returns.events import ReturnCreated, ReturnReceived
from returns.models import RECEIPT_COUNTS, ReturnLine, ReturnReason, ReturnRequest
from returns.selectors import return_window
from returns.services._common import (
    lock_return,
    order_id_of_return,
    return_id_of,
    unit_value,
)
from returns.states import (
    ACTIVE_RETURN_STATUSES,
    ALLOWED_DISPOSITIONS,
    DEFAULT_DISPOSITION,
    TRANSITIONS,
    Condition,
    Disposition,
    ReturnSource,
    ReturnStatus,
)

#: The largest replacement quantity a return line holds (its column).
EXCHANGE_QUANTITY_MAX = integer_range(ReturnLine, "exchange_quantity")[1]


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


# --- side effects, through the outbox ---------------------------------------------------------


def _email_later(order: Order, return_id: int, kind: str) -> None:
    if order.email and order.channel.send_emails:
        outbox_enqueue("returns.return_email_send", return_id=return_id, kind=kind)


def _exchange_later(ret: ReturnRequest, order: Order, *, received: bool) -> None:
    """Enqueue the replacement order when the channel's timing says it is due now."""
    if ret.exchange_order_id is not None:
        return
    if not ReturnLine.objects.filter(return_request=ret, exchange_sku__isnull=False).exists():
        return
    if received or order.channel.exchange_timing == "immediate":
        outbox_enqueue(
            "returns.return_exchange_order_create",
            return_id=ret.pk,
            dedupe_key=f"returns.return_exchange_order_create:{ret.pk}",
        )


# --- creation ------------------------------------------------------------------------------------


def _exchange_price(
    *, line: OrderLine, order: Order, sku: Sku, given: Any, index: int, errors: dict
) -> Decimal | None:
    if given not in (None, ""):
        try:
            price = Decimal(given) if isinstance(given, Decimal | int | str) else Decimal(-1)
        except (InvalidOperation, ValueError):
            price = Decimal(-1)
        if isinstance(given, bool) or not price.is_finite() or price < 0:
            errors[f"lines.{index}.exchange_unit_price"] = ["A price of zero or more."]
            return None
        problem = money_problem(price, order.currency)
        if problem:
            errors[f"lines.{index}.exchange_unit_price"] = [problem]
            return None
        return price
    if sku.pk == line.sku_id:
        return unit_value(line, order)  # the same item at the price the shopper paid
    latest = (
        OrderLine.objects.filter(
            order__channel_id=order.channel_id,
            order__currency=order.currency,
            sku=sku,
            unit_price__gt=0,
        )
        .select_related("order")
        .order_by("-order__placed_at", "-id")
        .first()
    )
    if latest is None:
        errors[f"lines.{index}.exchange_unit_price"] = [
            f"{sku.code} has no price on this channel yet: give the replacement's unit price."
        ]
        return None
    price = latest.unit_price
    if not latest.order.prices_include_tax:
        price += latest.tax / latest.quantity
    return price


def _exchange_for(
    *,
    item: Mapping[str, Any],
    line: OrderLine,
    order: Order,
    all_lines: bool,
    index: int,
    errors: dict[str, list[str]],
) -> tuple[Sku, int, Decimal] | None:
    """(replacement SKU, quantity, unit price) asked for by a return line, or None."""
    code = item.get("exchange_sku")
    wanted = bool(item.get("exchange")) or bool(code) or all_lines
    if not wanted:
        return None
    if code:
        sku = Sku.objects.filter(code=str(code), is_active=True).first()
        if sku is None:
            errors[f"lines.{index}.exchange_sku"] = [f"No active SKU {code}."]
            return None
    elif line.sku is not None and line.sku.is_active:
        sku = line.sku
    else:
        errors[f"lines.{index}.exchange_sku"] = [
            "This item has no active SKU to send again: name the replacement SKU."
        ]
        return None
    quantity = item.get("exchange_quantity") or item["quantity"]
    try:
        quantity = int(quantity)
    except (TypeError, ValueError):
        quantity = 0
    if quantity <= 0 or quantity > EXCHANGE_QUANTITY_MAX:
        errors[f"lines.{index}.exchange_quantity"] = [
            f"A positive whole number up to {EXCHANGE_QUANTITY_MAX}."
        ]
        return None
    price = _exchange_price(
        line=line,
        order=order,
        sku=sku,
        given=item.get("exchange_unit_price"),
        index=index,
        errors=errors,
    )
    return None if price is None else (sku, quantity, price)


def _window_check(order: Order, *, source: str, override_reason: str) -> dict[str, Any]:
    """Raise when the window is closed and nothing overrides it; the event's window facts."""
    window = return_window(order)
    closes_at = window.closes_at
    if closes_at is None or window.is_open():
        return {}
    day = timezone.localtime(closes_at)
    closed = (
        f"The return window of order {order.number} closed on {day.day} {day:%B %Y}: "
        f"items can be returned within {window.days} days of delivery."
    )
    if source == ReturnSource.SHOPPER:
        raise ValidationFailed(closed, code="return_window_closed", errors={"order": [closed]})
    if not override_reason:
        raise ValidationFailed(
            closed,
            code="return_window_closed",
            errors={"override_reason": ["Outside the return window: say why it is accepted."]},
        )
    return {"outside_window": True, "window_closed_at": closes_at.isoformat()}


def _create_input_check(
    lines: Sequence[Mapping[str, Any]], *, comment: str, source: str, override_reason: str
) -> str:
    """Refuse an empty or malformed request before any row is read; the trimmed override."""
    if not lines:
        raise ValidationFailed("A return needs at least one line.", errors={"lines": ["Empty."]})
    texts = {"comment": comment, "override_reason": override_reason, "lines": list(lines)}
    nul = list(dict.fromkeys(nul_paths(texts)))
    if nul:
        raise ValidationFailed(
            "NUL characters are not allowed.",
            errors={path: [NUL_MESSAGE] for path in nul},
        )
    if source not in ReturnSource.values:
        raise ValidationFailed("Unknown source.", errors={"source": [source]})
    override_reason = (override_reason or "").strip()[:500]
    if source == ReturnSource.SHOPPER:
        override_reason = ""
    return override_reason


def _create_plan(
    lines: Sequence[Mapping[str, Any]],
    *,
    order: Order,
    order_lines: Mapping[int, OrderLine],
    reasons: Mapping[str, ReturnReason],
    exchange: bool,
) -> dict[int, dict[str, Any]]:
    """Per order line: {quantity, reason, exchange} asked for, merged over the request's lines.

    Raises ValidationFailed with every line's problem at once; what may be returned is what
    shipped minus what is returned or requested already (read under the order's lock).
    """
    taken = returned_or_requested(order.pk)
    wanted: dict[int, int] = {}
    errors: dict[str, list[str]] = {}
    merged: dict[int, dict[str, Any]] = {}
    for index, item in enumerate(lines):
        try:
            line_id = int(item["order_line"])
            quantity = int(item["quantity"])
        except (KeyError, TypeError, ValueError):
            errors[f"lines.{index}"] = ["Give the order line and a quantity."]
            continue
        line = order_lines.get(line_id)
        if line is None:
            errors[f"lines.{index}.order_line"] = ["Not a line of this order."]
            continue
        if item.get("reason") not in reasons:
            errors[f"lines.{index}.reason"] = [
                f"Unknown return reason {str(item.get('reason'))[:32]!r}: use one of "
                f"{', '.join(sorted(reasons)) or '(none is active)'} (GET /api/v1/return-reasons/)."
            ]
        wanted[line.pk] = wanted.get(line.pk, 0) + quantity
        eligible = line.quantity_shipped - max(taken.get(line.pk, 0), line.quantity_returned)
        if quantity <= 0 or wanted[line.pk] > eligible:
            errors[f"lines.{index}.quantity"] = [
                f"At most {max(eligible, 0)} of this line can be returned."
            ]
            continue
        swap = _exchange_for(
            item=item, line=line, order=order, all_lines=exchange, index=index, errors=errors
        )
        entry = merged.setdefault(
            line.pk, {"quantity": 0, "reason": str(item.get("reason")), "exchange": None}
        )
        entry["quantity"] += quantity
        if swap is not None and entry["exchange"] is None:
            entry["exchange"] = swap
    if errors:
        raise ValidationFailed("These lines cannot be returned.", errors=errors)
    return merged


def _create_rows(
    *,
    order: Order,
    merged: Mapping[int, Mapping[str, Any]],
    reasons: Mapping[str, ReturnReason],
    source: str,
    comment: str,
    override_reason: str,
) -> ReturnRequest:
    """Write the return (numbered after the order's earlier ones) and its lines."""
    count = ReturnRequest.objects.filter(order=order).count()
    ret = ReturnRequest.objects.create(
        number=f"{order.number or order.pk}-R{count + 1}",
        order=order,
        source=source,
        comment=comment,
        override_reason=override_reason,
    )
    ReturnLine.objects.bulk_create(
        [
            ReturnLine(
                return_request=ret,
                order_line_id=line_id,
                quantity=entry["quantity"],
                reason=reasons[entry["reason"]],
                exchange_sku=entry["exchange"][0] if entry["exchange"] else None,
                exchange_quantity=entry["exchange"][1] if entry["exchange"] else 0,
                exchange_unit_price=entry["exchange"][2] if entry["exchange"] else None,
            )
            for line_id, entry in merged.items()
        ]
    )
    return ret


def _requested_event_lines(merged: Mapping[int, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The `return_requested` timeline event's lines."""
    return [
        {
            "order_line": line_id,
            "quantity": entry["quantity"],
            "reason": entry["reason"],
            **(
                {
                    "exchange_sku": entry["exchange"][0].code,
                    "exchange_quantity": entry["exchange"][1],
                }
                if entry["exchange"]
                else {}
            ),
        }
        for line_id, entry in merged.items()
    ]


def _order_lines_locked(**lookup: Any) -> dict[int, OrderLine]:
    """The order lines `lookup` selects, with their SKUs, locked in primary-key order (always
    after their order: the lock order Order -> OrderLine)."""
    return {
        ln.pk: ln
        for ln in OrderLine.objects.select_for_update(of=("self",))
        .filter(**lookup)
        .select_related("sku")
        .order_by("pk")
    }


def _create_follow_up(
    ret: ReturnRequest, *, order: Order, source: str, authorise: bool, actor: str
) -> ReturnRequest:
    """Authorise the new return when the channel does so for shoppers or staff asked for it,
    and confirm a shopper's return by e-mail."""
    auto = source == ReturnSource.SHOPPER and order.channel.returns_auto_authorise
    if auto or (authorise and source == ReturnSource.STAFF):
        ret = _transition(
            return_request=ret,
            target=ReturnStatus.AUTHORISED,
            actor=actor,
            notify=source != ReturnSource.SHOPPER,
            automatic=auto,
        )
    if source == ReturnSource.SHOPPER:
        _email_later(order, ret.pk, "return_confirmed")
    return ret


@transaction.atomic
def return_create(
    *,
    order: Order | int,
    lines: Sequence[Mapping[str, Any]],
    comment: str = "",
    source: str = ReturnSource.STAFF,
    override_reason: str = "",
    authorise: bool = False,
    exchange: bool = False,
    actor: str = "system",
) -> ReturnRequest:
    """Request a return of shipped lines: `lines` are {order_line, quantity, reason (code)},
    optionally with an exchange (`exchange`: true for the same SKU, or `exchange_sku`,
    `exchange_quantity`, `exchange_unit_price`); `exchange` asks it for every line.

    Within the window a shopper's return is authorised at once if the channel auto-authorises;
    staff may ask `authorise`. Raises ValidationFailed (no lines, unknown line or reason, more
    than shipped minus what is returned or requested already: `lines.N.quantity`; outside the
    window: code `return_window_closed`), NotFound (no such order).
    """
    override_reason = _create_input_check(
        lines, comment=comment, source=source, override_reason=override_reason
    )
    order_id = order if isinstance(order, int) else int(order.pk)
    locked = order_get_for_update(order_id)  # NotFound for an unknown order
    order_lines = _order_lines_locked(order=locked)
    window_facts = _window_check(locked, source=source, override_reason=override_reason)
    if not window_facts:
        override_reason = ""  # an override only means something outside the window
    reasons = {r.code: r for r in ReturnReason.objects.filter(is_active=True)}
    merged = _create_plan(
        lines, order=locked, order_lines=order_lines, reasons=reasons, exchange=exchange
    )
    ret = _create_rows(
        order=locked,
        merged=merged,
        reasons=reasons,
        source=source,
        comment=comment,
        override_reason=override_reason,
    )
    order_event_add(
        order=locked,
        kind="return_requested",
        actor=actor,
        return_id=ret.pk,
        number=ret.number,
        source=source,
        lines=_requested_event_lines(merged),
        **window_facts,
        **({"override_reason": override_reason} if override_reason else {}),
    )
    ret = _create_follow_up(ret, order=locked, source=source, authorise=authorise, actor=actor)
    events.publish(ReturnCreated(return_id=ret.pk, order_id=locked.pk))
    return ret


# --- transitions ---------------------------------------------------------------------------------


def _transition(
    *,
    return_request: ReturnRequest | int,
    target: str,
    actor: str,
    notify: bool = True,
    **data: Any,
) -> ReturnRequest:
    return_id = return_id_of(return_request)
    with transaction.atomic():
        order = order_get_for_update(order_id_of_return(return_id))
        ret = lock_return(return_id)
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
        if target == ReturnStatus.AUTHORISED:
            _exchange_later(ret, order, received=False)
        if notify and target in (ReturnStatus.AUTHORISED, ReturnStatus.REJECTED):
            _email_later(order, ret.pk, f"return_{target}")
        return ret


def return_authorise(
    *, return_request: ReturnRequest | int, actor: str = "system"
) -> ReturnRequest:
    """Accept a requested return (the shopper is e-mailed the label).
    Raises InvalidTransition, NotFound."""
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


# --- receiving -----------------------------------------------------------------------------------


def _disposition(item: Mapping[str, Any], condition: str) -> str | None:
    value = str(item.get("disposition") or "") or DEFAULT_DISPOSITION[condition]
    return value if value in ALLOWED_DISPOSITIONS[condition] else None


def _receive_location(location: Location | str) -> Location:
    """The receiving location, looked up by code when given one."""
    if not isinstance(location, str):
        return location
    found = Location.objects.filter(code=location).first()
    if found is None:
        raise ValidationFailed("Unknown location.", errors={"location": [location]})
    return found


def _receive_plan(
    lines: Sequence[Mapping[str, Any]], *, return_lines: Mapping[int, ReturnLine]
) -> tuple[dict[tuple[int, str, str], int], dict[int, int]]:
    """(units per (order line, condition, disposition), units per order line) to receive.

    Raises ValidationFailed with every line's problem at once: never more than the return
    asked for, never a damaged or defective unit restocked.
    """
    errors: dict[str, list[str]] = {}
    counts: dict[tuple[int, str, str], int] = {}
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
        disposition = _disposition(item, condition)
        if disposition is None:
            errors[f"lines.{index}.disposition"] = [
                "Damaged and defective units are quarantined or written off, never restocked."
                if item.get("disposition") == Disposition.RESTOCK
                else "Unknown disposition."
            ]
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
        key = (line_id, condition, disposition)
        counts[key] = counts.get(key, 0) + quantity
    if errors:
        raise ValidationFailed("These units cannot be received.", errors=errors)
    return counts, received


def _receive_stock(
    *,
    ret: ReturnRequest,
    location: Location,
    counts: Mapping[tuple[int, str, str], int],
    order_lines: Mapping[int, OrderLine],
    actor: str,
) -> None:
    """Put the units where their disposition says: on hand, in quarantine, or written off."""
    for (line_id, condition, disposition), quantity in sorted(counts.items()):
        sku = order_lines[line_id].sku
        if sku is None or not sku.track_inventory:
            continue  # a service or digital good: nothing to put back on a shelf
        if disposition == Disposition.RESTOCK:
            stock_restock_return(
                sku=sku,
                location=location,
                quantity=quantity,
                return_id=ret.pk,
                order_line_id=line_id,
                actor=actor,
            )
            continue
        stock_quarantine(
            sku=sku,
            location=location,
            quantity=quantity,
            reason=f"return {ret.number}: {condition}",
            return_id=ret.pk,
            actor=actor,
        )
        if disposition == Disposition.WRITE_OFF:
            stock_write_off_quarantine(
                sku=sku,
                location=location,
                quantity=quantity,
                reason=f"return {ret.number}: {condition}, written off",
                actor=actor,
            )


def _receive_lines_count(
    *,
    received: Mapping[int, int],
    counts: Mapping[tuple[int, str, str], int],
    return_lines: Mapping[int, ReturnLine],
    order_lines: Mapping[int, OrderLine],
) -> None:
    """Count the units on the return lines (per condition and disposition) and as returned on
    the order lines."""
    for line_id, quantity in received.items():
        return_line = return_lines[line_id]
        return_line.quantity_received += quantity
        for (counted_line, condition, disposition), units in counts.items():
            if counted_line != line_id:
                continue
            field = f"quantity_{condition}"
            setattr(return_line, field, getattr(return_line, field) + units)
            field = {
                Disposition.RESTOCK: "quantity_restocked",
                Disposition.QUARANTINE: "quantity_quarantined",
                Disposition.WRITE_OFF: "quantity_written_off",
            }[Disposition(disposition)]
            setattr(return_line, field, getattr(return_line, field) + units)
        return_line.save(update_fields=list(RECEIPT_COUNTS))
        order_line_returned_add(line=order_lines[line_id], quantity=quantity)


def _receive_status(
    ret: ReturnRequest, *, return_lines: Mapping[int, ReturnLine]
) -> tuple[str, str]:
    """Move the return to received, or partially received while units are still due:
    (the status it had, the status it has)."""
    complete = all(rl.quantity_received >= rl.quantity for rl in return_lines.values())
    target = ReturnStatus.RECEIVED if complete else ReturnStatus.PARTIALLY_RECEIVED
    previous = ret.status
    if previous != target:
        assert_transition(TRANSITIONS, previous, target, what=f"Return {ret.number}")
        ret.status = target
        ret.save(update_fields=["status", "updated_at"])
    return previous, target


@transaction.atomic
def return_receive(
    *,
    return_request: ReturnRequest | int,
    location: Location | str,
    lines: Sequence[Mapping[str, Any]],
    actor: str = "system",
) -> ReturnRequest:
    """Receive returned units at a location: `lines` are {order_line, quantity, condition,
    disposition (optional: restock for sellable units, else quarantine)}.

    Restocked units go back on hand there, quarantined ones into its quarantine, written-off
    ones are quarantined and written off; the order lines count them returned. Raises
    ValidationFailed (unknown line, condition or disposition, a damaged unit restocked, more
    than the return asked for: `lines.N.quantity`, unknown location), InvalidTransition (not
    authorised or partially received), NotFound.
    """
    if not lines:
        raise ValidationFailed("Receive at least one line.", errors={"lines": ["Empty."]})
    location = _receive_location(location)
    return_id = return_id_of(return_request)
    order = order_get_for_update(order_id_of_return(return_id))
    # Every writer of a return locks its order first: this read cannot change under us.
    ret = ReturnRequest.objects.get(pk=return_id)
    if ret.status not in (ReturnStatus.AUTHORISED, ReturnStatus.PARTIALLY_RECEIVED):
        assert_transition(
            TRANSITIONS, ret.status, ReturnStatus.RECEIVED, what=f"Return {ret.number}"
        )
    return_lines = {rl.order_line_id: rl for rl in ret.lines.all()}
    order_lines = _order_lines_locked(pk__in=return_lines)
    counts, received = _receive_plan(lines, return_lines=return_lines)
    _receive_stock(ret=ret, location=location, counts=counts, order_lines=order_lines, actor=actor)
    ret = lock_return(return_id)
    _receive_lines_count(
        received=received, counts=counts, return_lines=return_lines, order_lines=order_lines
    )
    previous, target = _receive_status(ret, return_lines=return_lines)
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
            {
                "order_line": line_id,
                "condition": condition,
                "disposition": disposition,
                "quantity": quantity,
            }
            for (line_id, condition, disposition), quantity in sorted(counts.items())
        ],
    )
    if target == ReturnStatus.RECEIVED:
        _exchange_later(ret, order, received=True)
    events.publish(ReturnReceived(return_id=ret.pk, order_id=order.pk, status=target))
    return ret
