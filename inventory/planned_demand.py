"""Planned demand: units that higher apps know will be ordered soon (e.g. subscription
renewals), fed to the forecasts' reorder quantities without inventory importing those apps.

A provider is a callable `provider(now, horizon) -> {(sku_id, location_id or None): units}`:
the units it expects to be ordered between `now` and `now + horizon` (location None: anywhere
in the network). Apps register theirs in their AppConfig.ready(); registering the same callable
twice keeps one. Providers must read in a constant number of queries.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable

PlannedKey = tuple[int, int | None]
Provider = Callable[[dt.datetime, dt.timedelta], dict[PlannedKey, int]]

#: The horizon the forecasts ask for (the issue: demand due in the next 30 days).
HORIZON = dt.timedelta(days=30)

_providers: list[Provider] = []


def planned_demand_register(provider: Provider) -> Provider:
    """Register `provider` (once); returns it, so it can decorate."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def planned_demand_unregister(provider: Provider) -> None:
    if provider in _providers:
        _providers.remove(provider)


def planned_demand(now: dt.datetime, horizon: dt.timedelta = HORIZON) -> dict[PlannedKey, int]:
    """The planned units of every provider, added up per (sku_id, location_id or None)."""
    total: dict[PlannedKey, int] = defaultdict(int)
    for provider in list(_providers):
        for key, units in provider(now, horizon).items():
            if units > 0:
                total[key] += int(units)
    return dict(total)
