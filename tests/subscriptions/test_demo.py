"""The demo loader's subscriptions: created once, the first ones due within minutes."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from subscriptions.demo import load_demo_subscriptions
from subscriptions.models import Subscription
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
