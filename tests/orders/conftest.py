from __future__ import annotations

import copy
from typing import Any

import pytest

from inventory import services as stock
from tests.factories import ChannelFactory, LocationFactory, SkuFactory

PAYLOAD: dict[str, Any] = {
    "channel": "web",
    "external_id": "1001",
    "currency": "EUR",
    "placed_at": "2026-11-20T10:00:00+01:00",
    "customer": {
        "email": "Anna.Schmidt@Example.com",
        "first_name": "Anna",
        "last_name": "Schmidt",
        "phone": "+49 30 1234567",
    },
    "shipping_address": {
        "name": "Anna Schmidt",
        "line1": "Torstraße 1",
        "city": "Berlin",
        "postal_code": "10119",
        "country": "DE",
    },
    "lines": [
        {"sku": "TEE-1", "quantity": 2, "unit_price": "19.95", "discount": "0.00", "tax": "0.00"},
        {"sku": "MUG-1", "quantity": 1, "unit_price": "9.90", "discount": "1.00", "tax": "0.00"},
    ],
    "shipping_price": "4.95",
    "payment_status": "paid",
    "notes": "",
}


@pytest.fixture
def payload() -> dict[str, Any]:
    return copy.deepcopy(PAYLOAD)


@pytest.fixture
def catalogue(db):
    wh = LocationFactory(code="WH")
    channel = ChannelFactory(code="web", currency="EUR", locations=[wh])
    tee, mug = SkuFactory(code="TEE-1"), SkuFactory(code="MUG-1")
    for sku in (tee, mug):
        stock.stock_adjust(sku=sku, location=wh, kind="receipt", quantity=20)
    return {"channel": channel, "wh": wh, "tee": tee, "mug": mug}
