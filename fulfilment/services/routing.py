"""Real-time routing: each order goes to the nearest location that can ship it complete, else
to the fewest shipments, else what can be is allocated and the rest backordered (or held).

Invariants:
- candidates are the channel's active, online-shipping locations that the rules allow for the
  destination and that have capacity left today;
- reservations and shipments are created in one transaction: both exist or neither; a
  reservation that loses a race re-plans on fresh stock (bounded retries), it never oversells;
- every decision is stored with its explanation (candidates, distances, availability, why);
- an order on hold, cancelled or fully shipped is never routed.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from fulfilment.delivery_dates import Calendar, Dates, dates_for, default_bands, location_schedules
from fulfilment.events import ShipmentCreated
from fulfilment.geocoding import Point, geocode, haversine_km
from fulfilment.models import (
    RoutingDecision,
    RoutingRule,
    RuleKind,
    Shipment,
    ShipmentLine,
    ShortagePolicy,
)
from fulfilment.states import ShipmentStatus
from inventory.models import Location, StockLevel
from oms import events
from oms.errors import InsufficientStock
from oms.outbox import outbox_batch
from oms.refdata import cached
from orders.models import Order, OrderLine
from orders.services import (
    order_allocate_locked,
    order_events_add,
    order_hold,
    order_lock_with_lines,
    order_status_set,
)
from orders.states import HoldReason, OrderStatus

UNLIMITED = 10**9
DEFAULT_MAX_SPLITS = 3
RETRIES = 3


@dataclass
class Candidate:
    location: Location
    priority: int
    distance_km: float | None = None
    free: dict[int, int] = field(default_factory=dict)  # sku id -> units free to reserve
    rejected: str = ""

    def can_give(self, sku_id: int | None, quantity: int) -> bool:
        return sku_id is None or self.free.get(sku_id, 0) >= quantity

    def sort_key(self) -> tuple[float, int, str]:
        return (
            self.distance_km if self.distance_km is not None else float("inf"),
            self.priority,
            self.location.code,
        )


class Rule(Protocol):
    """What routing reads of a rule: a live RoutingRule, or a draft's rule in a what-if."""

    name: str
    kind: str
    priority: int | None
    allow_split: bool | None
    max_splits: int | None
    on_shortage: str

    @property
    def channel_id(self) -> int | None: ...

    @property
    def country_list(self) -> list[str]: ...


@dataclass(frozen=True)
class RuleSet:
    """Rules and locations to route with instead of the live ones: the active rules in their
    order with their locations' ids, and each channel's routable locations by primary key."""

    rules: Sequence[tuple[Rule, frozenset[int]]]
    locations: dict[int, list[Location]]


@dataclass
class Policy:
    allow_split: bool = True
    max_splits: int = DEFAULT_MAX_SPLITS
    on_shortage: str = ShortagePolicy.BACKORDER
    rules: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Need:
    """One thing to ship: `key` is the order line id (or a basket index for a promise)."""

    key: int
    sku_id: int | None  # None: no stock needed (the SKU does not track inventory)
    sku_code: str
    quantity: int


@dataclass
class Plan:
    kind: str  # single | split | partial | none
    allocations: list[tuple[int, int, int]]  # (order line id, location id, quantity)
    reason: str
    short: list[tuple[int, int]] = field(default_factory=list)  # (order line id, quantity)


def _needs(lines: Sequence[OrderLine]) -> list[Need]:
    """What the order still needs: its unallocated quantities of known SKUs."""
    needs = []
    for line in lines:
        quantity = line.quantity_unallocated
        if quantity <= 0 or line.sku is None:
            continue
        tracked = line.sku.track_inventory
        needs.append(Need(line.pk, line.sku_id if tracked else None, line.sku_code, quantity))
    return needs


def channel_locations(channel_id: int) -> list[Location]:
    """The channel's active, online-shipping locations by primary key (cached: oms.refdata)."""
    return cached(
        ("routing-locations", channel_id),
        lambda: list(
            Location.objects.filter(
                channels=channel_id, is_active=True, ships_online=True
            ).order_by("pk")
        ),
    )


def live_rules() -> list[tuple[Rule, frozenset[int]]]:
    """The active routing rules in their order, with their locations' ids (cached)."""
    return cached(
        ("routing-rules",),
        lambda: [
            (rule, frozenset(loc.pk for loc in rule.locations.all()))
            for rule in RoutingRule.objects.filter(is_active=True)
            .prefetch_related("locations")
            .order_by("position", "id")
        ],
    )


def _policy_and_candidates(
    order: Order,
    destination: Point | None,
    country: str,
    exclude: Sequence[int] = (),
    busy: dict[int, int] | None = None,
    rule_set: RuleSet | None = None,
) -> tuple[Policy, list[Candidate], list[Candidate]]:
    """The order's policy, its candidates (nearest first) and the rejected locations. `busy`:
    shipments created today per location, if the caller counted them (else they are read).
    `rule_set`: the rules and locations to route with instead of the live ones (a what-if
    replay, fulfilment.services.routing_replay)."""
    policy = Policy()
    if rule_set is None:
        locations = channel_locations(order.channel_id)
    else:
        locations = rule_set.locations.get(order.channel_id, [])
    candidates = {loc.pk: Candidate(location=loc, priority=loc.priority) for loc in locations}
    rejected: list[Candidate] = []
    for pk in set(exclude) & set(candidates):
        c = candidates.pop(pk)
        c.rejected = "gave up a shipment of this order"
        rejected.append(c)
    rules = live_rules() if rule_set is None else rule_set.rules
    _rules_apply(order, country, policy, candidates, rejected, rules)
    if not policy.allow_split:
        policy.max_splits = 1
    _capacity_check(candidates, rejected, busy)
    for c in list(candidates.values()) + rejected:
        if destination is not None and c.location.latitude is not None:
            c.distance_km = round(
                haversine_km(
                    (destination.latitude, destination.longitude),
                    (float(c.location.latitude), float(c.location.longitude or 0)),
                ),
                1,
            )
    ordered = list(candidates.values())
    if destination is None:
        # Unplaceable destination: locations in its country first, then by priority.
        ordered.sort(
            key=lambda c: (str(c.location.country) != country, c.priority, c.location.code)
        )
    else:
        ordered.sort(key=Candidate.sort_key)
    return policy, ordered, rejected


def _reject(
    candidates: dict[int, Candidate], rejected: list[Candidate], pks: Iterable[int], why: str
) -> None:
    """Move the candidates of `pks` to `rejected`, saying why."""
    for pk in pks:
        c = candidates.pop(pk)
        c.rejected = why
        rejected.append(c)


def _rules_apply(
    order: Order,
    country: str,
    policy: Policy,
    candidates: dict[int, Candidate],
    rejected: list[Candidate],
    rules: Sequence[tuple[Rule, frozenset[int]]],
) -> None:
    """The active routing rules (with their locations' ids), in their order, on the candidates
    and the policy: the first rule that decides a split setting wins it."""
    decided: set[str] = set()
    for rule, members in rules:
        if rule.kind == RuleKind.SERVES:
            if country not in rule.country_list:
                why = f"serves only {', '.join(rule.country_list)} ({rule.name})"
                _reject(candidates, rejected, members & set(candidates), why)
            continue
        if rule.channel_id not in (None, order.channel_id):
            continue
        if rule.country_list and country not in rule.country_list:
            continue
        policy.rules.append(rule.name)
        if rule.kind == RuleKind.EXCLUDE:
            why = f"excluded by rule “{rule.name}”"
            _reject(candidates, rejected, members & set(candidates), why)
        elif rule.kind == RuleKind.ONLY:
            why = f"not allowed by rule “{rule.name}”"
            _reject(candidates, rejected, set(candidates) - members, why)
        elif rule.kind == RuleKind.PRIORITY and rule.priority is not None:
            for pk in members & set(candidates):
                candidates[pk].priority = rule.priority
        elif rule.kind == RuleKind.SPLITS:
            _splits_apply(rule, policy, decided)


def _splits_apply(rule: Rule, policy: Policy, decided: set[str]) -> None:
    """A SPLITS rule's settings that no earlier rule decided (`decided` names those)."""
    if rule.allow_split is not None and "split" not in decided:
        policy.allow_split = rule.allow_split
        decided.add("split")
    if rule.max_splits and "max" not in decided:
        policy.max_splits = rule.max_splits
        decided.add("max")
    if rule.on_shortage and "shortage" not in decided:
        policy.on_shortage = rule.on_shortage
        decided.add("shortage")


def busy_today(location_ids: Iterable[int]) -> dict[int, int]:
    """Shipments created today per location, cancelled ones aside (one query)."""
    return dict(
        Shipment.objects.filter(
            location_id__in=list(location_ids), created_at__date=timezone.localdate()
        )
        .exclude(status=ShipmentStatus.CANCELLED)
        .values("location_id")
        .annotate(n=Count("id"))
        .values_list("location_id", "n")
    )


def _capacity_check(
    candidates: dict[int, Candidate], rejected: list[Candidate], busy: dict[int, int] | None
) -> None:
    """Reject the candidates whose daily capacity is used up: shipments created today per
    location, cancelled ones aside (counted only where a location has a daily capacity;
    `busy` holds the counts when the caller has them)."""
    limited = [pk for pk, c in candidates.items() if c.location.daily_capacity is not None]
    if busy is None:
        busy = busy_today(limited) if limited else {}
    for pk in list(candidates):
        cap = candidates[pk].location.daily_capacity
        if cap is not None and busy.get(pk, 0) >= cap:
            c = candidates.pop(pk)
            c.rejected = f"capacity full ({busy.get(pk, 0)}/{cap} shipments today)"
            rejected.append(c)


def _load_free(candidates: Sequence[Candidate], sku_ids: set[int]) -> dict[tuple[int, int], int]:
    """Fill in the candidates' free units; returns the StockLevel ids by (sku, location)."""
    rows = StockLevel.objects.filter(
        location_id__in=[c.location.pk for c in candidates], sku_id__in=sku_ids
    ).values_list("pk", "location_id", "sku_id", "on_hand", "reserved", "allow_backorder")
    by_location = {c.location.pk: c for c in candidates}
    levels: dict[tuple[int, int], int] = {}
    for pk, location_id, sku_id, on_hand, reserved, backorder in rows:
        levels[(sku_id, location_id)] = pk
        by_location[location_id].free[sku_id] = (
            UNLIMITED if backorder else max(0, on_hand - reserved)
        )
    return levels


def _plan(needs: list[Need], candidates: list[Candidate], policy: Policy) -> Plan:
    """A single shipment from the nearest location that has everything, else the fewest
    shipments (at most 3, within the policy), else what can be allocated."""
    for c in candidates:
        if all(c.can_give(n.sku_id, n.quantity) for n in needs):
            where = f"{c.distance_km} km" if c.distance_km is not None else f"priority {c.priority}"
            return Plan(
                "single",
                [(n.key, c.location.pk, n.quantity) for n in needs],
                f"nearest location that can ship every line: {c.location.code} ({where})",
            )
    useful = [c for c in candidates if any(c.can_give(n.sku_id, n.quantity) for n in needs)]
    for size in range(2, min(policy.max_splits, 3) + 1):
        split = _plan_split(needs, useful, size)
        if split is not None:
            return split
    return _plan_partial(needs, candidates, policy)


def _assign(needs: list[Need], group: Sequence[Candidate]) -> list[tuple[int, int, int]] | None:
    """Each need from the first location of `group` that can give all of it, or None."""
    plan = []
    for need in needs:
        giver = next((c for c in group if c.can_give(need.sku_id, need.quantity)), None)
        if giver is None:
            return None
        plan.append((need.key, giver.location.pk, need.quantity))
    return plan


def _plan_split(needs: list[Need], useful: list[Candidate], size: int) -> Plan | None:
    """The cheapest group of exactly `size` locations that ships everything (distance, then
    priority), or None."""
    best: tuple[tuple[float, int], list[tuple[int, int, int]], list[Candidate]] | None = None
    for group in itertools.combinations(useful, size):
        plan = _assign(needs, group)
        if plan is None:
            continue
        used = {loc for _, loc, _ in plan}
        if len(used) < size:
            continue  # a smaller group would do: found at a smaller size already
        chosen = [c for c in group if c.location.pk in used]
        cost = (
            sum(c.distance_km if c.distance_km is not None else 1e6 for c in chosen),
            sum(c.priority for c in chosen),
        )
        if best is None or cost < best[0]:
            best = (cost, plan, chosen)
    if best is None:
        return None
    codes = ", ".join(c.location.code for c in best[2])
    return Plan(
        "split",
        best[1],
        f"no location has everything; fewest shipments: {size} ({codes}), "
        f"{best[0][0]:.0f} km in all",
    )


def _plan_partial(needs: list[Need], candidates: list[Candidate], policy: Policy) -> Plan:
    """Allocate what can be, nearest first, never more shipments than allowed."""
    allocations: list[tuple[int, int, int]] = []
    short: list[tuple[int, int]] = []
    opened: list[int] = []
    for need in needs:
        sku, remaining = need.sku_id, need.quantity
        for c in candidates:
            if remaining == 0:
                break
            if c.location.pk not in opened and len(opened) >= policy.max_splits:
                continue
            give = remaining if sku is None else min(remaining, c.free.get(sku, 0))
            if give <= 0:
                continue
            if sku is not None:
                c.free[sku] -= give
            allocations.append((need.key, c.location.pk, give))
            remaining -= give
            if c.location.pk not in opened:
                opened.append(c.location.pk)
        if remaining:
            short.append((need.key, remaining))
    kind = "partial" if allocations else "none"
    reason = (
        "not enough stock anywhere allowed: allocated what could be, the rest waits"
        if allocations
        else "no allowed location has any of it"
    )
    return Plan(kind, allocations, reason, short)


def _explain(
    *,
    trigger: str,
    destination: Point | None,
    address: dict[str, Any],
    policy: Policy,
    candidates: list[Candidate],
    rejected: list[Candidate],
    plan: Plan,
    needs: list[Need],
) -> dict[str, Any]:
    chosen = {loc for _, loc, _ in plan.allocations}
    sku_codes = {n.sku_id: n.sku_code for n in needs if n.sku_id is not None}
    rows = []
    for c in candidates + rejected:
        status = c.rejected and f"rejected: {c.rejected}"
        if not status:
            complete = all(c.can_give(n.sku_id, n.quantity) for n in needs)
            status = (
                "chosen"
                if c.location.pk in chosen
                else ("could ship everything, but farther" if complete else "not enough stock")
            )
        rows.append(
            {
                "location": c.location.code,
                "distance_km": c.distance_km,
                "priority": c.priority,
                "available": {
                    code: min(c.free.get(sku, 0), UNLIMITED) for sku, code in sku_codes.items()
                },
                "status": status,
            }
        )
    return {
        "trigger": trigger,
        "destination": {
            "country": address.get("country", ""),
            "postal_code": address.get("postal_code", ""),
            "precision": destination.precision if destination else "unplaced",
            "latitude": destination.latitude if destination else None,
            "longitude": destination.longitude if destination else None,
            "note": ""
            if destination
            else ("destination could not be placed: locations in its country first, by priority"),
        },
        "rules": policy.rules,
        "max_shipments": policy.max_splits,
        "candidates": rows,
        "choice": {"kind": plan.kind, "reason": plan.reason},
        "short": [{"line": ln, "quantity": q} for ln, q in plan.short],
    }


def plan_dates(
    plan: Plan, candidates: Sequence[Candidate], country: str, now: dt.datetime | None = None
) -> dict[int, Dates]:
    """The expected dates of each location the plan uses (routing records them on the
    shipments; the delivery promise shows them before an order exists)."""
    used = {loc for _, loc, _ in plan.allocations}
    if not used:
        return {}
    by_pk = {c.location.pk: c for c in candidates}
    now = now or timezone.now()
    schedules = location_schedules()
    calendar = Calendar({country} | {str(by_pk[pk].location.country) for pk in used}, now.date())
    bands = default_bands()
    return {
        pk: dates_for(
            location=by_pk[pk].location,
            destination_country=country,
            distance_km=by_pk[pk].distance_km,
            now=now,
            calendar=calendar,
            bands=bands,
            schedule=schedules.get(pk),
        )
        for pk in used
    }


def _dates(plan: Plan, candidates: list[Candidate], country: str) -> dict[int, tuple[Any, Any]]:
    """Expected ship and delivery dates per location used by the plan."""
    return {
        pk: (d.ship_date, d.delivery_date)
        for pk, d in plan_dates(plan, candidates, country).items()
    }


def _shipments(
    order: Order,
    plan: Plan,
    decision: RoutingDecision,
    dates: dict[int, tuple[Any, Any]],
    *,
    fresh: bool = False,
) -> list[Shipment]:
    """The plan's units join the order's pending shipment at each location, or a new one.
    `fresh`: nothing of the order was allocated before this plan, so it has no pending
    shipment to join (none is looked for). New shipments and their lines are two INSERTs."""
    by_location: dict[int, list[tuple[int, int]]] = {}
    for line_id, location_id, quantity in plan.allocations:
        by_location.setdefault(location_id, []).append((line_id, quantity))
    pending: dict[int, Shipment] = {}
    if not fresh:
        for shipment in (
            Shipment.objects.select_for_update()
            .filter(order=order, location_id__in=list(by_location), status=ShipmentStatus.PENDING)
            .order_by("pk")
        ):
            pending.setdefault(shipment.location_id, shipment)
    for location_id, items in by_location.items():
        joined = pending.get(location_id)
        if joined is None:
            continue
        for line_id, quantity in items:
            updated = ShipmentLine.objects.filter(shipment=joined, order_line_id=line_id).update(
                quantity=F("quantity") + quantity
            )
            if not updated:
                ShipmentLine.objects.create(
                    shipment=joined, order_line_id=line_id, quantity=quantity
                )
    new = [
        Shipment(
            order=order,
            location_id=location_id,
            decision=decision,
            expected_ship_date=dates.get(location_id, (None, None))[0],
            expected_delivery_date=dates.get(location_id, (None, None))[1],
        )
        for location_id in by_location
        if location_id not in pending
    ]
    if new:
        Shipment.objects.bulk_create(new)
        ShipmentLine.objects.bulk_create(
            ShipmentLine(shipment=shipment, order_line_id=line_id, quantity=quantity)
            for shipment in new
            for line_id, quantity in by_location[shipment.location_id]
        )
        events.publish_many(  # published once the shipments have their lines
            [
                ShipmentCreated(
                    shipment_id=shipment.pk, order_id=order.pk, location_id=shipment.location_id
                )
                for shipment in new
            ]
        )
    return [
        pending.get(location_id) or next(s for s in new if s.location_id == location_id)
        for location_id in by_location
    ]


def order_route(
    *,
    order_id: int,
    trigger: str,
    actor: str = "system",
    exclude_locations: Sequence[int] = (),
    savepoint: bool = True,
) -> RoutingDecision | None:
    """Route what the order still needs; returns the decision (None when nothing is needed).
    `exclude_locations` are left out this time (a location that cancelled a shipment).
    `savepoint=False`: the caller's transaction holds nothing but this routing (the routing
    port's callers), so a failure rolls it all back and no savepoint is needed.

    When the order had nothing allocated before and every unit found a place (the capture's
    case), the decision's `routed_order` is the order as routing left it, its lines, holds and
    shipments prefetched, so that the caller can answer without reading it again.

    Raises NotFound (no such order).
    """
    # Every outbox message of the decision (the integrator events' too): one INSERT at the end.
    with transaction.atomic(savepoint=savepoint), outbox_batch():
        order, lines = order_lock_with_lines(order_id)
        if order.is_on_hold or order.status in (
            OrderStatus.CANCELLED,
            OrderStatus.SHIPPED,
            OrderStatus.DELIVERED,
            OrderStatus.COMPLETED,
        ):
            return None
        fresh = not any(ln.quantity_allocated or ln.quantity_shipped for ln in lines)
        needs = _needs(lines)
        if not needs:
            return None
        address = dict(order.shipping_address or {})
        country = str(address.get("country") or "")
        destination = geocode(address)
        policy, candidates, rejected, plan, timeline = _plan_and_reserve(
            order, lines, needs, destination, country, exclude_locations, actor
        )
        decision = RoutingDecision.objects.create(
            order=order,
            trigger=trigger,
            outcome=plan.kind,
            explanation=_explain(
                trigger=trigger,
                destination=destination,
                address=address,
                policy=policy,
                candidates=candidates,
                rejected=rejected,
                plan=plan,
                needs=needs,
            ),
        )
        shipments = _shipments(
            order, plan, decision, _dates(plan, candidates, country), fresh=fresh
        )
        timeline.append(
            (
                "routed",
                actor,
                {"outcome": plan.kind, "reason": plan.reason, "decision": decision.pk},
            )
        )
        order_events_add(order=order, entries=timeline)
        if plan.short:
            _shortage_handle(order, plan, policy, actor)
        elif fresh:
            order._prefetched_objects_cache = {  # type: ignore[attr-defined]
                "lines": lines,
                "holds": [],  # not on hold when locked, and routing placed none
                "shipments": shipments,
            }
            decision.routed_order = order  # type: ignore[attr-defined]
        return decision


def _plan_and_reserve(
    order: Order,
    lines: list[OrderLine],
    needs: list[Need],
    destination: Point | None,
    country: str,
    exclude_locations: Sequence[int],
    actor: str,
) -> tuple[Policy, list[Candidate], list[Candidate], Plan, list[tuple[str, str, dict[str, Any]]]]:
    """Plan on the stock as it is and reserve the plan's units; a reservation that loses a race
    plans again on fresh figures (RETRIES in all). Returns the policy, the candidates (their
    availability as it was before the choice), the rejected ones, the plan and the timeline
    entries of the reservation."""
    sku_ids = {n.sku_id for n in needs if n.sku_id is not None}
    timeline: list[tuple[str, str, dict[str, Any]]] = []
    for attempt in range(RETRIES):
        policy, candidates, rejected = _policy_and_candidates(
            order, destination, country, exclude_locations
        )
        levels = _load_free(candidates + rejected, sku_ids)
        before = {id(c): dict(c.free) for c in candidates}
        plan = _plan(needs, candidates, policy)
        for c in candidates:  # the explanation shows availability before the choice
            c.free = before[id(c)]
        try:
            # A reservation the stock cannot serve changes nothing: plan again.
            if plan.allocations:
                timeline = order_allocate_locked(
                    order=order,
                    lines=lines,
                    allocations=plan.allocations,
                    actor=actor,
                    levels=levels,
                )
            break
        except InsufficientStock:
            if attempt == RETRIES - 1:
                raise
            continue  # someone took the stock meanwhile: plan again on fresh figures
    return policy, candidates, rejected, plan, timeline


def _shortage_handle(order: Order, plan: Plan, policy: Policy, actor: str) -> None:
    """What was short waits: the order is held for customer care (policy HOLD) or, still
    pending, backordered."""
    order.refresh_from_db(fields=["status"])
    if policy.on_shortage == ShortagePolicy.HOLD:
        order_hold(
            order=order,
            reason=HoldReason.CUSTOMER_CARE,
            note="Not enough stock to ship complete: " + plan.reason,
            actor=actor,
        )
    elif order.status == OrderStatus.PENDING:
        order_status_set(order=order, status=OrderStatus.BACKORDERED, actor=actor)
