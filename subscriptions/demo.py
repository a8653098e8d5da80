"""Demo subscriptions of Northwind Outdoor (manage.py demo_data), through the real services.

Idempotent: each demo subscription is marked by its e-mail (`sub-demo-<n>@example.com`) and
created only when missing. The first ones are due within minutes of loading, so the beat of
`make run` renews them while you watch (orders SUB-<number>-1 on the "shop-eu" channel). That
channel's payment provider is the channel itself, which cannot charge a saved payment method:
the renewal orders wait in `payment_pending` and go through the dunning schedule, as a real
shop without a charging provider would; a channel with `payment_provider` stripe charges them.
One subscription also takes gas cartridges at their "current price": each renewal charges the
channel's price of the day (inventory's SKU prices, inventory/demo.py), not a price fixed here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from inventory.models import Channel, Sku
from inventory.selectors import sku_current_prices
from subscriptions.models import ChannelSubscriptionSettings, Subscription
from subscriptions.services import subscription_create, subscription_pause

CHANNEL = "shop-eu"
PEOPLE = (
    ("Lena Wagner", "Kastanienallee 12", "10435", "Berlin"),
    ("Jonas Becker", "Sendlinger Str. 7", "80331", "München"),
    ("Mia Schulz", "Schanzenstraße 40", "20357", "Hamburg"),
    ("Paul Hoffmann", "Ehrenstraße 3", "50672", "Köln"),
    ("Emma Richter", "Berger Str. 101", "60316", "Frankfurt am Main"),
    ("Noah Klein", "Königstraße 28", "70173", "Stuttgart"),
)
#: (minutes from now to the first renewal, interval, count, paused)
PLANS = (
    (2, "month", 1, False),
    (3, "week", 2, False),
    (5, "month", 1, False),
    (60 * 24 * 2, "month", 1, False),
    (60 * 24 * 9, "month", 3, False),
    (60 * 24 * 20, "month", 1, True),
)
#: The subscription (by its place in PLANS: weekly, due in minutes) with a "current price" line.
CURRENT_PRICE_PLAN = 1
CURRENT_PRICE_SKU = "GAS-230-BLUE-OS"


def load_demo_subscriptions() -> dict[str, int]:
    channel = Channel.objects.filter(code=CHANNEL).first()
    skus = list(Sku.objects.filter(is_active=True).order_by("code")[:40])
    if channel is None or len(skus) < 2:
        return {"subscriptions": 0}
    ChannelSubscriptionSettings.objects.get_or_create(
        channel=channel, defaults={"time_zone": "Europe/Berlin", "dunning_days": [1, 3, 7]}
    )
    existing = set(
        Subscription.objects.filter(email__startswith="sub-demo-").values_list("email", flat=True)
    )
    created = 0
    now = timezone.now()
    for n, ((name, line1, postal, city), (minutes, interval, count, paused)) in enumerate(
        zip(PEOPLE, PLANS, strict=True)
    ):
        email = f"sub-demo-{n}@example.com"
        if email in existing:
            continue
        sub = subscription_create(
            channel=CHANNEL,
            customer={"email": email, "name": name},
            shipping_address={
                "name": name,
                "line1": line1,
                "postal_code": postal,
                "city": city,
                "country": "DE",
            },
            lines=list(
                {  # one line per SKU (a small catalogue may give the same SKU twice)
                    line["sku"]: line
                    for line in (
                        {
                            "sku": skus[(n * 7 + 3) % len(skus)].code,
                            "quantity": 2,
                            "unit_price": "9.95",
                        },
                        {
                            "sku": skus[(n * 7) % len(skus)].code,
                            "quantity": 1,
                            "unit_price": "24.90",
                        },
                        *(_current_price_lines(channel) if n == CURRENT_PRICE_PLAN else []),
                    )
                }.values()
            ),
            currency="EUR",
            interval=interval,
            interval_count=count,
            next_order_at=now + dt.timedelta(minutes=minutes),
            shipping_price=Decimal("4.95"),
            actor="demo",
        )
        if paused:
            subscription_pause(subscription=sub, reason="[demo] on holiday", actor="demo")
        created += 1
    return {"subscriptions": created}


def _current_price_lines(channel: Channel) -> list[dict[str, object]]:
    """Four gas cartridges at their current price, if the catalogue has one on the channel
    (a "current price" line without a price would fail its renewals)."""
    sku = Sku.objects.filter(code=CURRENT_PRICE_SKU, is_active=True).first()
    if sku is None or not sku_current_prices(
        sku_ids=[sku.pk], channel_id=channel.pk, currency="EUR"
    ):
        return []
    return [{"sku": sku.code, "quantity": 4, "unit_price": None}]
