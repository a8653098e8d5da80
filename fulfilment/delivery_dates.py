"""Delivery dates: when a location ships and when the parcel arrives (the calendar that routing
and the delivery promise, fulfilment.services.promise, both count with).

ship date = the first working day at the location on or after today (tomorrow once the daily
cut-off has passed), plus its handling days; delivery date = ship date plus the carrier
service's transit days for the distance, counted in the destination's working days. Working
days skip Sundays, Saturdays (unless the location works them) and the Holiday table.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass

from fulfilment.models import Holiday, LocationSchedule, TransitTime
from inventory.models import Location

FALLBACK_CARRIER = ("inhouse", "standard")


@dataclass(frozen=True)
class Dates:
    ship_date: dt.date
    delivery_date: dt.date
    carrier: str
    service: str


class Calendar:
    """Working days per country, with the holidays loaded once for the dates in play."""

    def __init__(self, countries: set[str], start: dt.date, days: int = 90) -> None:
        from oms.refdata import cached

        self.holidays: dict[str, set[dt.date]] = {c: set() for c in countries}
        key = ("holidays", frozenset(countries), start, days)
        for country, day in cached(
            key,
            lambda: list(
                Holiday.objects.filter(
                    country__in=countries,
                    date__gte=start,
                    date__lte=start + dt.timedelta(days=days),
                ).values_list("country", "date")
            ),
        ):
            self.holidays[country].add(day)

    def works(self, day: dt.date, country: str, saturday: bool = False) -> bool:
        if day.weekday() == 6 or (day.weekday() == 5 and not saturday):
            return False
        return day not in self.holidays.get(country, set())

    def add(self, day: dt.date, days: int, country: str, saturday: bool = False) -> dt.date:
        while not self.works(day, country, saturday):
            day += dt.timedelta(days=1)
        for _ in range(days):
            day += dt.timedelta(days=1)
            while not self.works(day, country, saturday):
                day += dt.timedelta(days=1)
        return day


def transit_days(distance_km: float | None, bands: list[TransitTime]) -> tuple[int, str, str]:
    """Transit days of the default service whose band covers the distance."""
    if distance_km is None:
        distance_km = 1500.0  # unplaced destination: assume far within a continent
    for band in bands:
        if distance_km <= band.max_km:
            return band.days, band.carrier, band.service
    if bands:
        last = bands[-1]
        return last.days + math.ceil((distance_km - last.max_km) / 1000), last.carrier, last.service
    return 1 + math.ceil(distance_km / 600), *FALLBACK_CARRIER


def default_bands() -> list[TransitTime]:
    """The default services' transit bands, nearest first (cached per process: oms.refdata)."""
    from oms.refdata import cached

    return cached(
        ("transit-default",),
        lambda: list(TransitTime.objects.filter(is_default=True).order_by("max_km")),
    )


def location_schedules() -> dict[int, LocationSchedule]:
    """Every location's schedule by location id (cached per process: oms.refdata)."""
    from oms.refdata import cached

    return cached(
        ("location-schedules",),
        lambda: {s.location_id: s for s in LocationSchedule.objects.all()},
    )


def dates_for(
    *,
    location: Location,
    destination_country: str,
    distance_km: float | None,
    now: dt.datetime,
    calendar: Calendar,
    bands: list[TransitTime],
    schedule: LocationSchedule | None = None,
) -> Dates:
    schedule = schedule or LocationSchedule(location=location)
    local = now.astimezone(zoneinfo.ZoneInfo(schedule.timezone or "UTC"))
    country = str(location.country)
    day = local.date()
    if local.time() >= schedule.cutoff:
        day += dt.timedelta(days=1)
    ship = calendar.add(day, schedule.handling_days, country, schedule.works_saturday)
    days, carrier, service = transit_days(distance_km, bands)
    delivery = calendar.add(ship, days, destination_country or country)
    return Dates(ship, delivery, carrier, service)
