from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Min
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels.management.commands.demo_data import PAST_SIDE_EFFECTS
from inventory.models import Channel, Location, Sku, StockForecast, StockLevel, StockMovement
from inventory.selectors import ledger_drift
from oms.models import OutboxMessage
from orders.models import Order, OrderEvent
from orders.states import OrderStatus
from returns.models import Refund, ReturnRequest
from returns.states import ReturnStatus
from subscriptions.models import Subscription


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
        "subscriptions": Subscription.objects.count(),
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

    assert_the_story_agrees_with_its_dates()
    # The past e-mails nobody, and needs no worker to convert its totals.
    assert not OutboxMessage.objects.filter(task__in=PAST_SIDE_EFFECTS).exists()
    assert not Order.objects.filter(total_base__isnull=True).exists()
    # Subscriptions the beat of `make run` renews within minutes, and later ones.
    assert first["subscriptions"] >= 6
    soon = timezone.now() + timedelta(minutes=10)
    assert Subscription.objects.filter(status="active", next_order_at__lte=soon).count() >= 2
    # Consumables have default prices, the web shop its own; one subscription line takes the
    # current price, which its renewals can find.
    from inventory.models import SkuPrice
    from inventory.selectors import sku_current_prices
    from subscriptions.models import SubscriptionLine

    assert SkuPrice.objects.filter(channel__isnull=True).count() >= 10
    current = SubscriptionLine.objects.select_related("subscription").get(unit_price__isnull=True)
    found = sku_current_prices(
        sku_ids=[current.sku_id],
        channel_id=current.subscription.channel_id,
        currency=current.subscription.currency,
    )
    assert (
        found[current.sku_id]
        == SkuPrice.objects.get(
            sku_id=current.sku_id, channel=current.subscription.channel_id
        ).amount
    )

    # A restart of `make run` finds it all there and rebuilds nothing: a few reads, no
    # capture, pick or history load again (the first load takes thousands of statements).
    with CaptureQueriesContext(connection) as again:
        call_command("demo_data", verbosity=0)
    assert counts() == first
    assert len(again.captured_queries) < 60, len(again.captured_queries)


def assert_the_story_agrees_with_its_dates() -> None:
    """Placed, routed, shipped, scanned, delivered, returned: in that order, never in the
    future, and the timeline says the same as the rows."""
    from fulfilment.models import Shipment, TrackingEvent

    now = timezone.now()
    assert not OrderEvent.objects.filter(created_at__gt=now).exists()
    assert not StockMovement.objects.filter(created_at__gt=now).exists()
    assert not TrackingEvent.objects.filter(occurred_at__gt=now).exists()
    delivered = Order.objects.filter(status=OrderStatus.DELIVERED).order_by("pk")[:40]
    assert delivered
    for order in delivered:
        captured = order.events.get(kind="captured").created_at
        assert order.placed_at <= captured < order.placed_at + timedelta(minutes=5)
        for shipment in Shipment.objects.filter(order=order, delivered_at__isnull=False):
            assert captured < shipment.shipped_at < shipment.delivered_at <= now
            last_scan = shipment.tracking_events.order_by("-occurred_at").first()
            assert last_scan.occurred_at <= shipment.delivered_at
            event = order.events.filter(kind="shipment_delivered", data__shipment=shipment.pk)
            assert event.get().created_at == pytest.approx(
                shipment.delivered_at, abs=timedelta(minutes=1)
            )
    # Completed orders were delivered days before they were closed; returns came after delivery.
    for ret in ReturnRequest.objects.select_related("order")[:20]:
        last_delivery = max(
            s.delivered_at for s in Shipment.objects.filter(order=ret.order) if s.delivered_at
        )
        assert ret.created_at > last_delivery


@pytest.mark.django_db
def test_the_demo_channels_carry_the_merchant_s_name_and_no_outside_logo():
    from channels.demo import CHANNELS, MERCHANT_NAME, load_demo_channels
    from tests.factories import LocationFactory

    for code in {c for *_, codes, _ in CHANNELS for c in codes}:
        LocationFactory(code=code)
    load_demo_channels()
    channels = Channel.objects.all()
    assert len(channels) == len(CHANNELS)
    assert {c.display_name for c in channels} == {MERCHANT_NAME}
    assert {c.logo_url for c in channels} == {""}
    # A demo channel made before the merchant name existed gets it on the next load.
    Channel.objects.filter(code="api").update(merchant_name="")
    load_demo_channels()
    assert Channel.objects.get(code="api").merchant_name == MERCHANT_NAME
