"""The live routing configuration as a whole: the routing rules and the locations' routing
settings (ships online, daily capacity), read as one snapshot and replaced as one.

Invariants:
- a replacement is atomic: every rule and every location setting of the new configuration is
  written in one transaction, or nothing is (routing reads the old or the new, never a mix:
  its cache moves once, after the commit, oms.refdata);
- a replacement names the fingerprint of the configuration it was based on; if the live one
  changed meanwhile, nothing is written (Conflict `routing_config_changed`): a stale draft
  never overwrites someone else's change;
- the rules' and locations' rows are locked (primary-key order) while the fingerprint is
  checked and the new configuration written, so two replacements never interleave.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from django.db import transaction

from fulfilment.models import RoutingRule
from inventory.models import Location
from inventory.services.catalogue import location_update
from oms.errors import Conflict


@dataclass(frozen=True)
class RuleSpec:
    """A routing rule as a value (a draft's rule, or a live one read back)."""

    position: int
    name: str
    is_active: bool
    channel_id: int | None
    countries: str
    kind: str
    location_ids: tuple[int, ...]
    priority: int | None
    allow_split: bool | None
    max_splits: int | None
    on_shortage: str


@dataclass(frozen=True)
class LocationSpec:
    ships_online: bool
    daily_capacity: int | None


@dataclass(frozen=True)
class RoutingConfig:
    rules: tuple[RuleSpec, ...]
    #: location id -> its routing settings (every active location).
    locations: dict[int, LocationSpec]

    def fingerprint(self) -> str:
        data = {
            "rules": [asdict(r) for r in self.rules],
            "locations": sorted((pk, asdict(s)) for pk, s in self.locations.items()),
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


def routing_config_get(*, lock: bool = False) -> RoutingConfig:
    """The live configuration (`lock`: its rows locked in primary-key order)."""
    if lock:
        for model in (RoutingRule, Location):
            list(model.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
    rules = RoutingRule.objects.prefetch_related("locations").order_by("position", "id")
    locations = Location.objects.filter(is_active=True).order_by("pk")
    return RoutingConfig(
        rules=tuple(
            RuleSpec(
                position=r.position,
                name=r.name,
                is_active=r.is_active,
                channel_id=r.channel_id,
                countries=r.countries,
                kind=r.kind,
                location_ids=tuple(sorted(loc.pk for loc in r.locations.all())),
                priority=r.priority,
                allow_split=r.allow_split,
                max_splits=r.max_splits,
                on_shortage=r.on_shortage,
            )
            for r in rules
        ),
        locations={loc.pk: LocationSpec(loc.ships_online, loc.daily_capacity) for loc in locations},
    )


def routing_config_replace(
    *,
    rules: Sequence[RuleSpec],
    locations: Mapping[int, LocationSpec],
    based_on: str,
) -> RoutingConfig:
    """Make `rules` the live routing rules and apply `locations`' settings, all at once.
    Returns the new live configuration.

    Raises Conflict (`routing_config_changed`) when the live configuration is no longer the
    one whose fingerprint is `based_on`.
    """
    with transaction.atomic():
        live = routing_config_get(lock=True)
        if live.fingerprint() != based_on:
            raise Conflict(
                "The live routing rules or locations changed since this draft was made: "
                "make a new draft from them.",
                code="routing_config_changed",
            )
        RoutingRule.objects.all().delete()
        created = RoutingRule.objects.bulk_create(
            RoutingRule(
                position=r.position,
                name=r.name,
                is_active=r.is_active,
                channel_id=r.channel_id,
                countries=r.countries,
                kind=r.kind,
                priority=r.priority,
                allow_split=r.allow_split,
                max_splits=r.max_splits,
                on_shortage=r.on_shortage,
            )
            for r in rules
        )
        through = RoutingRule.locations.through
        through.objects.bulk_create(
            through(routingrule_id=rule.pk, location_id=pk)
            for rule, spec in zip(created, rules, strict=True)
            for pk in spec.location_ids
        )
        by_pk = {loc.pk: loc for loc in Location.objects.filter(pk__in=list(locations))}
        for pk, spec in sorted(locations.items()):
            loc = by_pk.get(pk)
            if loc is None or (loc.ships_online, loc.daily_capacity) == (
                spec.ships_online,
                spec.daily_capacity,
            ):
                continue
            location_update(
                location=loc,
                data={"ships_online": spec.ships_online, "daily_capacity": spec.daily_capacity},
            )
        return routing_config_get()
