"""Batch routing: many orders routed in one transaction with a constant number of statements
(a sync page, the backorders a receipt serves).

Invariants:
- the decisions are those of routing each order alone (fulfilment.services.routing.order_route)
  in the order given: the same planning functions plan each order in memory, against running
  free counts and today's shipment counts that the orders before it in the batch have already
  used, so the orders of a batch never oversell each other;
- the orders and their lines are locked first (one statement, by order id), then every stock
  level the batch may use (one SELECT ... FOR UPDATE in primary-key order, the house lock
  order): a single order routed meanwhile queues behind the batch, or the batch behind it, never
  a deadlock; planning on locked figures cannot lose a race, so nothing is planned twice;
- everything is written set-based (reservations, ledger, lines, statuses, decisions, shipments,
  their lines, the timeline): all or nothing; a failure raises and the caller routes the orders
  one by one instead;
- an order on hold, cancelled or fully shipped is not routed (None, as order_route answers).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import connection, transaction
from django.db.models import F

from fulfilment.events import ShipmentCreated
from fulfilment.geocoding import Point, geocode
from fulfilment.models import RoutingDecision, Shipment, ShipmentLine, ShortagePolicy
from fulfilment.services.routing import (
    UNLIMITED,
    Candidate,
    Need,
    Plan,
    Policy,
    _dates,
    _explain,
    _needs,
    _plan,
    _policy_and_candidates,
    busy_today,
    channel_locations,
    order_route,
)
from fulfilment.states import ShipmentStatus
from inventory.models import StockLevel
from oms import events
from oms.outbox import outbox_batch
from orders.models import Order, OrderLine
from orders.services import (
    order_hold,
    orders_allocate_many_locked,
    orders_events_add,
    orders_lock_with_lines,
)
from orders.states import HoldReason, OrderStatus

logger = logging.getLogger(__name__)

CLOSED = (
    OrderStatus.CANCELLED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.COMPLETED,
)


class Gate(Protocol):
    """Lets a caller skip orders while the batch is planned, as it would between single
    routings (backorders_reroute: nothing left of what the order waits for)."""

    def wants(self, order_id: int) -> bool:
        """Whether to route this order now (asked just before it is planned)."""
        ...

    def planned(self, order_id: int, outcome: str, allocated: list[tuple[int, int]]) -> None:
        """The order's plan: its outcome and (sku id, units allocated after it) per line."""
        ...


@dataclass
class _Planned:
    order: Order
    lines: list[OrderLine]
    needs: list[Need]
    fresh: bool
    address: dict[str, Any]
    destination: Point | None
    policy: Policy
    candidates: list[Candidate]
    rejected: list[Candidate]
    plan: Plan


def orders_route_batch(
    *,
    order_ids: Sequence[int],
    trigger: str,
    actor: str = "system",
    gate: Gate | None = None,
) -> dict[int, RoutingDecision]:
    """Route the orders in the order given, in one transaction (see the module docstring).
    Returns the decisions by order id (orders not routed are absent)."""
    # Every outbox message of the batch (the integrator events' too): one INSERT at the end.
    with transaction.atomic(), outbox_batch():
        locked = orders_lock_with_lines(order_ids)
        waiting = [
            (locked[pk], _needs(locked[pk][1]))
            for pk in dict.fromkeys(order_ids)
            if pk in locked and _routable(locked[pk][0])
        ]
        waiting = [(ol, needs) for ol, needs in waiting if needs]
        if not waiting:
            return {}
        busy, free, levels = _stock_lock(waiting)
        pending = _pending_shipments([o.pk for (o, lines), _ in waiting if not _fresh(lines)])
        planned = []
        for (order, lines), needs in waiting:
            if gate is not None and not gate.wants(order.pk):
                continue
            one = _plan_one(order, lines, needs, busy, free, pending)
            planned.append(one)
            if gate is not None:
                gate.planned(order.pk, one.plan.kind, _allocated_after(one))
        return _write(planned, levels, pending, trigger, actor)


def _fresh(lines: Sequence[OrderLine]) -> bool:
    """Nothing of the order was allocated or shipped before: it has no shipment to join."""
    return not any(ln.quantity_allocated or ln.quantity_shipped for ln in lines)


def _routable(order: Order) -> bool:
    return not order.is_on_hold and order.status not in CLOSED


def _stock_lock(
    waiting: list[tuple[tuple[Order, list[OrderLine]], list[Need]]],
) -> tuple[dict[int, int], dict[tuple[int, int], int], dict[tuple[int, int], int]]:
    """Today's shipments per location with a capacity, and every stock level the batch may
    use, locked in primary-key order: the free units and the level ids by (sku, location)."""
    locations = {
        loc.pk: loc for (order, _), _ in waiting for loc in channel_locations(order.channel_id)
    }
    sku_ids = {n.sku_id for _, needs in waiting for n in needs if n.sku_id is not None}
    limited = [pk for pk, loc in locations.items() if loc.daily_capacity is not None]
    busy = busy_today(limited) if limited else {}
    free: dict[tuple[int, int], int] = {}
    levels: dict[tuple[int, int], int] = {}
    if sku_ids and locations:
        rows = (
            StockLevel.objects.select_for_update()
            .filter(location_id__in=sorted(locations), sku_id__in=sorted(sku_ids))
            .order_by("pk")
            .values_list("pk", "location_id", "sku_id", "on_hand", "reserved", "allow_backorder")
        )
        for pk, location_id, sku_id, on_hand, reserved, backorder in rows:
            levels[(sku_id, location_id)] = pk
            free[(sku_id, location_id)] = UNLIMITED if backorder else max(0, on_hand - reserved)
    return busy, free, levels


def _plan_one(
    order: Order,
    lines: list[OrderLine],
    needs: list[Need],
    busy: dict[int, int],
    free: dict[tuple[int, int], int],
    pending: dict[tuple[int, int], Shipment],
) -> _Planned:
    """Plan one order as order_route would on the figures the batch has left, and take what
    the plan uses from them (units, and a shipment of the day for each new shipment)."""
    fresh = _fresh(lines)
    address = dict(order.shipping_address or {})
    country = str(address.get("country") or "")
    destination = geocode(address)
    policy, candidates, rejected = _policy_and_candidates(order, destination, country, (), busy)
    sku_ids = {n.sku_id for n in needs if n.sku_id is not None}
    for c in candidates + rejected:
        for sku in sku_ids:
            if (sku, c.location.pk) in free:
                c.free[sku] = free[(sku, c.location.pk)]
    before = {id(c): dict(c.free) for c in candidates}
    plan = _plan(needs, candidates, policy)
    for c in candidates:  # the explanation shows availability before the choice
        c.free = before[id(c)]
    tracked = {n.key: n.sku_id for n in needs}
    for line_id, location_id, quantity in plan.allocations:
        key = (tracked.get(line_id), location_id)
        if key in free and free[key] < UNLIMITED:
            free[key] -= quantity
    for location_id in {loc for _, loc, _ in plan.allocations}:
        if (order.pk, location_id) not in pending:  # a new shipment of the day
            busy[location_id] = busy.get(location_id, 0) + 1
    return _Planned(
        order, lines, needs, fresh, address, destination, policy, candidates, rejected, plan
    )


def _allocated_after(one: _Planned) -> list[tuple[int, int]]:
    """(sku id, units allocated) of each line with a SKU, as the plan will leave it."""
    added: dict[int, int] = {}
    for line_id, _location_id, quantity in one.plan.allocations:
        added[line_id] = added.get(line_id, 0) + quantity
    return [
        (ln.sku_id, ln.quantity_allocated + added.get(ln.pk, 0))
        for ln in one.lines
        if ln.sku_id is not None
    ]


def _write(
    planned: list[_Planned],
    levels: dict[tuple[int, int], int],
    pending: dict[tuple[int, int], Shipment],
    trigger: str,
    actor: str,
) -> dict[int, RoutingDecision]:
    """Write the batch's plans: reservations, lines and statuses (orders), the decisions,
    the shipments and the timeline, one statement each; then the holds a shortage asks for."""
    if not planned:
        return {}
    short_hold = {
        one.order.pk
        for one in planned
        if one.plan.short and one.policy.on_shortage == ShortagePolicy.HOLD
    }
    entries = orders_allocate_many_locked(
        items=[(one.order, one.lines, one.plan.allocations) for one in planned],
        actor=actor,
        levels=levels,
        backorder={one.order.pk for one in planned if one.plan.short} - short_hold,
    )
    decisions = RoutingDecision.objects.bulk_create([_decision(one, trigger) for one in planned])
    _shipments_write(planned, decisions, pending)
    timeline: list[tuple[Order, str, str, dict[str, Any]]] = []
    for one, decision in zip(planned, decisions, strict=True):
        before, after = entries[one.order.pk]
        routed = {"outcome": one.plan.kind, "reason": one.plan.reason, "decision": decision.pk}
        timeline += [(one.order, *e) for e in before]
        timeline.append((one.order, "routed", actor, routed))
        timeline += [(one.order, *e) for e in after]
    orders_events_add(entries=timeline)
    for one in planned:
        if one.order.pk in short_hold:
            order_hold(
                order=one.order,
                reason=HoldReason.CUSTOMER_CARE,
                note="Not enough stock to ship complete: " + one.plan.reason,
                actor=actor,
            )
    return {one.order.pk: d for one, d in zip(planned, decisions, strict=True)}


def _decision(one: _Planned, trigger: str) -> RoutingDecision:
    return RoutingDecision(
        order=one.order,
        trigger=trigger,
        outcome=one.plan.kind,
        explanation=_explain(
            trigger=trigger,
            destination=one.destination,
            address=one.address,
            policy=one.policy,
            candidates=one.candidates,
            rejected=one.rejected,
            plan=one.plan,
            needs=one.needs,
        ),
    )


def _shipments_write(
    planned: list[_Planned],
    decisions: list[RoutingDecision],
    pending: dict[tuple[int, int], Shipment],
) -> None:
    """Each plan's units join the order's pending shipment at each location (an order that had
    something allocated before), or a new one: the new shipments and their lines are two
    INSERTs for the batch, the joined lines one UPDATE and one INSERT."""
    joined_lines = _joined_lines(list(pending.values()))
    add: list[tuple[int, int]] = []  # (shipment line id, quantity)
    extra: list[ShipmentLine] = []
    new: list[tuple[Shipment, list[tuple[int, int]]]] = []
    for one, decision in zip(planned, decisions, strict=True):
        by_location: dict[int, list[tuple[int, int]]] = {}
        for line_id, location_id, quantity in one.plan.allocations:
            by_location.setdefault(location_id, []).append((line_id, quantity))
        dates = _dates(one.plan, one.candidates, str(one.address.get("country") or ""))
        for location_id, items in by_location.items():
            joined = pending.get((one.order.pk, location_id))
            if joined is None:
                ship, deliver = dates.get(location_id, (None, None))
                shipment = Shipment(
                    order=one.order,
                    location_id=location_id,
                    decision=decision,
                    expected_ship_date=ship,
                    expected_delivery_date=deliver,
                )
                new.append((shipment, items))
                continue
            for line_id, quantity in items:
                found = joined_lines.get((joined.pk, line_id), [])
                add += [(pk, quantity) for pk in found]
                if not found:
                    extra.append(
                        ShipmentLine(shipment=joined, order_line_id=line_id, quantity=quantity)
                    )
    _shipment_lines_add(add)
    if new:
        Shipment.objects.bulk_create([s for s, _ in new])
        extra += [
            ShipmentLine(shipment=s, order_line_id=line_id, quantity=quantity)
            for s, items in new
            for line_id, quantity in items
        ]
    if extra:
        ShipmentLine.objects.bulk_create(extra)
    with outbox_batch():  # published once the shipments have their lines
        events.publish_many(
            [
                ShipmentCreated(shipment_id=s.pk, order_id=s.order_id, location_id=s.location_id)
                for s, _ in new
            ]
        )


def _pending_shipments(order_ids: list[int]) -> dict[tuple[int, int], Shipment]:
    """The first pending shipment of each (order, location) of these orders, locked."""
    pending: dict[tuple[int, int], Shipment] = {}
    if order_ids:
        for shipment in (
            Shipment.objects.select_for_update()
            .filter(order_id__in=order_ids, status=ShipmentStatus.PENDING)
            .order_by("pk")
        ):
            pending.setdefault((shipment.order_id, shipment.location_id), shipment)
    return pending


def _joined_lines(shipments: list[Shipment]) -> dict[tuple[int, int], list[int]]:
    """The lines of these shipments: their ids by (shipment id, order line id)."""
    found: dict[tuple[int, int], list[int]] = {}
    if shipments:
        for pk, shipment_id, line_id in ShipmentLine.objects.filter(
            shipment__in=shipments
        ).values_list("pk", "shipment_id", "order_line_id"):
            found.setdefault((shipment_id, line_id), []).append(pk)
    return found


def _shipment_lines_add(add: list[tuple[int, int]]) -> None:
    """Add quantities to shipment lines (by id) in one UPDATE."""
    if not add:
        return
    if len(add) == 1:
        ShipmentLine.objects.filter(pk=add[0][0]).update(quantity=F("quantity") + add[0][1])
        return
    table = connection.ops.quote_name(ShipmentLine._meta.db_table)
    values = ", ".join(["(%s, %s)"] * len(add))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET quantity = {table}.quantity + v.column2 "
            f"FROM (VALUES {values}) AS v WHERE {table}.id = v.column1",
            [x for row in add for x in row],
        )


# --- backorders after a receipt ------------------------------------------------------------


#: Backorders re-routed in one transaction (fulfilment.services.routing_batch).
REROUTE_BATCH = 500


def backorders_reroute(*, sku_ids: Sequence[int], limit: int = 10_000) -> int:
    """Route again the backordered orders waiting for these SKUs, most urgent first (priority,
    then age), in batches of REROUTE_BATCH orders (one transaction each, planned as if routed
    one by one: fulfilment.services.routing_batch); a batch that fails is routed one order at a
    time instead. Orders waiting only for SKUs with nothing free anywhere (what the orders
    before them left) are skipped without a routing attempt. Returns how many orders got
    something."""
    free: dict[int, int] = {}
    for sku_id, on_hand, reserved, backorder in StockLevel.objects.filter(
        sku_id__in=list(sku_ids), location__is_active=True, location__ships_online=True
    ).values_list("sku_id", "on_hand", "reserved", "allow_backorder"):
        free[sku_id] = free.get(sku_id, 0) + (
            UNLIMITED if backorder else max(0, on_hand - reserved)
        )
    waiting = (
        OrderLine.objects.filter(
            sku_id__in=[sku for sku, n in free.items() if n > 0],
            order__status=OrderStatus.BACKORDERED,
            order__is_on_hold=False,
            quantity__gt=F("quantity_allocated") + F("quantity_shipped") + F("quantity_cancelled"),
        )
        .order_by("-order__priority", "order__created_at", "order_id")
        .values_list("order_id", "sku_id")
    )
    gate = BackorderGate(free, limit)
    for order_id, sku_id in waiting.iterator(chunk_size=2000):
        gate.skus.setdefault(order_id, []).append(sku_id)
    order_ids = list(gate.skus)
    for start in range(0, len(order_ids), REROUTE_BATCH):
        if gate.attempted >= limit:
            break
        _backorders_batch(order_ids[start : start + REROUTE_BATCH], gate)
    return gate.served


class BackorderGate:
    """Which backorders a re-routing attempts (routing_batch.Gate): an order waiting for a SKU
    with units still free somewhere, while fewer than `limit` were attempted; the units each
    routed order holds are taken from the running free counts."""

    def __init__(self, free: dict[int, int], limit: int) -> None:
        self.free = free
        self.limit = limit
        self.skus: dict[int, list[int]] = {}  # order id -> the SKUs it waits for
        self.attempted = 0
        self.served = 0

    def wants(self, order_id: int) -> bool:
        if self.attempted >= self.limit:
            return False
        if not any(self.free.get(sku, 0) > 0 for sku in self.skus.get(order_id, ())):
            return False  # nothing of what it waits for is left anywhere: no attempt
        self.attempted += 1
        return True

    def planned(self, order_id: int, outcome: str, allocated: list[tuple[int, int]]) -> None:
        if outcome == "none":
            return
        self.served += 1
        for sku, quantity in allocated:
            if sku in self.free and self.free[sku] < UNLIMITED:
                self.free[sku] = max(0, self.free[sku] - quantity)

    def state(self) -> tuple[dict[int, int], int, int]:
        return dict(self.free), self.attempted, self.served

    def restore(self, state: tuple[dict[int, int], int, int]) -> None:
        self.free, self.attempted, self.served = dict(state[0]), state[1], state[2]


def _backorders_batch(order_ids: list[int], gate: BackorderGate) -> None:
    """Re-route one batch of backorders; if the batch fails, one order at a time."""
    before = gate.state()
    try:
        orders_route_batch(order_ids=order_ids, trigger="stock_arrived", gate=gate)
        return
    except Exception:  # the batch changed nothing: the single path decides, order by order
        logger.warning("Re-routing a batch of %s backorders failed", len(order_ids), exc_info=True)
        gate.restore(before)
    for order_id in order_ids:
        if not gate.wants(order_id):
            continue
        decision = order_route(order_id=order_id, trigger="stock_arrived")
        if decision is None:
            continue
        gate.planned(
            order_id,
            decision.outcome,
            list(
                OrderLine.objects.filter(order_id=order_id, sku_id__isnull=False).values_list(
                    "sku_id", "quantity_allocated"
                )
            ),
        )
