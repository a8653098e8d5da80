"""A small past whose what-if answers are worked out by hand (tests/reports/test_whatif.py).

Times are UTC (the test settings' TIME_ZONE). The window is Monday 3 and Tuesday 4 March 2025.
One channel, web, ships from three warehouses: BER (Berlin), HAM (Hamburg), MUC (Munich).
Destinations have exact coordinates (the cities' centres, the same as the warehouses').
Transit: up to 100 km 1 day, up to 400 km 2 days, beyond 3 days (the only default bands);
every order arrives before the 14:00 cut-off of a working day, so it ships that day and its
promised delivery is its transit days later (no weekend in between).

stock from the ledger:
  1 Mar: receipts BER A 2, B 5; HAM A 5; MUC A 10, B 10
  28 Feb: order p0 (before the window) reserved 9 A at MUC -> MUC A free 1
  3 Mar 12:00: receipt HAM B 3 (inside the window: counted from then on)
  3 Mar 10:00: order o2's own reservation of A at BER (a window order's: the replay ignores it)
orders (arrival, destination, lines):
  o1 3 Mar 09:00 Hamburg A 1
  o2 3 Mar 10:00 Berlin  A 1, B 1
  o3 3 Mar 13:00 Hamburg B 2
  o4 4 Mar 09:00 Berlin  A 2
  o5 4 Mar 10:00 Munich  C 1 (no stock anywhere: backordered on every side)
  ox 4 Mar 11:00 cancelled (left out); o6 5 Mar (after the window: left out)
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

from fulfilment.models import TransitTime
from inventory.models import MovementKind, StockMovement
from orders.models import Order, OrderLine
from tests.factories import ChannelFactory, LocationFactory, SkuFactory

UTC = dt.UTC
START, END = dt.date(2025, 3, 3), dt.date(2025, 3, 4)
CITIES = {
    "BER": ("DE", "10117", "Berlin", 52.52, 13.405),
    "HAM": ("DE", "20095", "Hamburg", 53.5511, 9.9937),
    "MUC": ("DE", "80331", "München", 48.1372, 11.5756),
}
BANDS = ((100, 1), (400, 2), (3000, 3))


def at(day: int, hour: int, month: int = 3) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, tzinfo=UTC)


def km(a: str, b: str) -> float:
    """Great-circle distance between two of the cities, as the test works it out (rounded to
    0.1 km as explanations show it)."""
    (_, _, _, lat1, lon1), (_, _, _, lat2, lon2) = CITIES[a], CITIES[b]
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * 6371.0088 * math.asin(math.sqrt(h)), 1)


def transit(distance: float) -> int:
    return next(days for limit, days in BANDS if distance <= limit)


def _order(channel: Any, key: str, arrived: dt.datetime, city: str, **fields: Any) -> Order:
    country, postal, name, lat, lon = CITIES[city]
    order = Order.objects.create(
        channel=channel,
        external_id=key,
        number=key,
        currency="EUR",
        base_currency="EUR",
        placed_at=arrived,
        status=fields.pop("status", "allocated"),
        shipping_address={
            "name": "Someone",
            "line1": "Street 1",
            "postal_code": postal,
            "city": name,
            "country": country,
            "latitude": lat,
            "longitude": lon,
        },
        **fields,
    )
    Order.objects.filter(pk=order.pk).update(created_at=arrived)
    order.created_at = arrived
    return order


def _lines(order: Order, **quantities: int) -> None:
    for n, (code, quantity) in enumerate(quantities.items(), start=1):
        sku = SKUS[code]
        OrderLine.objects.create(
            order=order, line_number=n, sku=sku, sku_code=sku.code, quantity=quantity
        )


SKUS: dict[str, Any] = {}


def _move(sku: str, location: Any, when: dt.datetime, **fields: Any) -> None:
    StockMovement.objects.create(
        sku=SKUS[sku],
        location=location,
        kind=fields.pop("kind", MovementKind.RECEIPT),
        created_at=when,
        **fields,
    )


def seed() -> dict[str, Any]:
    TransitTime.objects.all().delete()
    for limit, days in BANDS:
        TransitTime.objects.create(
            carrier="inhouse", service="standard", max_km=limit, days=days, is_default=True
        )
    locations = {
        code: LocationFactory(
            code=code,
            country=country,
            city=city,
            postal_code=postal,
            latitude=Decimal(str(lat)),
            longitude=Decimal(str(lon)),
            priority=10,
        )
        for code, (country, postal, city, lat, lon) in CITIES.items()
    }
    web = ChannelFactory(code="web", locations=list(locations.values()))
    SKUS.clear()
    SKUS.update({code: SkuFactory(code=code) for code in ("A", "B", "C")})
    ber, ham, muc = locations["BER"], locations["HAM"], locations["MUC"]
    for sku, loc, n in (
        ("A", ber, 2),
        ("B", ber, 5),
        ("A", ham, 5),
        ("A", muc, 10),
        ("B", muc, 10),
    ):
        _move(sku, loc, at(1, 8), on_hand_delta=n)
    p0 = _order(web, "p0", at(28, 9, month=2), "MUC")
    _lines(p0, A=9)
    _move(
        "A",
        muc,
        at(28, 9, month=2),
        kind=MovementKind.RESERVATION,
        reserved_delta=9,
        order_id=p0.pk,
    )
    _move("B", ham, at(3, 12), on_hand_delta=3)
    orders = {
        "o1": (_order(web, "o1", at(3, 9), "HAM"), {"A": 1}),
        "o2": (_order(web, "o2", at(3, 10), "BER"), {"A": 1, "B": 1}),
        "o3": (_order(web, "o3", at(3, 13), "HAM"), {"B": 2}),
        "o4": (_order(web, "o4", at(4, 9), "BER"), {"A": 2}),
        "o5": (_order(web, "o5", at(4, 10), "MUC"), {"C": 1}),
        "ox": (_order(web, "ox", at(4, 11), "BER", status="cancelled"), {"A": 1}),
        "o6": (_order(web, "o6", at(5, 9), "BER"), {"A": 1}),
    }
    for order, quantities in orders.values():
        _lines(order, **quantities)
    o2 = orders["o2"][0]
    _move("A", ber, at(3, 10), kind=MovementKind.RESERVATION, reserved_delta=1, order_id=o2.pk)
    return {
        "web": web,
        "locations": locations,
        "skus": dict(SKUS),
        "orders": {key: order for key, (order, _) in orders.items()},
    }
