"""The forecasts, with their accuracy, in the admin and the API."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from inventory import services
from inventory.services.forecast import forecast_refresh
from tests.factories import LocationFactory, SkuFactory, UserFactory


@pytest.fixture
def forecasts(db):
    now = timezone.now()
    for i in range(3):
        sku, wh = SkuFactory(code=f"F-{i}"), LocationFactory(code=f"WH{i}")
        entries = [(now - timedelta(days=210), "receipt", 500)]
        entries += [(now - timedelta(days=d), "shipment", -2) for d in range(1, 200)]
        services.stock_history_load(sku=sku, location=wh, entries=entries)
    return forecast_refresh(now=now)


def test_the_forecast_admin_shows_the_backtested_accuracy(forecasts, django_assert_max_num_queries):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    with django_assert_max_num_queries(10):
        page = client.get("/admin/inventory/stockforecast/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "WAPE (backtest)" in text
    assert "0% over 8 wk" in text  # a constant 2 a day is forecast exactly
    assert client.get("/admin/inventory/stockforecast/?scope=network").status_code == 200


def test_the_forecast_api_lists_network_and_location_rows(warehouse_api, forecasts):
    rows = warehouse_api.get("/api/v1/forecasts/?sku=F-0").json()["results"]
    assert {r["location"] for r in rows} == {"WH0", None}
    network = warehouse_api.get("/api/v1/forecasts/?network=true").json()["results"]
    assert len(network) == 3
    row = network[0]
    assert row["velocity"] == "2.000"
    assert row["wape"] == "0.000"
    assert row["stockout_date"] is not None
