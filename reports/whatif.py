"""What-if routing: a draft of the routing configuration replayed on past orders, side by side
with the live one, and published when it is better.

Invariants:
- a draft starts as a copy of the live configuration (every routing rule, every active
  location's "ships online" and daily capacity) and remembers its fingerprint; publishing
  replaces the live configuration with the draft's in one transaction
  (fulfilment.services.routing_config), refused once the live one changed (409
  `routing_config_changed`); a published draft is read-only and publishing it again answers
  it unchanged;
- a run replays the orders that arrived in its window with routing's own planner
  (fulfilment.services.routing_replay) against the stock of that time from the ledger, once
  with the live rules and once with the draft's: it writes nothing but its own row (progress,
  then the result); it is enqueued through the outbox with the row, and running it again
  (a redelivery after a worker died) starts over and ends with the same result;
- the result holds, per side, the average distance per shipment, shipments per order,
  shipments per location, the average promised delivery days, the backorders, and the orders
  whose decision changed with both explanations (the first CHANGED_SHOWN of them).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_countries import countries as iso_countries

from fulfilment.models import RuleKind
from fulfilment.services.routing_config import (
    LocationSpec,
    RuleSpec,
    routing_config_get,
    routing_config_replace,
)
from fulfilment.services.routing_replay import (
    Decision,
    LocationSetting,
    ReplayOrder,
    orders_replay,
    rule_set_of,
    stock_replay,
    window_orders,
)
from inventory.models import Location
from oms.errors import Conflict, NotFound, ValidationFailed
from oms.outbox import outbox_enqueue
from reports.models import (
    DraftLocation,
    DraftRule,
    DraftStatus,
    RoutingDraft,
    RunStatus,
    WhatIfRun,
)

#: The longest window a run replays, in days.
MAX_WINDOW_DAYS = 366
#: The changed orders a result lists with their explanations (all are counted).
CHANGED_SHOWN = 200
MANAGE = "reports.manage_routing_drafts"


# --- drafts ------------------------------------------------------------------------------------


def country_codes(value: str) -> tuple[str, list[str]]:
    """Normalise "de, at fr" to "AT,DE,FR"; return it and the codes that are no country."""
    codes = [c.upper() for c in re.split(r"[\s,;]+", value or "") if c]
    unknown = [c for c in codes if not iso_countries.alpha2(c)]
    known = sorted({str(iso_countries.alpha2(c)) for c in codes if iso_countries.alpha2(c)})
    return ",".join(known), unknown


def rule_problems(rule: Mapping[str, Any]) -> dict[str, list[str]]:
    """What is wrong with a rule (as the routing rules' admin form checks it): field -> messages.
    `rule` has the RoutingRule fields, `locations` a collection."""
    problems: dict[str, list[str]] = {}
    kind = rule.get("kind")
    if kind not in RuleKind.values:
        problems["kind"] = [f"One of {', '.join(RuleKind.values)}."]
    needs_locations = (RuleKind.EXCLUDE, RuleKind.ONLY, RuleKind.PRIORITY, RuleKind.SERVES)
    if kind in needs_locations and not rule.get("locations"):
        problems["locations"] = ["Choose the locations this rule is about."]
    if kind == RuleKind.PRIORITY and rule.get("priority") is None:
        problems["priority"] = ["A priority rule sets a priority (lower is preferred)."]
    if kind == RuleKind.SERVES and not rule.get("countries"):
        problems["countries"] = ["List the countries these 3PL locations serve."]
    if rule.get("max_splits") is not None and rule["max_splits"] < 1:
        problems["max_splits"] = ["At least 1 shipment (1 = never split)."]
    if kind == RuleKind.SPLITS and (
        rule.get("allow_split") is None
        and rule.get("max_splits") is None
        and not rule.get("on_shortage")
    ):
        problems["non_field_errors"] = [
            "A split policy sets at least one of: allow split, max splits, on shortage."
        ]
    return problems


def routing_draft_create(
    *,
    name: str,
    actor: str,
    rules: Sequence[Mapping[str, Any]] | None = None,
    locations: Mapping[int, Mapping[str, Any]] | None = None,
) -> RoutingDraft:
    """A draft copied from the live routing configuration; `rules` (dicts of RoutingRule's
    fields, `channel` and `locations` as objects) replace the copied rules, `locations`
    (location id -> `ships_online` and/or `daily_capacity`) change the copied settings.
    Raises ValidationFailed (a rule with problems, a location not active)."""
    live = routing_config_get()
    errors = {
        f"rules.{n}.{key}": messages
        for n, rule in enumerate(rules or ())
        for key, messages in rule_problems(rule).items()
    }
    errors |= {
        f"locations.{pk}": ["Not an active location."]
        for pk in locations or {}
        if pk not in live.locations
    }
    if errors:
        raise ValidationFailed("The draft is not valid.", errors=errors)
    with transaction.atomic():
        draft = RoutingDraft.objects.create(
            name=name, based_on=live.fingerprint(), created_by=actor
        )
        if rules is None:
            _rules_copy(draft, live.rules)
        else:
            _rules_write(draft, rules)
        DraftLocation.objects.bulk_create(
            DraftLocation(
                draft=draft,
                location_id=pk,
                ships_online=(locations or {}).get(pk, {}).get("ships_online", s.ships_online),
                daily_capacity=(locations or {})
                .get(pk, {})
                .get("daily_capacity", s.daily_capacity),
            )
            for pk, s in sorted(live.locations.items())
        )
    return draft


def _rules_copy(draft: RoutingDraft, rules: Iterable[RuleSpec]) -> None:
    _rules_write(
        draft,
        [
            {
                **{k: getattr(r, k) for k in RULE_FIELDS if k != "channel"},
                "channel_id": r.channel_id,
                "locations": list(r.location_ids),
            }
            for r in rules
        ],
    )


RULE_FIELDS = (
    "position",
    "name",
    "is_active",
    "channel",
    "countries",
    "kind",
    "priority",
    "allow_split",
    "max_splits",
    "on_shortage",
)


def _rules_write(draft: RoutingDraft, rules: Sequence[Mapping[str, Any]]) -> None:
    made = DraftRule.objects.bulk_create(
        DraftRule(
            draft=draft,
            **{k: rule[k] for k in RULE_FIELDS if k in rule},
            **({"channel_id": rule["channel_id"]} if "channel_id" in rule else {}),
        )
        for rule in rules
    )
    through = DraftRule.locations.through
    through.objects.bulk_create(
        through(draftrule_id=made_rule.pk, location_id=getattr(loc, "pk", loc))
        for made_rule, rule in zip(made, rules, strict=True)
        for loc in rule.get("locations") or ()
    )


def _draft_rules(
    draft: RoutingDraft, *, active_only: bool
) -> list[tuple[DraftRule, frozenset[int]]]:
    """The draft's rules in their order with their locations' ids (routing reads the active
    ones only; publishing copies them all)."""
    rules = draft.rules.prefetch_related("locations").order_by("position", "id")
    if active_only:
        rules = rules.filter(is_active=True)
    return [(rule, frozenset(loc.pk for loc in rule.locations.all())) for rule in rules]


def _draft_settings(draft: RoutingDraft) -> dict[int, LocationSetting]:
    return {
        d.location_id: LocationSetting(d.ships_online, d.daily_capacity)
        for d in draft.locations.all()
    }


def routing_draft_publish(*, draft_id: int, actor: str) -> RoutingDraft:
    """Make the draft the live routing configuration (rules and location settings at once).
    Publishing a published draft returns it unchanged.

    Raises NotFound; Conflict (`routing_config_changed`: the live configuration changed since
    the draft was made)."""
    with transaction.atomic():
        draft = RoutingDraft.objects.select_for_update().filter(pk=draft_id).first()
        if draft is None:
            raise NotFound("No such routing draft.")
        if draft.status == DraftStatus.PUBLISHED:
            return draft
        rules = [
            RuleSpec(
                position=rule.position,
                name=rule.name,
                is_active=rule.is_active,
                channel_id=rule.channel_id,
                countries=rule.countries,
                kind=rule.kind,
                location_ids=tuple(sorted(members)),
                priority=rule.priority,
                allow_split=rule.allow_split,
                max_splits=rule.max_splits,
                on_shortage=rule.on_shortage,
            )
            for rule, members in _draft_rules(draft, active_only=False)
        ]
        settings = {
            pk: LocationSpec(s.ships_online, s.daily_capacity)
            for pk, s in _draft_settings(draft).items()
        }
        routing_config_replace(rules=rules, locations=settings, based_on=draft.based_on)
        draft.status = DraftStatus.PUBLISHED
        draft.published_at = timezone.now()
        draft.published_by = actor
        draft.save(update_fields=["status", "published_at", "published_by"])
    return draft


# --- runs --------------------------------------------------------------------------------------


def whatif_run_create(
    *, draft: RoutingDraft, start: dt.date, end: dt.date, actor: str
) -> WhatIfRun:
    """A run of the draft over the orders that arrived from `start` to `end` (local days,
    both included), enqueued (reports.whatif_run). Raises ValidationFailed."""
    today = timezone.localdate()
    errors: dict[str, list[str]] = {}
    if start > end:
        errors["from"] = ["`from` comes after `to`."]
    elif (end - start).days >= MAX_WINDOW_DAYS:
        errors["from"] = [f"A what-if covers at most {MAX_WINDOW_DAYS} days."]
    if end > today:
        errors["to"] = ["A what-if replays past orders: `to` is today at the latest."]
    if errors:
        raise ValidationFailed("The window is not valid.", errors=errors)
    with transaction.atomic():
        run = WhatIfRun.objects.create(draft=draft, start=start, end=end, created_by=actor)
        outbox_enqueue("reports.whatif_run", run_id=run.pk)
    return run


def _window(run: WhatIfRun) -> tuple[dt.datetime, dt.datetime]:
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(run.start, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(run.end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def whatif_run_execute(*, run_id: int) -> WhatIfRun:
    """Replay the run's window with the live and the draft rules and store the comparison.
    A finished run is returned as it is; one left running (a worker died) starts over.
    Raises NotFound."""
    with transaction.atomic():
        run = (
            WhatIfRun.objects.select_for_update().select_related("draft").filter(pk=run_id).first()
        )
        if run is None:
            raise NotFound("No such what-if run.")
        if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            return run
        run.status, run.started_at, run.orders_done = RunStatus.RUNNING, timezone.now(), 0
        run.save(update_fields=["status", "started_at", "orders_done"])
    start, end = _window(run)
    orders = window_orders(start=start, end=end)
    WhatIfRun.objects.filter(pk=run.pk).update(orders_total=len(orders))
    result = whatif_compare(
        orders=orders,
        start=start,
        end=end,
        draft=run.draft,
        progress=lambda done: WhatIfRun.objects.filter(pk=run.pk).update(orders_done=done),
    )
    result["window"] = {"from": run.start.isoformat(), "to": run.end.isoformat()}
    run.result, run.status, run.finished_at = result, RunStatus.SUCCEEDED, timezone.now()
    run.orders_total = run.orders_done = len(orders)
    run.save(update_fields=["result", "status", "finished_at", "orders_total", "orders_done"])
    return run


def whatif_run_fail(*, run_id: int, error: str) -> None:
    """Mark a run that gave up (the task's last failure)."""
    WhatIfRun.objects.filter(pk=run_id).exclude(status=RunStatus.SUCCEEDED).update(
        status=RunStatus.FAILED, error=error[:500], finished_at=timezone.now()
    )


@dataclass
class Figures:
    """What one side decided over the window."""

    orders: int = 0
    shipments: int = 0
    distance_km: float = 0.0
    distance_shipments: int = 0
    per_location: Counter[int] = field(default_factory=Counter)
    delivery_days: int = 0
    delivery_orders: int = 0
    backorders: int = 0
    units_short: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def add(self, decision: Decision) -> None:
        self.orders += 1
        self.outcomes[decision.plan.kind] += 1
        for location_id, km in decision.distances.items():
            self.shipments += 1
            self.per_location[location_id] += 1
            if km is not None:
                self.distance_km += km
                self.distance_shipments += 1
        if decision.delivery_days is not None:
            self.delivery_days += decision.delivery_days
            self.delivery_orders += 1
        if decision.plan.short:
            self.backorders += 1
            self.units_short += sum(q for _, q in decision.plan.short)

    def as_data(self, codes: Mapping[int, str]) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "shipments": self.shipments,
            "average_distance_km": _avg(self.distance_km, self.distance_shipments, 1),
            "shipments_per_order": _avg(self.shipments, self.orders, 2),
            "shipments_per_location": {
                codes.get(pk, str(pk)): n for pk, n in sorted(self.per_location.items())
            },
            "average_delivery_days": _avg(self.delivery_days, self.delivery_orders, 2),
            "backorders": self.backorders,
            "units_short": self.units_short,
            "outcomes": dict(sorted(self.outcomes.items())),
        }


def _avg(total: float, count: int, places: int) -> float | None:
    return round(total / count, places) if count else None


def whatif_compare(
    *,
    orders: Sequence[ReplayOrder],
    start: dt.datetime,
    end: dt.datetime,
    draft: RoutingDraft,
    progress: Any = None,
) -> dict[str, Any]:
    """Replay `orders` with the live configuration and with the draft's, on the stock of the
    window (see the module docstring); the comparison as JSON data."""
    channels = sorted({o.order.channel_id for o in orders})
    live = rule_set_of(channel_ids=channels)
    drafted = rule_set_of(
        channel_ids=channels,
        rules=_draft_rules(draft, active_only=True),
        settings=_draft_settings(draft),
    )
    stock = stock_replay(start=start, end=end, orders=orders)
    codes = dict(Location.objects.values_list("pk", "code"))
    sides = (Figures(), Figures())
    changed: list[dict[str, Any]] = []
    changed_count = 0
    for one, destination, (now, then) in orders_replay(
        orders=orders, stock=stock, rule_sets=(live, drafted), progress=progress
    ):
        sides[0].add(now)
        sides[1].add(then)
        if now.same_as(then):
            continue
        changed_count += 1
        if len(changed) < CHANGED_SHOWN:
            changed.append(
                {
                    "order": one.order.pk,
                    "number": one.order.number,
                    **{
                        name: {
                            "outcome": d.plan.kind,
                            "shipments": {codes[pk]: n for pk, n in sorted(d.shipments.items())},
                            "explanation": d.explanation(one, destination),
                        }
                        for name, d in (("current", now), ("draft", then))
                    },
                }
            )
    return {
        "orders": len(orders),
        "current": sides[0].as_data(codes),
        "draft": sides[1].as_data(codes),
        "changed_count": changed_count,
        "changed": changed,
    }


def whatif_run_get(*, run_id: int) -> WhatIfRun:
    """Raises NotFound."""
    run = WhatIfRun.objects.select_related("draft").filter(pk=run_id).first()
    if run is None:
        raise NotFound("No such what-if run.")
    return run


def draft_editable(draft: RoutingDraft) -> None:
    """Raises Conflict when the draft was published (it is then read-only)."""
    if draft.status == DraftStatus.PUBLISHED:
        raise Conflict("This draft was published: make a new one.", code="draft_published")
