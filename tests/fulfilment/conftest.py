from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from inventory import services as stock
from orders.services import order_capture
from tests.factories import ChannelFactory, LocationFactory, SkuFactory

CITIES = {
    "HAMBURG": ("DE", "20095", "Hamburg", 53.5511, 9.9937),
    "BERLIN": ("DE", "10117", "Berlin", 52.52, 13.405),
    "MUNICH": ("DE", "80331", "München", 48.1372, 11.5756),
    "LYON": ("FR", "69002", "Lyon", 45.764, 4.8357),
    "LONDON": ("GB", "SW1A 1AA", "London", 51.5074, -0.1278),
}


@pytest.fixture
def network(db):
    """Berlin and Munich warehouses, a Paris warehouse and a London 3PL, one channel."""

    def loc(code, kind, country, lat, lon, **extra):
        return LocationFactory(
            code=code,
            kind=kind,
            country=country,
            latitude=Decimal(str(lat)),
            longitude=Decimal(str(lon)),
            **extra,
        )

    locations = {
        "BER": loc("BER", "warehouse", "DE", 52.3724, 13.5178, priority=10),
        "MUC": loc("MUC", "warehouse", "DE", 48.1372, 11.5756, priority=20),
        "PAR": loc("PAR", "warehouse", "FR", 48.8566, 2.3522, priority=30),
        "LON": loc("LON", "3pl", "GB", 51.5074, -0.1278, priority=40),
    }
    channel = ChannelFactory(code="web", currency="EUR", locations=list(locations.values()))
    skus = {code: SkuFactory(code=code) for code in ("A", "B", "C")}
    return {"locations": locations, "channel": channel, "skus": skus}


def put(network, location: str, sku: str, quantity: int) -> None:
    stock.stock_adjust(
        sku=network["skus"][sku],
        location=network["locations"][location],
        kind="receipt",
        quantity=quantity,
    )


_counter = iter(range(1, 10**6))


def order(
    city: str = "HAMBURG",
    lines: dict[str, int] | None = None,
    address: dict[str, Any] | None = None,
    **extra: Any,
):
    """Capture an order (routing runs inside the capture unless the order is held)."""
    country, postal, name, lat, lon = CITIES[city]
    result = order_capture(
        channel="web",
        external_id=f"R-{next(_counter)}",
        currency="EUR",
        lines=[
            {"sku": sku, "quantity": q, "unit_price": "10.00"}
            for sku, q in (lines or {"A": 1}).items()
        ],
        customer={"email": "routing@example.com"},
        shipping_address=address
        or {
            "name": "Test Person",
            "line1": "Street 1",
            "postal_code": postal,
            "city": name,
            "country": country,
            "latitude": lat,
            "longitude": lon,
        },
        **{"payment_status": "paid", **extra},
    )
    return result.order
