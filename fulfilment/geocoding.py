"""Where a destination is, for nearest-location routing.

Order of sources (the first that answers wins, and its precision is recorded): the channel's
own coordinates on the address; US ZIP centroids (`zipcodes`); the admin's GeoCentroid table
(longest postal prefix, then city, then region); the embedded GeoNames city table; the
country's centre. A destination none of them can place returns None (routing then goes by
location priority within the country and says so).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float
    precision: str  # exact | zip | postal_prefix | city | region | country


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


@lru_cache(maxsize=1)
def _cities() -> dict[tuple[str, str], tuple[float, float]]:
    table: dict[tuple[str, str], tuple[float, float, int]] = {}
    with (DATA / "cities.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            key = (row["country"], row["name"].casefold())
            population = int(row["population"] or 0)
            if key not in table or population > table[key][2]:
                table[key] = (float(row["latitude"]), float(row["longitude"]), population)
    return {key: (lat, lon) for key, (lat, lon, _) in table.items()}


@lru_cache(maxsize=1)
def _countries() -> dict[str, tuple[float, float]]:
    with (DATA / "countries.csv").open(newline="", encoding="utf-8") as handle:
        return {
            row["country"]: (float(row["latitude"]), float(row["longitude"]))
            for row in csv.DictReader(handle)
        }


def _zip(postal_code: str) -> tuple[float, float] | None:
    import zipcodes

    code = postal_code.strip()[:5]
    if len(code) != 5 or not code.isdigit():
        return None
    try:
        found = zipcodes.matching(code)
    except (ValueError, TypeError):
        return None
    if not found:
        return None
    return float(found[0]["lat"]), float(found[0]["long"])


def _centroid(country: str, postal: str, city: str, region: str) -> Point | None:
    from fulfilment.models import GeoCentroid
    from oms.refdata import cached

    rows = cached(
        ("geocentroids", country), lambda: list(GeoCentroid.objects.filter(country=country))
    )
    compact = postal.replace(" ", "").upper()
    best = None
    for row in rows:
        prefix = row.postal_prefix.replace(" ", "").upper()
        if prefix and compact.startswith(prefix) and (best is None or len(prefix) > best[0]):
            best = (len(prefix), row)
    if best is not None:
        row = best[1]
        return Point(float(row.latitude), float(row.longitude), "postal_prefix")
    for field, value, precision in (("city", city, "city"), ("region", region, "region")):
        for row in rows:
            if value and getattr(row, field).casefold() == value.casefold():
                return Point(float(row.latitude), float(row.longitude), precision)
    return None


def geocode(address: Mapping[str, Any]) -> Point | None:
    """Place a shipping address (our address dict: country, postal_code, city, region, ...)."""
    lat, lon = address.get("latitude"), address.get("longitude")
    if lat not in (None, "") and lon not in (None, ""):
        return Point(float(lat), float(lon), "exact")
    country = str(address.get("country") or "").upper()
    postal = str(address.get("postal_code") or "")
    city = str(address.get("city") or "").strip()
    region = str(address.get("region") or "").strip()
    if not country:
        return None
    if country == "US" and postal:
        found = _zip(postal)
        if found:
            return Point(found[0], found[1], "zip")
    centroid = _centroid(country, postal, city, region)
    if centroid is not None:
        return centroid
    if city:
        known = _cities().get((country, city.casefold()))
        if known:
            return Point(known[0], known[1], "city")
    centre = _countries().get(country)
    if centre:
        return Point(centre[0], centre[1], "country")
    return None
