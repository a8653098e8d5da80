"""The demo loader's subscriptions: created once, the first ones due within minutes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from inventory.services import sku_price_set
from subscriptions.demo import CURRENT_PRICE_SKU, load_demo_subscriptions
from subscriptions.models import Subscription, SubscriptionLine
from tests.factories import ChannelFactory, SkuFactory


def test_demo_subscriptions_load_once_and_renew_soon(db):
    ChannelFactory(code="shop-eu", currency="EUR")
    for _ in range(3):
        SkuFactory()
    assert load_demo_subscriptions() == {"subscriptions": 6}
    assert load_demo_subscriptions() == {"subscriptions": 0}
    soon = timezone.now() + dt.timedelta(minutes=10)
    assert Subscription.objects.filter(status="active", next_order_at__lte=soon).count() == 3
    assert Subscription.objects.filter(status="paused").count() == 1


def test_one_demo_subscription_takes_a_sku_at_its_current_price(db):
    shop = ChannelFactory(code="shop-eu", currency="EUR")
    for _ in range(3):
        SkuFactory()
    gas = SkuFactory(code=CURRENT_PRICE_SKU)
    sku_price_set(sku=gas, channel=shop, currency="EUR", amount=Decimal("5.95"))
    assert load_demo_subscriptions() == {"subscriptions": 6}
    current = SubscriptionLine.objects.get(unit_price__isnull=True)
    assert (current.sku_id, current.subscription.status) == (gas.pk, "active")


def test_without_a_price_no_demo_line_is_on_current_price(db):
    ChannelFactory(code="shop-eu", currency="EUR")
    for _ in range(3):
        SkuFactory()
    SkuFactory(code=CURRENT_PRICE_SKU)  # no price: its renewals would fail
    assert load_demo_subscriptions() == {"subscriptions": 6}
    assert not SubscriptionLine.objects.filter(unit_price__isnull=True).exists()
