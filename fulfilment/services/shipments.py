"""Shipments after routing: pick, pack, ship, deliver, cancel.

Invariants: lock order Order -> (order lines, stock) -> Shipment; each transition checks
fulfilment.states.TRANSITIONS and a replay of a transition already made returns the shipment;
picking more than allocated is refused; a short pick gives the missing units back, flags the
level for a count and re-routes them; cancelling before shipping releases the reservations
and re-routes; shipping consumes the reserved stock.

Holds (API.md: a held order is not fulfilled): picking, packing, shipping and sending to a 3PL
are refused for an order with an active hold (OrderOnHold, 409 `order_on_hold`, naming the
holds), checked under the order's row lock and before anything is written; a replay of a
transition already made still returns the shipment. Cancelling and delivering are not refused,
nor what a 3PL partner confirms it did (`confirmed_by_partner`: the parcel is gone already).
A hold flag is needs_attention with a message starting with HOLD_ATTENTION_PREFIX; it never
replaces a flag of another reason (fulfilment.services.holds sets and clears it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from fulfilment.events import ShipmentDelivered, ShipmentShipped
from fulfilment.models import Parcel, Shipment, ShipmentLine
from fulfilment.states import TRANSITIONS, ShipmentStatus
from inventory.models import LocationKind, StockLevel
from oms import events
from oms.errors import Conflict, NotFound, OrderOnHold, ValidationFailed
from oms.states import assert_transition
from orders.models import Order
from orders.selectors import order_hold_reasons
from orders.services import (
    order_deallocate,
    order_event_add,
    order_get_for_update,
    order_ship,
    order_status_set,
)
from orders.states import OrderStatus


def _lock(shipment: Shipment | int) -> tuple[Order, Shipment]:
    pk = shipment if isinstance(shipment, int) else shipment.pk
    order_id = Shipment.objects.filter(pk=pk).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound(f"No shipment {pk}.")
    order = order_get_for_update(order_id)
    return order, Shipment.objects.select_for_update().select_related("location").get(pk=pk)


HOLD_ATTENTION_PREFIX = "Order on hold: "


def hold_attention_message(order: Order) -> str:
    """What a held order's shipment tells staff: "Order on hold: Fraud review (note); ..."."""
    return (HOLD_ATTENTION_PREFIX + "; ".join(order_hold_reasons(order) or ["hold"]))[:500]


def refuse_if_on_hold(order: Order, shipment: Shipment, *, doing: str) -> None:
    """Raise OrderOnHold when the order (locked by the caller) has an active hold."""
    if order.is_on_hold:
        reasons = "; ".join(order_hold_reasons(order)) or "hold"
        raise OrderOnHold(
            f"Order {order.number or order.pk} is on hold ({reasons}): shipment {shipment.pk} "
            f"is not {doing} until the order is released."
        )


@transaction.atomic
def shipment_hold_flag(*, shipment: Shipment | int, actor: str = "system", kind: str = "") -> bool:
    """Flag a held order's shipment for staff ("Order on hold: ..."), unless it needs attention
    for another reason (that message stays); an order event `kind` records it when given.
    Returns whether the order is on hold (False: released meanwhile, nothing is flagged)."""
    order, locked = _lock(shipment)
    if not order.is_on_hold:
        return False
    message = hold_attention_message(order)
    if locked.needs_attention and (
        not locked.attention_message.startswith(HOLD_ATTENTION_PREFIX)  # another reason
        or locked.attention_message == message  # flagged already
    ):
        return True
    locked.needs_attention, locked.attention_message = True, message
    locked.save(update_fields=["needs_attention", "attention_message"])
    if kind:
        order_event_add(order=order, kind=kind, actor=actor, shipment=locked.pk, message=message)
    return True


def _move(shipment: Shipment, target: str, *, actor: str, **data: Any) -> None:
    assert_transition(TRANSITIONS, shipment.status, target, what=f"Shipment {shipment.pk}")
    previous, shipment.status = shipment.status, target
    stamps: dict[str, str] = {
        ShipmentStatus.PICKING: "picked_at",
        ShipmentStatus.PACKED: "packed_at",
        ShipmentStatus.SHIPPED: "shipped_at",
        ShipmentStatus.DELIVERED: "delivered_at",
        ShipmentStatus.CANCELLED: "cancelled_at",
    }
    stamp = stamps.get(target)
    fields = ["status"]
    if stamp:
        setattr(shipment, stamp, timezone.now())
        fields.append(stamp)
    shipment.save(update_fields=fields)
    order_event_add(
        order=shipment.order,
        kind=f"shipment_{target}",
        actor=actor,
        shipment=shipment.pk,
        location=shipment.location.code,
        **{"from": previous},
        **data,
    )


def _reroute(order: Order, trigger: str, actor: str, *, away_from: int | None = None) -> None:
    from fulfilment.services.routing import order_route

    order_route(
        order_id=order.pk,
        trigger=trigger,
        actor=actor,
        exclude_locations=(away_from,) if away_from else (),
    )


@transaction.atomic
def shipment_cancel(
    *, shipment: Shipment | int, reason: str = "", actor: str = "system", reroute: bool = True
) -> Shipment:
    """Cancel before shipping: the reservations go back, and the order is routed again.

    Raises InvalidTransition (shipped or delivered).
    """
    order, shipment = _lock(shipment)
    if shipment.status == ShipmentStatus.CANCELLED:
        return shipment
    assert_transition(
        TRANSITIONS, shipment.status, ShipmentStatus.CANCELLED, what=f"Shipment {shipment.pk}"
    )
    lines = list(shipment.lines.all())
    if lines:
        order_deallocate(
            order=order,
            allocations=[(ln.order_line_id, shipment.location_id, ln.quantity) for ln in lines],
            reason=reason or f"shipment {shipment.pk} cancelled",
            actor=actor,
        )
    _move(shipment, ShipmentStatus.CANCELLED, actor=actor, reason=reason)
    if reroute:
        # The location gave the shipment up: route the units elsewhere this time.
        _reroute(order, "shipment_cancelled", actor, away_from=shipment.location_id)
    return shipment


def _pick_check(lines: Sequence[tuple[int, int]], by_line: Mapping[int, ShipmentLine]) -> None:
    """Refuse a pick of a line not in the shipment, a negative figure, or (Conflict
    `over_pick`, at the first one) more than the line holds."""
    errors: dict[str, list[str]] = {}
    for index, (order_line_id, quantity) in enumerate(lines):
        line = by_line.get(order_line_id)
        if line is None:
            errors[f"lines.{index}.order_line"] = ["Not in this shipment."]
        elif quantity < 0:
            errors[f"lines.{index}.quantity"] = ["0 or more."]
        elif quantity > line.quantity:
            raise Conflict(
                f"Line {order_line_id}: {quantity} picked but only {line.quantity} allocated.",
                code="over_pick",
                errors={f"lines.{index}.quantity": [f"At most {line.quantity}."]},
            )
    if errors:
        raise ValidationFailed("These picks cannot be recorded.", errors=errors)


def _short_pick(
    *, order: Order, shipment: Shipment, short: list[tuple[ShipmentLine, int]], actor: str
) -> None:
    """Give back what was not found, shrink (or drop) its lines, flag the levels for a count,
    and route the order again; a shipment left empty is cancelled."""
    order_deallocate(
        order=order,
        allocations=[(ln.order_line_id, shipment.location_id, q) for ln, q in short],
        reason=f"short pick at {shipment.location.code}",
        actor=actor,
    )
    for line, missing in short:
        line.quantity -= missing
        line.quantity_picked = min(line.quantity_picked, line.quantity)
    # A line found not at all leaves the shipment; the others shrink to what was found.
    gone = [ln.pk for ln, _ in short if ln.quantity == 0]
    ShipmentLine.objects.filter(pk__in=gone).delete()
    ShipmentLine.objects.bulk_update(
        [ln for ln, _ in short if ln.quantity > 0], ["quantity", "quantity_picked"]
    )
    sku_ids = list(
        order.lines.filter(pk__in=[ln.order_line_id for ln, _ in short]).values_list(
            "sku_id", flat=True
        )
    )
    StockLevel.objects.filter(location=shipment.location, sku_id__in=sku_ids).update(
        needs_count=True
    )
    order_event_add(
        order=order,
        kind="short_pick",
        actor=actor,
        shipment=shipment.pk,
        lines=[{"line": ln.order_line_id, "missing": q} for ln, q in short],
    )
    if not shipment.lines.exists():
        _move(shipment, ShipmentStatus.CANCELLED, actor=actor, reason="nothing could be picked")
    _reroute(order, "short_pick", actor)


@transaction.atomic
def shipment_pick(
    *, shipment: Shipment | int, lines: Sequence[tuple[int, int]], actor: str = "system"
) -> Shipment:
    """Confirm picked quantities per order line; what was not found is a short pick: it is
    given back, the level is flagged for a count, and the order is routed again.

    Raises InvalidTransition (not pending/picking), ValidationFailed (unknown line),
    Conflict (more than allocated to the shipment line: `over_pick`), OrderOnHold.
    """
    order, shipment = _lock(shipment)
    if shipment.location.kind == LocationKind.THIRD_PARTY:
        raise Conflict(
            "A 3PL partner picks its own shipments: send it to the partner instead.",
            code="invalid_transition",
        )
    refuse_if_on_hold(order, shipment, doing="picked")
    if shipment.status == ShipmentStatus.PENDING:
        _move(shipment, ShipmentStatus.PICKING, actor=actor)
    elif shipment.status != ShipmentStatus.PICKING:
        assert_transition(
            TRANSITIONS, shipment.status, ShipmentStatus.PICKING, what=f"Shipment {shipment.pk}"
        )
    by_line = {ln.order_line_id: ln for ln in shipment.lines.select_for_update()}
    _pick_check(lines, by_line)
    short: list[tuple[ShipmentLine, int]] = []
    for order_line_id, quantity in lines:
        line = by_line[order_line_id]
        missing = line.quantity - quantity
        line.quantity_picked = quantity
        if missing:
            short.append((line, missing))
    ShipmentLine.objects.bulk_update(list(by_line.values()), ["quantity_picked"])
    if short:
        _short_pick(order=order, shipment=shipment, short=short, actor=actor)
    return shipment


@transaction.atomic
def shipment_pack(
    *,
    shipment: Shipment | int,
    parcels: Sequence[dict[str, int | None]],
    actor: str = "system",
) -> Shipment:
    """Record the parcels and mark the shipment packed (everything picked is packed).

    Raises InvalidTransition, ValidationFailed (no parcel, a weight of 0), OrderOnHold.
    """
    order, shipment = _lock(shipment)
    if shipment.status == ShipmentStatus.PACKED:
        return shipment
    refuse_if_on_hold(order, shipment, doing="packed")
    if shipment.status == ShipmentStatus.PENDING:
        raise Conflict("Pick the shipment before packing it.", code="invalid_transition")
    if not parcels:
        raise ValidationFailed("At least one parcel.", errors={"parcels": ["Required."]})
    for index, parcel in enumerate(parcels):
        if not parcel.get("weight_grams"):
            raise ValidationFailed(
                "A parcel has a weight.", errors={f"parcels.{index}.weight_grams": ["Required."]}
            )
    assert_transition(
        TRANSITIONS, shipment.status, ShipmentStatus.PACKED, what=f"Shipment {shipment.pk}"
    )
    lines = list(shipment.lines.select_for_update())
    for line in lines:
        if line.quantity_picked == 0:  # picked implicitly: everything allocated was found
            line.quantity_picked = line.quantity
        line.quantity_packed = line.quantity_picked
    ShipmentLine.objects.bulk_update(lines, ["quantity_picked", "quantity_packed"])
    Parcel.objects.bulk_create(
        Parcel(shipment=shipment, **{k: v for k, v in p.items() if v is not None}) for p in parcels
    )
    _move(shipment, ShipmentStatus.PACKED, actor=actor, parcels=len(parcels))
    return shipment


@transaction.atomic
def shipment_ship(
    *,
    shipment: Shipment | int,
    carrier: str = "",
    service: str = "",
    tracking_number: str = "",
    tracking_url: str = "",
    actor: str = "system",
    confirmed_by_partner: bool = False,
) -> Shipment:
    """The shipment left: stock is consumed, the order lines count it shipped.
    `confirmed_by_partner`: a 3PL partner says it shipped it (recorded even for a held order).

    Raises InvalidTransition (not packed, or a 3PL shipment not sent), OrderOnHold.
    """
    order, shipment = _lock(shipment)
    if shipment.status == ShipmentStatus.SHIPPED:
        return shipment
    if not confirmed_by_partner:
        refuse_if_on_hold(order, shipment, doing="shipped")
    assert_transition(
        TRANSITIONS, shipment.status, ShipmentStatus.SHIPPED, what=f"Shipment {shipment.pk}"
    )
    lines = list(shipment.lines.all())
    order_ship(
        order=order,
        shipped=[
            (ln.order_line_id, shipment.location_id, ln.quantity_packed or ln.quantity)
            for ln in lines
        ],
        shipment_id=shipment.pk,
        tracking_number=tracking_number,
        actor=actor,
    )
    shipment.carrier, shipment.service = carrier[:32], service[:64]
    shipment.tracking_number, shipment.tracking_url = tracking_number[:64], tracking_url[:200]
    shipment.save(update_fields=["carrier", "service", "tracking_number", "tracking_url"])
    _move(
        shipment,
        ShipmentStatus.SHIPPED,
        actor=actor,
        carrier=carrier,
        tracking_number=tracking_number,
    )
    events.publish(ShipmentShipped(shipment_id=shipment.pk, order_id=order.pk))
    return shipment


@transaction.atomic
def shipment_send_to_3pl(
    *, shipment: Shipment | int, actor: str = "system", confirmed_by_partner: bool = False
) -> Shipment:
    """Hand a 3PL location's shipment over to the partner. `confirmed_by_partner`: the partner
    has it already (it accepted or shipped it), recorded even for a held order.

    Raises InvalidTransition, OrderOnHold."""
    order, shipment = _lock(shipment)
    if shipment.status == ShipmentStatus.SENT:
        return shipment
    if shipment.location.kind != LocationKind.THIRD_PARTY:
        raise Conflict("Only a 3PL location's shipment is sent.", code="invalid_transition")
    if not confirmed_by_partner:
        refuse_if_on_hold(order, shipment, doing="sent to the partner")
    _move(shipment, ShipmentStatus.SENT, actor=actor)
    return shipment


@transaction.atomic
def shipment_deliver(*, shipment: Shipment | int, actor: str = "system") -> Shipment:
    """The carrier delivered it; the order is delivered when all its shipments are."""
    order, shipment = _lock(shipment)
    if shipment.status == ShipmentStatus.DELIVERED:
        return shipment
    _move(shipment, ShipmentStatus.DELIVERED, actor=actor)
    events.publish(ShipmentDelivered(shipment_id=shipment.pk, order_id=order.pk))
    others = Shipment.objects.filter(order=order).exclude(status=ShipmentStatus.CANCELLED)
    if (
        order.status == OrderStatus.SHIPPED
        and not others.exclude(status=ShipmentStatus.DELIVERED).exists()
    ):
        order_status_set(order=order, status=OrderStatus.DELIVERED, actor=actor)
    return shipment
