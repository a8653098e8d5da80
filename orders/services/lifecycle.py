"""The order lifecycle after capture: holds, release, cancellation, address and line edits,
status derived from line quantities, notes and payment status.

Invariants:
- every command locks the order row first (lock order: Order -> OrderLine -> stock), is one
  transaction, appends to the timeline, and is safe to replay; routing that a command calls for
  (release, address or line edits) runs after that transaction, through the routing port, and
  its failure never undoes the command (orders.services.routing);
- status changes only through `_transition`, which checks orders.states.TRANSITIONS;
- cancelling releases exactly the reserved units it cancels and never touches shipped units;
- an order with an active hold is never handed to routing;
- a new hold publishes OrderHeld, and releasing the last active hold publishes OrderReleased,
  inside the command's transaction (fulfilment flags, then resumes, the order's shipments).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from inventory.services import ReleaseRequest, stock_release_many
from oms import events
from oms.errors import InvalidTransition, NotFound, ValidationFailed
from oms.logs import log_order
from oms.money import currency_exponent, round_money
from oms.outbox import outbox_enqueue
from oms.sql import rows_update, rows_update_many
from oms.states import assert_transition
from orders.events import OrderAddressChanged, OrderCancelled, OrderHeld, OrderReleased
from orders.models import Order, OrderHold, OrderLine
from orders.services.capture import (
    CONVERT_TASK,
    address_normalised,
    address_problems,
    amount_check,
    search_text_for,
)
from orders.services.routing import order_route_now
from orders.services.timeline import order_event_add
from orders.states import PAYMENT_OK_TO_SHIP, TRANSITIONS, HoldReason, OrderStatus, PaymentStatus

#: A timeline entry: (kind, actor, data).
Entry = tuple[str, str, dict[str, Any]]

EXPLICIT_STATUSES = frozenset(
    {OrderStatus.BACKORDERED, OrderStatus.DELIVERED, OrderStatus.COMPLETED}
)
EDITABLE_ADDRESS_STATUSES = frozenset(
    {OrderStatus.PENDING, OrderStatus.ALLOCATED, OrderStatus.BACKORDERED}
)


def _lock(order: Order | int) -> Order:
    pk = order if isinstance(order, int) else order.pk
    try:
        return Order.objects.select_for_update().get(pk=pk)
    except Order.DoesNotExist:
        raise NotFound(f"No order {pk}.") from None


def _lines(order: Order) -> list[OrderLine]:
    return list(OrderLine.objects.select_for_update().filter(order=order).order_by("pk"))


def _transition(order: Order, target: str, *, actor: str, **data: Any) -> bool:
    if order.status == target:
        return False
    assert_transition(TRANSITIONS, order.status, target, what=f"Order {order.number}")
    previous, order.status = order.status, target
    order.save(update_fields=["status", "updated_at"])
    order_event_add(
        order=order, kind="status_changed", actor=actor, **{"from": previous, "to": target}, **data
    )
    return True


def derived_status(order: Order, lines: Sequence[OrderLine]) -> str:
    """The status that the line quantities imply (routing decides between pending/backordered)."""
    active = sum(ln.quantity - ln.quantity_cancelled for ln in lines)
    if active == 0:
        return OrderStatus.CANCELLED
    shipped = sum(ln.quantity_shipped for ln in lines)
    if shipped >= active:
        if order.status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED):
            return order.status
        return OrderStatus.SHIPPED
    if shipped:
        return OrderStatus.PARTIALLY_SHIPPED
    allocated = sum(ln.quantity_allocated for ln in lines)
    if allocated >= active:
        return OrderStatus.ALLOCATED
    if allocated:
        return OrderStatus.BACKORDERED
    if order.status == OrderStatus.BACKORDERED:
        return OrderStatus.BACKORDERED
    return OrderStatus.PENDING


@transaction.atomic
def order_status_refresh(*, order: Order | int, actor: str = "system") -> Order:
    """Move the order to the status its line quantities imply. Raises InvalidTransition."""
    order = _lock(order)
    _transition(order, derived_status(order, _lines(order)), actor=actor)
    return order


@transaction.atomic
def order_status_set(*, order: Order | int, status: str, actor: str = "system") -> Order:
    """An explicit step the quantities cannot show: backordered (routing found nothing),
    delivered, completed. Everything else follows from quantities or from order_cancel.

    Raises InvalidTransition (including for a status that has its own command).
    """
    order = _lock(order)
    if order.status != status and status not in EXPLICIT_STATUSES:
        raise InvalidTransition(
            f"{status!r} follows from the order's quantities or its own command, "
            "it cannot be set directly."
        )
    _transition(order, status, actor=actor)
    return order


def _needs_routing(order: Order, lines: Sequence[OrderLine]) -> bool:
    return not order.is_on_hold and any(ln.quantity_unallocated > 0 for ln in lines)


@transaction.atomic
def order_hold(
    *, order: Order | int, reason: str = HoldReason.MANUAL, note: str = "", actor: str = "system"
) -> OrderHold:
    """Put the order on hold (replay: the active hold of that reason is returned); a new hold
    publishes OrderHeld.

    Raises ValidationFailed (unknown reason), InvalidTransition (shipped or cancelled order).
    """
    order = _lock(order)
    if reason not in HoldReason.values:
        raise ValidationFailed("Unknown hold reason.", errors={"reason": [reason]})
    # A shipped order can still be held for customer care (a parcel lost in transit);
    # a closed one cannot.
    if order.status in (OrderStatus.COMPLETED, OrderStatus.CANCELLED):
        raise InvalidTransition(f"A {order.status} order cannot be held.")
    active = order.holds.filter(reason=reason, released_at__isnull=True).first()
    if active is not None:
        return active
    hold = OrderHold.objects.create(order=order, reason=reason, note=note[:500], placed_by=actor)
    if not order.is_on_hold:
        order.is_on_hold = True
        order.save(update_fields=["is_on_hold", "updated_at"])
    order_event_add(order=order, kind="hold_placed", actor=actor, reason=reason, note=note)
    events.publish(OrderHeld(order_id=order.pk, reason=reason))
    return hold


def order_release(
    *,
    order: Order | int,
    reason: str | None = None,
    note: str = "",
    actor: str = "system",
    route: bool = True,
) -> Order:
    """Release the order's active holds (or only those of `reason`); when none is left,
    publishes OrderReleased; once that is committed, an order left without holds is routed
    (contained: orders.services.routing). `route=False` leaves routing to the caller.

    Releasing an order with no active hold is a no-op.
    """
    with transaction.atomic():
        order = _lock(order)
        active = order.holds.filter(released_at__isnull=True)
        if reason:
            active = active.filter(reason=reason)
        released = list(active.values_list("reason", flat=True))
        if not released:
            return order
        active.update(released_at=timezone.now(), released_by=actor, release_note=note[:500])
        still_held = order.holds.filter(released_at__isnull=True).exists()
        order.is_on_hold = still_held
        order.save(update_fields=["is_on_hold", "updated_at"])
        order_event_add(order=order, kind="hold_released", actor=actor, reasons=released, note=note)
        if not still_held:
            events.publish(OrderReleased(order_id=order.pk, reasons=tuple(released), actor=actor))
        needs_routing = _needs_routing(order, _lines(order))
    if route and needs_routing:
        order_route_now(order_id=order.pk, trigger="released", actor=actor)
    return order


def _cancel_quantities(
    order: Order, order_lines: Mapping[int, OrderLine], lines: Sequence[tuple[int, int]] | None
) -> list[tuple[int, int]]:
    """The (line id, quantity) pairs to cancel: everything open when `lines` is None, else the
    pairs asked, checked. Raises InvalidTransition, ValidationFailed (see order_cancel)."""
    if lines is None:
        wanted = [(pk, ln.quantity_open) for pk, ln in order_lines.items() if ln.quantity_open]
        if not wanted:
            raise InvalidTransition(
                f"Order {order.number} is {order.status}: nothing is left to cancel."
            )
        return wanted
    if order.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED):
        raise InvalidTransition(f"Order {order.number} has shipped.")
    asked: dict[int, int] = {}
    errors: dict[str, list[str]] = {}
    for index, (line_id, quantity) in enumerate(lines):
        line = order_lines.get(line_id)
        if line is None:
            errors[f"lines.{index}.line"] = [f"Order {order.number} has no line {line_id}."]
        elif quantity <= 0:
            errors[f"lines.{index}.quantity"] = ["A positive whole number."]
        elif asked.get(line_id, 0) + quantity > line.quantity_open:
            errors[f"lines.{index}.quantity"] = [
                f"Only {line.quantity_open} of this line can still be cancelled."
            ]
        else:
            asked[line_id] = asked.get(line_id, 0) + quantity
    if errors:
        raise ValidationFailed("These quantities cannot be cancelled.", errors=errors)
    return list(asked.items())


@transaction.atomic
def order_cancel(
    *,
    order: Order | int,
    lines: Sequence[tuple[int, int]] | None = None,
    reason: str = "",
    actor: str = "system",
    refund: bool = True,
) -> Order:
    """Cancel given (line id, quantity) pairs, or everything not yet shipped.

    Releases the cancelled units' reservations, records the events and publishes
    OrderCancelled (refunds and the channel react to it; `refund` False: the units were paid
    back already, e.g. refunded on the channel, so no refund of ours follows). Replaying a full
    cancel of a cancelled order is a no-op. Raises ValidationFailed (unknown line, bad
    quantity), InvalidTransition (nothing left to cancel: everything shipped).
    """
    order = _lock(order)
    if order.status == OrderStatus.CANCELLED and lines is None:
        return order
    order_lines = {ln.pk: ln for ln in _lines(order)}
    wanted = _cancel_quantities(order, order_lines, lines)
    releases = []
    for line_id, quantity in wanted:
        line = order_lines[line_id]
        from_allocated = max(0, quantity - line.quantity_unallocated)
        if from_allocated:
            releases.append(ReleaseRequest(line.pk, quantity=from_allocated))
            line.quantity_allocated -= from_allocated
        line.quantity_cancelled += quantity
    if releases:
        # One call for every line: the stock rows are locked together, in primary-key order.
        stock_release_many(items=releases, reason=reason, actor=actor)
    rows_update(
        OrderLine,
        [order_lines[pk] for pk, _ in wanted],
        ["quantity_allocated", "quantity_cancelled"],
    )
    full = all(ln.quantity_open == 0 and ln.quantity_shipped == 0 for ln in order_lines.values())
    order_event_add(
        order=order,
        kind="cancelled" if full else "lines_cancelled",
        actor=actor,
        reason=reason,
        lines=[{"line": pk, "quantity": q} for pk, q in wanted],
    )
    _transition(order, derived_status(order, list(order_lines.values())), actor=actor)
    if full and order.is_on_hold:
        # Nothing is left to hold: a cancelled order leaves the hold queue.
        order_release(order=order, note="order cancelled", actor=actor)
    events.publish(
        OrderCancelled(
            order_id=order.pk,
            line_quantities=tuple(wanted),
            full=full,
            reason=reason,
            refund=refund,
        )
    )
    return order


def order_shipping_address_update(
    *, order: Order | int, address: Mapping[str, Any], actor: str = "system"
) -> Order:
    """Change the shipping address before anything shipped; once that is committed, what is not
    picked is re-routed (contained: orders.services.routing).

    An incomplete address puts the order on hold (address_incomplete); a complete one releases
    that hold. Raises InvalidTransition (something already shipped).
    """
    with transaction.atomic():
        order, changed = _address_update(order, address, actor)
    if changed:
        order_route_now(order_id=order.pk, trigger="address_changed", actor=actor, reroute=True)
    return order


def _address_update(
    order: Order | int, address: Mapping[str, Any], actor: str
) -> tuple[Order, bool]:
    order = _lock(order)
    if order.status not in EDITABLE_ADDRESS_STATUSES:
        raise InvalidTransition(
            f"Order {order.number} is {order.status}: its address can no longer change."
        )
    new = address_normalised(address)
    if new == order.shipping_address:
        return order, False
    previous = order.shipping_address
    order.shipping_address = new
    order.ship_country = str(new.get("country") or "")
    order.search_text = search_text_for(order, _lines(order), order.customer)
    order.save(update_fields=["shipping_address", "ship_country", "search_text", "updated_at"])
    order_event_add(order=order, kind="address_changed", actor=actor, before=previous, after=new)
    problems = address_problems(new)
    if problems:
        order_hold(
            order=order,
            reason=HoldReason.ADDRESS_INCOMPLETE,
            note=", ".join(f"{k}: {v}" for k, v in problems.items()),
            actor="system",
        )
    else:
        order_release(
            order=order, reason=HoldReason.ADDRESS_INCOMPLETE, actor="system", route=False
        )
    events.publish(OrderAddressChanged(order_id=order.pk))
    return order, True


def order_lines_edit(
    *,
    order: Order | int,
    add: Sequence[Mapping[str, Any]] = (),
    remove: Sequence[int] = (),
    change: Sequence[Mapping[str, Any]] = (),
    actor: str = "system",
) -> Order:
    """Add, remove or change lines of an order that holds no stock yet; re-prices it, and once
    that is committed routes what is open (contained: orders.services.routing).

    `change` items are {"line": id, "quantity"?: n, "unit_price"?: "9.95"}. Raises
    InvalidTransition (stock is already allocated or shipped), ValidationFailed.
    """
    with transaction.atomic():
        edited, needs_routing = _lines_edit(order, add, remove, change, actor)
    if needs_routing:
        order_route_now(order_id=edited.pk, trigger="lines_changed", actor=actor)
    return edited


def _lines_edit(
    order: Order | int,
    add: Sequence[Mapping[str, Any]],
    remove: Sequence[int],
    change: Sequence[Mapping[str, Any]],
    actor: str,
) -> tuple[Order, bool]:
    order = _lock(order)
    lines = _lines(order)
    if order.status not in (OrderStatus.PENDING, OrderStatus.BACKORDERED) or any(
        ln.quantity_allocated or ln.quantity_shipped for ln in lines
    ):
        raise InvalidTransition("Lines can only change before any stock is allocated.")
    exponent = currency_exponent(order.currency)
    by_id = {ln.pk: ln for ln in lines}
    errors: dict[str, list[str]] = {}
    for index, line_id in enumerate(remove):
        if line_id not in by_id:
            errors[f"remove.{index}"] = [f"No line {line_id}."]
    _lines_change_apply(by_id, change, errors, exponent)
    new_lines = _lines_added(order, lines, add, errors, exponent)
    if errors:
        raise ValidationFailed("These line changes cannot be made.", errors=errors)
    removed = [by_id[pk] for pk in remove]
    for line in removed:
        line.quantity_cancelled = line.quantity  # kept for the record, cancelled in full
    kept = [ln for ln in lines] + new_lines
    tax_on_top = not order.prices_include_tax
    for line in kept:
        line.line_total = round_money(
            line.unit_price * line.quantity - line.discount + (line.tax if tax_on_top else 0),
            order.currency,
        )
    rows_update(OrderLine, lines, ["quantity", "unit_price", "quantity_cancelled", "line_total"])
    OrderLine.objects.bulk_create(new_lines)
    live = [ln for ln in kept if ln.quantity > ln.quantity_cancelled]
    _order_reprice(order, kept, live)
    order_event_add(
        order=order,
        kind="lines_changed",
        actor=actor,
        added=[{"sku": ln.sku_code, "quantity": ln.quantity} for ln in new_lines],
        removed=[ln.pk for ln in removed],
        changed=[dict(item) for item in change],
        total=str(order.total),
    )
    if not live:
        _transition(order, OrderStatus.CANCELLED, actor=actor)
    outbox_enqueue(CONVERT_TASK, order_id=order.pk)
    return order, _needs_routing(order, kept)


#: Statuses in which nothing more of an order ships: a line the channel adds is not taken.
_CLOSED_STATUSES = (
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.COMPLETED,
    OrderStatus.CANCELLED,
)


def order_lines_add_from_channel(
    *, order: Order | int, lines: Sequence[Mapping[str, Any]], actor: str = "system"
) -> list[OrderLine]:
    """Lines the channel added to an order not yet shipped in full (an edit in the channel's
    admin): appended with the channel's own figures (sku, quantity, name, external_line_id,
    unit_price, discount and tax of the line), the order re-priced and the change recorded
    (lines_changed); once committed, what is open is routed as the order's lines are, unless
    the order is held. A SKU we do not know is kept by its code and name, and holds the order
    (unknown_sku), as at capture. Raises InvalidTransition (nothing more of the order ships),
    ValidationFailed (a quantity or an amount that cannot be read)."""
    with transaction.atomic():
        order = _lock(order)
        if order.status in _CLOSED_STATUSES:
            raise InvalidTransition(f"The order is {order.status}: no line can be added.")
        existing = _lines(order)
        new_lines = _channel_lines_new(order, existing, lines)
        OrderLine.objects.bulk_create(new_lines)
        kept = existing + new_lines
        live = [ln for ln in kept if ln.quantity > ln.quantity_cancelled]
        _order_reprice(order, kept, live)
        order_event_add(
            order=order,
            kind="lines_changed",
            actor=actor,
            added=[{"sku": ln.sku_code, "quantity": ln.quantity} for ln in new_lines],
            removed=[],
            changed=[],
            total=str(order.total),
        )
        unknown = sorted({ln.sku_code or ln.name for ln in new_lines if ln.sku is None})
        if unknown:
            order_hold(
                order=order,
                reason=HoldReason.UNKNOWN_SKU,
                note=f"Lines added on the channel without a known SKU: {', '.join(unknown)}"[:500],
                actor=actor,
            )
        outbox_enqueue(CONVERT_TASK, order_id=order.pk)
        order_id = order.pk
        transaction.on_commit(
            lambda: order_route_now(order_id=order_id, trigger="lines_changed", actor=actor)
        )
    return new_lines


def _channel_lines_new(
    order: Order, existing: Sequence[OrderLine], lines: Sequence[Mapping[str, Any]]
) -> list[OrderLine]:
    """The channel's new lines as OrderLines (not saved), numbered after the last one."""
    from inventory.models import Sku

    exponent = currency_exponent(order.currency)
    codes = {str(item.get("sku") or "") for item in lines}
    skus = {sku.code: sku for sku in Sku.objects.filter(code__in=codes, is_active=True)}
    errors: dict[str, list[str]] = {}
    new_lines = []
    number = max((ln.line_number for ln in existing), default=0)
    tax_on_top = not order.prices_include_tax
    for index, item in enumerate(lines):
        code = str(item.get("sku") or "")
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            errors[f"lines.{index}.quantity"] = ["A positive whole number."]
            continue
        price, discount, tax = (
            amount_check(item.get(name) or 0, f"lines.{index}.{name}", errors, exponent)
            for name in ("unit_price", "discount", "tax")
        )
        if any(key.startswith(f"lines.{index}.") for key in errors):
            continue
        number += 1
        sku = skus.get(code)
        new_lines.append(
            OrderLine(
                order=order,
                line_number=number,
                external_line_id=str(item.get("external_line_id") or "")[:128],
                sku=sku,
                sku_code=code,
                name=str(item.get("name") or (sku.name if sku else ""))[:255],
                quantity=quantity,
                unit_price=price,
                discount=discount,
                tax=tax,
                line_total=round_money(
                    price * quantity - discount + (tax if tax_on_top else 0), order.currency
                ),
            )
        )
    if errors:
        raise ValidationFailed("These lines cannot be added.", errors=errors)
    return new_lines


def _lines_change_apply(
    by_id: dict[int, OrderLine],
    change: Sequence[Mapping[str, Any]],
    errors: dict[str, list[str]],
    exponent: int,
) -> None:
    """Apply `change` to the lines in memory (nothing is saved); what cannot be changed is
    recorded in `errors` by its path."""
    for index, item in enumerate(change):
        line = by_id.get(item.get("line", -1))
        if line is None:
            errors[f"change.{index}.line"] = ["No such line."]
            continue
        if "quantity" in item:
            quantity = item["quantity"]
            if not isinstance(quantity, int) or quantity <= line.quantity_cancelled:
                errors[f"change.{index}.quantity"] = ["More than what was cancelled."]
            else:
                line.quantity = quantity
        if "unit_price" in item:
            price = amount_check(item["unit_price"], f"change.{index}.unit_price", errors, exponent)
            if f"change.{index}.unit_price" not in errors:
                line.unit_price = price


def _lines_added(
    order: Order,
    lines: Sequence[OrderLine],
    add: Sequence[Mapping[str, Any]],
    errors: dict[str, list[str]],
    exponent: int,
) -> list[OrderLine]:
    """The new lines of `add` (not saved), numbered after the order's last line; an unknown
    SKU, a quantity or a price that cannot be read is recorded in `errors` instead."""
    from inventory.models import Sku

    codes = {str(item.get("sku") or "") for item in add}
    skus = {sku.code: sku for sku in Sku.objects.filter(code__in=codes, is_active=True)}
    new_lines = []
    next_number = max((ln.line_number for ln in lines), default=0)
    for index, item in enumerate(add):
        code = str(item.get("sku") or "")
        quantity: Any = item.get("quantity")  # checked below: a line is built only from an int
        if code not in skus:
            errors[f"add.{index}.sku"] = [f"Unknown SKU {code!r}."]
        if not isinstance(quantity, int) or quantity <= 0:
            errors[f"add.{index}.quantity"] = ["A positive whole number."]
        price = amount_check(item.get("unit_price"), f"add.{index}.unit_price", errors, exponent)
        if any(key.startswith(f"add.{index}.") for key in errors):
            continue
        next_number += 1
        new_lines.append(
            OrderLine(
                order=order,
                line_number=next_number,
                sku=skus[code],
                sku_code=code,
                name=skus[code].name,
                quantity=quantity,
                unit_price=price,
            )
        )
    return new_lines


def _order_reprice(order: Order, kept: Sequence[OrderLine], live: Sequence[OrderLine]) -> None:
    """The order's totals from its `live` lines, its conversion reset (it is converted again)
    and its search text from the `kept` ones; one UPDATE."""
    tax_on_top = not order.prices_include_tax
    order.subtotal = round_money(
        sum((ln.unit_price * (ln.quantity - ln.quantity_cancelled) for ln in live), Decimal(0)),
        order.currency,
    )
    order.discount_total = sum((ln.discount for ln in live), Decimal(0))
    order.tax_total = sum((ln.tax for ln in live), Decimal(0))
    order.total = round_money(
        order.subtotal
        - order.discount_total
        + (order.tax_total if tax_on_top else 0)
        + order.shipping_price,
        order.currency,
    )
    order.total_base = None  # re-priced: convert again
    order.fx_rate = None
    order.fx_source = ""
    order.fx_date = None
    order.search_text = search_text_for(order, kept, order.customer)
    order.save(
        update_fields=[
            "subtotal",
            "discount_total",
            "tax_total",
            "total",
            "total_base",
            "fx_rate",
            "fx_source",
            "fx_date",
            "search_text",
            "updated_at",
        ]
    )


@transaction.atomic
def order_note_add(*, order: Order | int, text: str, actor: str) -> Order:
    """An internal note for staff, in the timeline. Raises ValidationFailed (empty)."""
    if not text.strip():
        raise ValidationFailed("A note needs text.", errors={"text": ["Required."]})
    order = _lock(order)
    order_event_add(order=order, kind="note", actor=actor, text=text.strip()[:5000])
    return order


@transaction.atomic
def order_payment_status_set(*, order: Order | int, status: str, actor: str = "system") -> Order:
    """Record the payment status (from the channel or a refund); paying releases the
    payment hold. Raises ValidationFailed (unknown status)."""
    if status not in PaymentStatus.values:
        raise ValidationFailed("Unknown payment status.", errors={"payment_status": [status]})
    order = _lock(order)
    if order.payment_status == status:
        return order
    previous, order.payment_status = order.payment_status, status
    order.save(update_fields=["payment_status", "updated_at"])
    order_event_add(
        order=order, kind="payment_status_changed", actor=actor, before=previous, after=status
    )
    if status in PAYMENT_OK_TO_SHIP:
        order_release(order=order, reason=HoldReason.PAYMENT_PENDING, actor=actor)
    return order


def order_get_for_update(pk: int) -> Order:
    """For services of higher apps that must lock the order first (lock order)."""
    return _lock(pk)


@transaction.atomic
def order_allocate(
    *, order: Order | int, allocations: Sequence[tuple[int, int, int]], actor: str = "system"
) -> Order:
    """Reserve stock for (line id, location id, quantity) triples, all or nothing, and record
    it on the lines; the status follows (allocated, or backordered if some remain).

    Raises ValidationFailed (unknown line, more than unallocated, SKU unknown),
    InsufficientStock (a location cannot give it), InvalidTransition (held or closed order).
    """
    from inventory.services import ReservationRequest, stock_reserve

    order = _lock(order)
    if order.is_on_hold:
        raise InvalidTransition(f"Order {order.number} is on hold: release it first.")
    lines = {ln.pk: ln for ln in _lines(order)}
    _allocations_check(lines, allocations)
    stock_reserve(
        requests=[
            ReservationRequest(order.pk, line_id, lines[line_id].sku_id or 0, location_id, qty)
            for line_id, location_id, qty in allocations
        ],
        actor=actor,
    )
    wanted = _allocated(lines, allocations)
    rows_update(OrderLine, [lines[pk] for pk in wanted], ["quantity_allocated"])
    order_event_add(
        order=order,
        kind="allocated",
        actor=actor,
        allocations=[{"line": ln, "location": loc, "quantity": q} for ln, loc, q in allocations],
    )
    _transition(order, derived_status(order, list(lines.values())), actor=actor)
    return order


def order_lock_with_lines(pk: int) -> tuple[Order, list[OrderLine]]:
    """The order and its lines, all locked, in one statement (routing's hot path): the rows are
    locked in the house order, the order's row first (`FOR UPDATE OF order, line`: PostgreSQL
    locks each joined row's marks in that order), then its lines by primary key; the lines come
    with their SKUs (read, not locked), by line number, sharing one Order instance.
    An order without lines is locked alone. Raises NotFound (no such order)."""
    rows = list(
        OrderLine.objects.select_for_update(of=("order", "self"))
        .select_related("order", "sku")
        .filter(order_id=pk)
        .order_by("pk")
    )
    if not rows:
        return _lock(pk), []
    order = rows[0].order
    log_order(order.number)
    for line in rows:
        line.order = order
    return order, sorted(rows, key=lambda ln: ln.line_number)


def orders_lock_with_lines(pks: Iterable[int]) -> dict[int, tuple[Order, list[OrderLine]]]:
    """order_lock_with_lines for many orders in one statement (batch routing): every order's
    row, then its lines, locked in order of the orders' primary keys (the house order, so a
    batch and a single order queue instead of deadlocking). Orders without lines are left out
    (nothing to route)."""
    rows = (
        OrderLine.objects.select_for_update(of=("order", "self"))
        .select_related("order", "sku")
        .filter(order_id__in=sorted(set(pks)))
        .order_by("order_id", "pk")
    )
    found: dict[int, tuple[Order, list[OrderLine]]] = {}
    for line in rows:
        order, lines = found.setdefault(line.order_id, (line.order, []))
        line.order = order
        lines.append(line)
    for _, lines in found.values():
        lines.sort(key=lambda ln: ln.line_number)
    return found


def order_allocate_locked(
    *,
    order: Order,
    lines: Sequence[OrderLine],
    allocations: Sequence[tuple[int, int, int]],
    actor: str = "system",
    levels: Mapping[tuple[int, int], int] | None = None,
) -> list[tuple[str, str, dict[str, Any]]]:
    """order_allocate for a caller that holds the order and its lines (order_lock_with_lines)
    inside its own transaction: routing. Nothing is read again, no
    savepoint is taken; the order and lines in memory follow what is written. A request the
    stock cannot serve raises InsufficientStock having changed nothing, so the caller may plan
    again in the same transaction. Returns the timeline entries (kind, actor, data) for the
    caller to write with its own, in one INSERT (order_events_add).

    `levels`: StockLevel ids by (sku id, location id), as the caller read them.
    Raises as order_allocate.
    """
    from inventory.services import ReservationRequest, stock_reserve_within

    if order.is_on_hold:
        raise InvalidTransition(f"Order {order.number} is on hold: release it first.")
    by_id = {ln.pk: ln for ln in lines}
    _allocations_check(by_id, allocations)
    stock_reserve_within(
        requests=[
            ReservationRequest(order.pk, line_id, by_id[line_id].sku_id or 0, location_id, qty)
            for line_id, location_id, qty in allocations
        ],
        actor=actor,
        tracked={
            ln.sku_id for ln in lines if ln.sku_id is not None and ln.sku and ln.sku.track_inventory
        },
        levels=levels,
    )
    wanted = _allocated(by_id, allocations)
    entries: list[tuple[str, str, dict[str, Any]]] = [
        (
            "allocated",
            actor,
            {
                "allocations": [
                    {"line": ln, "location": loc, "quantity": q} for ln, loc, q in allocations
                ]
            },
        )
    ]
    target = derived_status(order, list(by_id.values()))
    orders: list[Order] = []
    if order.status != target:
        assert_transition(TRANSITIONS, order.status, target, what=f"Order {order.number}")
        previous, order.status = order.status, target
        order.updated_at = timezone.now()
        orders.append(order)
        entries.append(("status_changed", actor, {"from": previous, "to": target}))
    # The lines and the order's status: one statement on PostgreSQL.
    rows_update_many(
        (OrderLine, [by_id[pk] for pk in wanted], ["quantity_allocated"]),
        (Order, orders, ["status", "updated_at"]),
    )
    return entries


def orders_allocate_many_locked(
    *,
    items: Sequence[tuple[Order, Sequence[OrderLine], Sequence[tuple[int, int, int]]]],
    actor: str = "system",
    levels: Mapping[tuple[int, int], int] | None = None,
    backorder: Collection[int] = (),
) -> dict[int, tuple[list[Entry], list[Entry]]]:
    """order_allocate_locked for many orders at once (batch routing), each (order, its locked
    lines, its allocations): every reservation in one guarded statement, the lines in one
    UPDATE, the orders' statuses in one more. The orders of `backorder` (routing left some of
    them short) still pending after it become backordered, as order_status_set would make them.

    Returns, per order id, the timeline entries before the caller's own (the allocation and its
    status change) and after them (the backorder's status change), for the caller to write with
    its own in one INSERT. Raises as order_allocate (InsufficientStock having changed nothing)."""
    from inventory.services import ReservationRequest, stock_reserve_within

    requests: list[Any] = []
    tracked: set[int] = set()
    changed_lines: list[OrderLine] = []
    changed_orders: list[Order] = []
    entries: dict[int, tuple[list[Entry], list[Entry]]] = {}
    for order, lines, allocations in items:
        by_id = {ln.pk: ln for ln in lines}
        before: list[Entry] = []
        after: list[Entry] = []
        if allocations:
            if order.is_on_hold:
                raise InvalidTransition(f"Order {order.number} is on hold: release it first.")
            _allocations_check(by_id, allocations)
            requests += [
                ReservationRequest(order.pk, line_id, by_id[line_id].sku_id or 0, loc, qty)
                for line_id, loc, qty in allocations
            ]
            tracked |= {
                ln.sku_id for ln in lines if ln.sku_id and ln.sku and ln.sku.track_inventory
            }
            changed_lines += [by_id[pk] for pk in _allocated(by_id, allocations)]
            records = [{"line": ln, "location": loc, "quantity": q} for ln, loc, q in allocations]
            before.append(("allocated", actor, {"allocations": records}))
            _status_move(order, derived_status(order, lines), actor, before)
        if order.pk in backorder and order.status == OrderStatus.PENDING:
            _status_move(order, OrderStatus.BACKORDERED, actor, after)
        if before[1:] or after:
            changed_orders.append(order)
        entries[order.pk] = (before, after)
    if requests:
        stock_reserve_within(requests=requests, actor=actor, tracked=tracked, levels=levels)
    now = timezone.now()
    for order in changed_orders:
        order.updated_at = now
    # The lines and the orders' statuses: one statement on PostgreSQL.
    rows_update_many(
        (OrderLine, changed_lines if requests else [], ["quantity_allocated"]),
        (Order, changed_orders, ["status", "updated_at"]),
    )
    return entries


def _status_move(order: Order, target: str, actor: str, entries: list[Entry]) -> None:
    """Move the order in memory to `target` (checked against the table), noting the change."""
    if order.status == target:
        return
    assert_transition(TRANSITIONS, order.status, target, what=f"Order {order.number}")
    previous, order.status = order.status, target
    entries.append(("status_changed", actor, {"from": previous, "to": target}))


def _allocations_check(
    lines: Mapping[int, OrderLine], allocations: Sequence[tuple[int, int, int]]
) -> None:
    wanted: dict[int, int] = {}
    errors: dict[str, list[str]] = {}
    for index, (line_id, _location_id, quantity) in enumerate(allocations):
        line = lines.get(line_id)
        if line is None or line.sku_id is None:
            errors[f"allocations.{index}.line"] = ["No such line with a known SKU."]
            continue
        wanted[line_id] = wanted.get(line_id, 0) + quantity
        if quantity <= 0 or wanted[line_id] > line.quantity_unallocated:
            errors[f"allocations.{index}.quantity"] = [
                f"At most {line.quantity_unallocated} of this line are unallocated."
            ]
    if errors:
        raise ValidationFailed("These allocations cannot be made.", errors=errors)


def _allocated(
    lines: Mapping[int, OrderLine], allocations: Sequence[tuple[int, int, int]]
) -> dict[int, int]:
    """Add the allocations to the lines in memory; returns the quantity per line id."""
    wanted: dict[int, int] = {}
    for line_id, _location_id, quantity in allocations:
        wanted[line_id] = wanted.get(line_id, 0) + quantity
    for line_id, quantity in wanted.items():
        lines[line_id].quantity_allocated += quantity
    return wanted


@transaction.atomic
def order_ship(
    *,
    order: Order | int,
    shipped: Sequence[tuple[int, int, int]],
    shipment_id: int | None = None,
    tracking_number: str = "",
    actor: str = "system",
) -> Order:
    """Record that allocated units left (line id, location id, quantity): stock is consumed,
    the lines count them shipped, the status follows; the order is found by the parcel's
    tracking number from then on.

    Raises ValidationFailed (more than allocated), Conflict (not reserved there).
    """
    from inventory.services import ConsumeRequest, stock_consume_many

    order = _lock(order)
    lines = {ln.pk: ln for ln in _lines(order)}
    errors: dict[str, list[str]] = {}
    for index, (line_id, _location_id, quantity) in enumerate(shipped):
        line = lines.get(line_id)
        if line is None or quantity <= 0 or quantity > line.quantity_allocated:
            errors[f"shipped.{index}.quantity"] = ["More than is allocated to this line."]
    if errors:
        raise ValidationFailed("These quantities cannot ship.", errors=errors)
    # One call for every line: the stock rows are locked together, in primary-key order.
    stock_consume_many(
        items=[ConsumeRequest(ln, loc, q) for ln, loc, q in shipped],
        shipment_id=shipment_id,
        actor=actor,
    )
    for line_id, _location_id, quantity in shipped:
        lines[line_id].quantity_allocated -= quantity
        lines[line_id].quantity_shipped += quantity
    rows_update(
        OrderLine, [lines[pk] for pk, _, _ in shipped], ["quantity_allocated", "quantity_shipped"]
    )
    order_event_add(
        order=order,
        kind="shipped",
        actor=actor,
        shipment=shipment_id,
        lines=[{"line": ln, "location": loc, "quantity": q} for ln, loc, q in shipped],
    )
    if tracking_number:
        order.search_text = f"{order.search_text} {tracking_number.lower()}"
        order.save(update_fields=["search_text"])
    _transition(order, derived_status(order, list(lines.values())), actor=actor)
    return order


@transaction.atomic
def order_shipped_elsewhere(
    *,
    order: Order | int,
    location: Any = None,
    actor: str = "system",
    lines: Mapping[int, int] | None = None,
) -> list[tuple[int, int]]:
    """The units still open were shipped outside the OMS (fulfilled in the channel's own admin
    after we captured the order): what they hold is released, the lines count them shipped,
    and they leave `location`'s stock when it is given (a shortfall is noted, as for an order
    first seen shipped elsewhere); the timeline records it (fulfilled_by_channel,
    shipped_elsewhere) and the status follows. Open shipments are the caller's to cancel first
    (fulfilment sits above orders). Returns the (line id, quantity) recorded: none when
    nothing was open (a replay). `lines` (order line id -> units) limits it to those units of
    those lines (a channel's fulfilment of part of the order), never more than is open; a line's
    reservation shrinks to what stays open."""
    from inventory.services import stock_sell_in_store

    order = _lock(order)
    order_lines = _lines(order)
    opened = [
        (ln, ln.quantity_open if lines is None else min(ln.quantity_open, lines.get(ln.pk, 0)))
        for ln in order_lines
    ]
    opened = [(ln, q) for ln, q in opened if q > 0]
    if not opened:
        return []
    held = [
        ReleaseRequest(ln.pk, quantity=ln.quantity_allocated - (ln.quantity_open - q))
        for ln, q in opened
        if ln.quantity_allocated > ln.quantity_open - q
    ]
    if held:
        stock_release_many(items=held, reason="shipped outside the OMS", actor=actor)
    for line, quantity in opened:
        line.quantity_allocated = min(line.quantity_allocated, line.quantity_open - quantity)
        line.quantity_shipped += quantity
    rows_update(OrderLine, [ln for ln, _ in opened], ["quantity_allocated", "quantity_shipped"])
    details: dict[str, Any] = {
        "shipped_elsewhere": True,
        "location": "",
        "lines": [{"line": ln.pk, "quantity": q} for ln, q in opened],
    }
    if location is not None:
        details["location"] = location.code
        sales = [
            (ln.sku, q, ln.pk) for ln, q in opened if ln.sku is not None and ln.sku.track_inventory
        ]
        if sales:
            details["not_in_ledger"] = stock_sell_in_store(
                location=location,
                sales=sales,
                order_id=order.pk,
                actor=actor,
                reason="shipped outside the OMS",
            )
    order_event_add(order=order, kind="fulfilled_by_channel", actor=actor, **details)
    _transition(order, derived_status(order, order_lines), actor=actor)
    return [(ln.pk, q) for ln, q in opened]


def order_line_returned_add(*, line: OrderLine, quantity: int) -> OrderLine:
    """Count `quantity` more units of `line` as back from the customer (a return received).
    The caller holds the line's order locked (returns' receipt does)."""
    line.quantity_returned += quantity
    line.save(update_fields=["quantity_returned"])
    return line


@transaction.atomic
def order_deallocate(
    *,
    order: Order | int,
    allocations: Sequence[tuple[int, int, int]],
    reason: str = "",
    actor: str = "system",
) -> Order:
    """Give back reserved units (line id, location id, quantity): a cancelled shipment, a short
    pick, a re-route. The status follows. Raises ValidationFailed (more than allocated)."""
    order = _lock(order)
    lines = {ln.pk: ln for ln in _lines(order)}
    for index, (line_id, _location_id, quantity) in enumerate(allocations):
        line = lines.get(line_id)
        if line is None or quantity <= 0 or quantity > line.quantity_allocated:
            raise ValidationFailed(
                "More than is allocated.", errors={f"allocations.{index}.quantity": ["Too many."]}
            )
    # One call for every line: the stock rows are locked together, in primary-key order.
    stock_release_many(
        items=[ReleaseRequest(ln, loc, q) for ln, loc, q in allocations],
        reason=reason,
        actor=actor,
    )
    for line_id, _location_id, quantity in allocations:
        lines[line_id].quantity_allocated -= quantity
    rows_update(OrderLine, [lines[pk] for pk, _, _ in allocations], ["quantity_allocated"])
    order_event_add(
        order=order,
        kind="deallocated",
        actor=actor,
        reason=reason,
        allocations=[{"line": ln, "location": loc, "quantity": q} for ln, loc, q in allocations],
    )
    _transition(order, derived_status(order, list(lines.values())), actor=actor)
    return order


def order_route_gave_up(*, order_id: int, reason: str, **_: object) -> None:
    """Routing retries are exhausted: customer care must look (the order is held)."""
    if Order.objects.filter(pk=order_id).exclude(status=OrderStatus.CANCELLED).exists():
        order_hold(
            order=order_id,
            reason=HoldReason.CUSTOMER_CARE,
            note=f"Routing failed: {reason}"[:500],
            actor="system",
        )
