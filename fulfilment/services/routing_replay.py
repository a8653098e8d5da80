"""Routing replayed on past orders, in memory: what a rule set would have decided (what-if).

Invariants:
- nothing is written and nothing is locked: the orders, the stock and the rules are read, and
  the plans live in memory;
- the decisions are routing's own (fulfilment.services.routing: the same candidates, rules,
  capacity check, planner and explanation), with a rule set given instead of the live one
  (routing.RuleSet) and the stock of that time instead of today's;
- the stock of that time comes from the ledger (as inventory.selectors.stock_levels_at does):
  the levels at the window's start, then every movement inside the window in time order,
  except those of the replayed orders themselves (their reservations, releases and shipments:
  the replay makes its own choices, and the units it allocates stay taken);
- each order is routed as when it arrived (every unit of its lines, whatever happened to it
  afterwards), in the order the orders arrived; a day's capacity counts the shipments the
  replay has opened that day at that location;
- two rule sets replayed together (`orders_replay`) start from the same stock and each keeps
  its own running counts, so their figures compare like for like.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from fulfilment.geocoding import geocode
from fulfilment.services.routing import (
    UNLIMITED,
    Candidate,
    Need,
    Plan,
    Policy,
    RuleSet,
    _explain,
    _plan,
    _policy_and_candidates,
    channel_locations,
    live_rules,
    plan_dates,
)
from inventory.models import Location, StockLevel, StockMovement
from inventory.selectors import stock_levels_at
from orders.models import Order, OrderLine
from orders.states import OrderStatus

TRIGGER = "what-if"


@dataclass
class ReplayOrder:
    """One past order as routing saw it when it arrived."""

    order: Order
    needs: list[Need]
    address: dict[str, Any]
    country: str


@dataclass
class Decision:
    """What one rule set decided for one order (in memory)."""

    plan: Plan
    policy: Policy
    candidates: list[Candidate]
    rejected: list[Candidate]
    #: km from each location used to the destination (None: unknown).
    distances: dict[int, float | None]
    #: days from the order's arrival to its last promised delivery (None: nothing allocated).
    delivery_days: int | None

    @property
    def shipments(self) -> dict[int, int]:
        """Units per location used."""
        used: dict[int, int] = {}
        for _, location_id, quantity in self.plan.allocations:
            used[location_id] = used.get(location_id, 0) + quantity
        return used

    def same_as(self, other: Decision) -> bool:
        return self.plan.kind == other.plan.kind and sorted(self.plan.allocations) == sorted(
            other.plan.allocations
        )

    def explanation(self, order: ReplayOrder, destination: Any) -> dict[str, Any]:
        return _explain(
            trigger=TRIGGER,
            destination=destination,
            address=order.address,
            policy=self.policy,
            candidates=self.candidates,
            rejected=self.rejected,
            plan=self.plan,
            needs=order.needs,
        )


# --- the orders and the stock of the window ------------------------------------------------


def window_orders(*, start: dt.datetime, end: dt.datetime) -> list[ReplayOrder]:
    """The orders that arrived in [start, end) in arrival order, cancelled ones aside, with what
    each needed when it arrived (two queries)."""
    orders = list(
        Order.objects.filter(created_at__gte=start, created_at__lt=end)
        .exclude(status=OrderStatus.CANCELLED)
        .only("id", "number", "channel_id", "shipping_address", "created_at")
        .order_by("created_at", "id")
    )
    needs: dict[int, list[Need]] = {o.pk: [] for o in orders}
    lines = (
        OrderLine.objects.filter(order_id__in=list(needs), sku__isnull=False)
        .order_by("order_id", "line_number", "id")
        .values_list("id", "order_id", "sku_id", "sku_code", "quantity", "sku__track_inventory")
    )
    for pk, order_id, sku_id, sku_code, quantity, tracked in lines.iterator(chunk_size=5000):
        needs[order_id].append(Need(pk, sku_id if tracked else None, sku_code, quantity))
    replay = []
    for order in orders:
        address = dict(order.shipping_address or {})
        if needs[order.pk]:
            replay.append(
                ReplayOrder(order, needs[order.pk], address, str(address.get("country") or ""))
            )
    return replay


@dataclass
class StockReplay:
    """Free units per (sku, location) as time goes by: the levels at the start, then the
    movements of the window that are not the replayed orders' own."""

    free: dict[tuple[int, int], int]
    backorder: set[tuple[int, int]]
    #: (when, (sku, location), change of on hand minus reserved), oldest first.
    changes: list[tuple[dt.datetime, tuple[int, int], int]]
    position: int = 0

    def advance(self, until: dt.datetime) -> None:
        """Apply the changes up to `until` (included)."""
        while self.position < len(self.changes) and self.changes[self.position][0] <= until:
            _, key, delta = self.changes[self.position]
            self.free[key] = self.free.get(key, 0) + delta
            self.position += 1

    def available(self, key: tuple[int, int]) -> int | None:
        """What routing would read as free (None: no stock level there)."""
        if key in self.backorder:
            return UNLIMITED
        if key not in self.free:
            return None
        return max(0, self.free[key])

    def take(self, key: tuple[int, int], quantity: int) -> None:
        if key not in self.backorder:
            self.free[key] = self.free.get(key, 0) - quantity

    def copy(self) -> StockReplay:
        return StockReplay(dict(self.free), self.backorder, self.changes, self.position)


def stock_replay(
    *, start: dt.datetime, end: dt.datetime, orders: Sequence[ReplayOrder]
) -> StockReplay:
    """The stock the window's orders could use, from the ledger (three queries)."""
    sku_ids = sorted({n.sku_id for o in orders for n in o.needs if n.sku_id is not None})
    if not sku_ids:
        return StockReplay({}, set(), [])
    free = {
        (row.sku_id, row.location_id): row.on_hand - row.reserved
        for row in stock_levels_at(at=start - dt.timedelta(microseconds=1), sku_ids=sku_ids)
    }
    own = {o.order.pk for o in orders}
    changes = []
    for when, sku_id, location_id, order_id, on_hand, reserved in (
        StockMovement.objects.filter(created_at__gte=start, created_at__lt=end, sku_id__in=sku_ids)
        .order_by("created_at", "id")
        .values_list(
            "created_at", "sku_id", "location_id", "order_id", "on_hand_delta", "reserved_delta"
        )
        .iterator(chunk_size=5000)
    ):
        if order_id in own or on_hand == reserved:
            continue
        changes.append((when, (sku_id, location_id), on_hand - reserved))
    backorder = set(
        StockLevel.objects.filter(sku_id__in=sku_ids, allow_backorder=True).values_list(
            "sku_id", "location_id"
        )
    )
    return StockReplay(free, backorder, changes)


# --- rule sets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocationSetting:
    """A location as a draft has it: whether it ships online orders, its daily capacity."""

    ships_online: bool
    daily_capacity: int | None


def rule_set_of(
    *,
    channel_ids: Sequence[int],
    rules: Sequence[tuple[Any, frozenset[int]]] | None = None,
    settings: Mapping[int, LocationSetting] | None = None,
) -> RuleSet:
    """A rule set for the replay: `rules` (active ones, in order; None: the live rules) and the
    channels' locations with `settings` applied (a location switched off is left out, a
    capacity changed is the draft's; None: the live locations)."""
    locations: dict[int, list[Location]] = {}
    switched_on = {}
    if settings:
        on = [pk for pk, s in settings.items() if s.ships_online]
        switched_on = {loc.pk: loc for loc in Location.objects.filter(pk__in=on, is_active=True)}
    for channel_id in channel_ids:
        live = {loc.pk: loc for loc in channel_locations(channel_id)}
        if settings:
            members = set(
                Location.channels.through.objects.filter(channel_id=channel_id).values_list(
                    "location_id", flat=True
                )
            )
            live.update({pk: loc for pk, loc in switched_on.items() if pk in members})
            live = {pk: _with(loc, settings.get(pk)) for pk, loc in live.items()}
            live = {pk: loc for pk, loc in live.items() if loc.ships_online}
        locations[channel_id] = [live[pk] for pk in sorted(live)]
    return RuleSet(rules=list(live_rules() if rules is None else rules), locations=locations)


def _with(location: Location, setting: LocationSetting | None) -> Location:
    """A copy of the (cached) location with a draft's setting."""
    if setting is None:
        return location
    changed = copy.copy(location)
    changed.ships_online = setting.ships_online
    changed.daily_capacity = setting.daily_capacity
    return changed


# --- the replay --------------------------------------------------------------------------------


@dataclass
class _Side:
    rule_set: RuleSet
    stock: StockReplay
    busy: dict[dt.date, dict[int, int]] = field(default_factory=dict)


def _decide(side: _Side, one: ReplayOrder, destination: Any) -> Decision:
    """Route one order with the side's rules on the side's stock, and take what it uses."""
    arrived = one.order.created_at
    side.stock.advance(arrived)
    busy = side.busy.setdefault(timezone.localdate(arrived), {})
    policy, candidates, rejected = _policy_and_candidates(
        one.order, destination, one.country, (), busy, side.rule_set
    )
    sku_ids = {n.sku_id for n in one.needs if n.sku_id is not None}
    for c in candidates + rejected:
        for sku in sku_ids:
            free = side.stock.available((sku, c.location.pk))
            if free is not None:
                c.free[sku] = free
    before = {id(c): dict(c.free) for c in candidates}
    plan = _plan(one.needs, candidates, policy)
    for c in candidates:  # the explanation shows availability before the choice
        c.free = before[id(c)]
    tracked = {n.key: n.sku_id for n in one.needs}
    for line_id, location_id, quantity in plan.allocations:
        taken = tracked.get(line_id)
        if taken is not None:
            side.stock.take((taken, location_id), quantity)
    used = {loc for _, loc, _ in plan.allocations}
    for location_id in used:
        busy[location_id] = busy.get(location_id, 0) + 1
    by_pk = {c.location.pk: c for c in candidates}
    days = None
    if used:
        dates = plan_dates(plan, candidates, one.country, now=arrived)
        last = max(d.delivery_date for d in dates.values())
        days = (last - timezone.localdate(arrived)).days
    return Decision(
        plan, policy, candidates, rejected, {pk: by_pk[pk].distance_km for pk in used}, days
    )


def orders_replay(
    *,
    orders: Sequence[ReplayOrder],
    stock: StockReplay,
    rule_sets: Sequence[RuleSet],
    progress: Callable[[int], None] | None = None,
    every: int = 250,
) -> Iterator[tuple[ReplayOrder, Any, list[Decision]]]:
    """Each order with its destination and the decision of each rule set, in arrival order;
    `progress(done)` is called every `every` orders and at the end."""
    sides = [_Side(rule_set, stock.copy()) for rule_set in rule_sets]
    for done, one in enumerate(orders, start=1):
        destination = geocode(one.address)
        yield one, destination, [_decide(side, one, destination) for side in sides]
        if progress is not None and (done % every == 0 or done == len(orders)):
            progress(done)
