from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import Count, Min
from django.utils import timezone

from channels.models import Channel
from inventory.models import Location, Sku, StockForecast, StockLevel, StockMovement
from inventory.selectors import ledger_drift
from orders.models import Order
from orders.states import OrderStatus
from returns.models import Refund, ReturnRequest
from returns.states import ReturnStatus


def counts() -> dict[str, int]:
    return {
        "skus": Sku.objects.count(),
        "locations": Location.objects.count(),
        "channels": Channel.objects.count(),
        "levels": StockLevel.objects.count(),
        "movements": StockMovement.objects.count(),
        "forecasts": StockForecast.objects.count(),
        "orders": Order.objects.count(),
        "returns": ReturnRequest.objects.count(),
        "refunds": Refund.objects.count(),
    }


@pytest.mark.django_db
def test_demo_data_is_a_believable_merchant_and_loads_once():
    call_command("demo_data", verbosity=0)
    first = counts()

    assert first["skus"] >= 200
    assert not Sku.objects.filter(barcode="").exists()
    assert first["locations"] >= 5
    assert len(set(Location.objects.values_list("country", flat=True))) >= 3
    assert {"warehouse", "store", "3pl"} <= set(Location.objects.values_list("kind", flat=True))
    assert not Location.objects.filter(latitude__isnull=True).exists()
    channels = Channel.objects.all()
    assert {"shopify", "amazon", "pos"} <= {c.kind for c in channels}
    assert len({c.currency for c in channels}) >= 3
    assert all(c.locations.exists() for c in channels)

    # Stock for every SKU at several locations, with 60 days of history behind it.
    per_sku = Sku.objects.annotate(n=Count("stock_levels")).aggregate(least=Min("n"))
    assert per_sku["least"] >= 3
    oldest = StockMovement.objects.aggregate(t=Min("created_at"))["t"]
    assert oldest <= timezone.now() - timedelta(days=59)
    assert StockMovement.objects.filter(kind="shipment").count() > 1000
    assert ledger_drift() == []
    assert StockForecast.objects.filter(velocity__gt=0, location__isnull=True).count() > 100

    # At least 500 orders across channels and currencies, in every status, some held.
    assert first["orders"] >= 500
    assert set(Order.objects.values_list("status", flat=True)) == set(OrderStatus.values)
    assert Order.objects.filter(is_on_hold=True).exists()
    assert len(set(Order.objects.values_list("currency", flat=True))) >= 3
    assert len(set(Order.objects.values_list("channel", flat=True))) >= 4
    # Shipments went through the real fulfilment flow, with carrier scans to show.
    from fulfilment.models import TrackingEvent

    assert TrackingEvent.objects.filter(status="delivered").exists()
    # Returns in every status, with refunds paid out and an exchange (returns/demo.py).
    assert set(ReturnRequest.objects.values_list("status", flat=True)) == set(ReturnStatus.values)
    assert Refund.objects.filter(status="succeeded", return_request__isnull=False).exists()
    assert Refund.objects.filter(status="succeeded", return_request__isnull=True).exists()
    assert ReturnRequest.objects.filter(exchange_order__isnull=False).exists()
    assert ledger_drift() == []

    call_command("demo_data", verbosity=0)
    assert counts() == first
