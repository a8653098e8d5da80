from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from inventory import services as stock
from tests.factories import ChannelFactory, LocationFactory, SkuFactory

ADDRESS = {
    "name": "Anna Schmidt",
    "line1": "Torstraße 1",
    "city": "Berlin",
    "postal_code": "10119",
    "country": "DE",
}


@pytest.fixture
def shop(db):
    wh = LocationFactory(code="WH")
    channel = ChannelFactory(code="web", currency="EUR", locations=[wh])
    beans, filters = SkuFactory(code="BEANS-1"), SkuFactory(code="FILTER-1")
    stock.stock_adjust(sku=beans, location=wh, kind="receipt", quantity=50)
    stock.stock_adjust(sku=filters, location=wh, kind="receipt", quantity=50)
    return {"channel": channel, "wh": wh, "beans": beans, "filters": filters}


def sub_payload(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "channel": "web",
        "customer": {"email": "anna@example.com", "name": "Anna Schmidt"},
        "shipping_address": dict(ADDRESS),
        "lines": [
            {"sku": "BEANS-1", "quantity": 2, "unit_price": "12.50"},
            {"sku": "FILTER-1", "quantity": 1, "unit_price": "3.00"},
        ],
        "currency": "EUR",
        "interval": "month",
        "interval_count": 1,
        "shipping_price": "4.90",
        "payment_reference": "cus_1:pm_1",
    }
    data.update(changes)
    return data


@pytest.fixture
def make_sub(shop):
    """A subscription made through the service (due now unless next_order_at is given)."""
    from subscriptions.services import subscription_create

    def make(**changes: Any):
        data = sub_payload(**changes)
        if "next_order_at" not in changes:
            data["next_order_at"] = timezone.now() - dt.timedelta(minutes=1)
        for line in data["lines"]:
            if line.get("unit_price") is not None:
                line["unit_price"] = Decimal(line["unit_price"])
        data["shipping_price"] = Decimal(data["shipping_price"])
        return subscription_create(**data)

    return make
