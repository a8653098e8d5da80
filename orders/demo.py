"""Demo orders of Northwind Outdoor: 500+ orders across the demo channels and currencies, in
every status, some held. Idempotent: each demo order has a fixed external id, so a second run
captures nothing new and changes nothing.

Each order is placed when its story needs (a delivered order some days ago, a pending one
today) and captured on that day (oms.demo.story_at): its timeline agrees with its dates.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from django.utils import timezone

from inventory.models import Channel, Sku
from oms.demo import story_at
from oms.errors import DomainError
from orders import services
from orders.models import Order
from orders.states import OrderStatus

FIRST = [
    "Anna",
    "Lukas",
    "Marie",
    "Jonas",
    "Sophie",
    "Elias",
    "Emma",
    "Noah",
    "Chloé",
    "Hugo",
    "Olivia",
    "Jack",
    "Amelia",
    "Liam",
    "Mia",
    "Ethan",
    "Sanne",
    "Daan",
    "Giulia",
    "Luca",
]
LAST = [
    "Schmidt",
    "Müller",
    "Weber",
    "Dubois",
    "Martin",
    "Smith",
    "Jones",
    "Taylor",
    "de Vries",
    "Jansen",
    "Rossi",
    "Bianchi",
    "Johnson",
    "Brown",
    "Fischer",
    "Lefebvre",
]
ADDRESSES = {
    "DE": [
        ("Torstraße 12", "10119", "Berlin"),
        ("Leopoldstraße 40", "80802", "München"),
        ("Schanzenstraße 7", "20357", "Hamburg"),
    ],
    "FR": [("12 Rue de Rivoli", "75004", "Paris"), ("5 Place Bellecour", "69002", "Lyon")],
    "NL": [("Prinsengracht 263", "1016 GV", "Amsterdam"), ("Oudegracht 150", "3511 AZ", "Utrecht")],
    "GB": [("221B Baker Street", "NW1 6XE", "London"), ("10 Deansgate", "M3 1AZ", "Manchester")],
    "US": [("350 Fifth Avenue", "10118", "New York"), ("1 Market St", "94105", "San Francisco")],
}
US_REGIONS = {"10118": "NY", "94105": "CA"}
# channel code -> (countries it sells to, number of orders)
PLAN = {
    "shop-eu": (["DE", "FR", "NL", "DE", "DE"], 220),
    "amazon-uk": (["GB"], 120),
    "shop-us": (["US"], 110),
    "pos-munich": (["DE"], 40),
    "api": (["DE", "NL"], 20),
}
#: How long ago an order with that outcome was placed (hours, from .. to).
AGE_HOURS = {
    OrderStatus.PENDING: (1, 30),
    OrderStatus.ALLOCATED: (1, 40),
    OrderStatus.BACKORDERED: (4, 100),
    OrderStatus.PARTIALLY_SHIPPED: (50, 100),
    OrderStatus.SHIPPED: (50, 100),
    OrderStatus.DELIVERED: (80, 400),
    OrderStatus.COMPLETED: (450, 1300),
    OrderStatus.CANCELLED: (10, 500),
    "held": (2, 120),
}
# Where each demo order ends up, by weight.
OUTCOMES = [
    (OrderStatus.PENDING, 4),
    (OrderStatus.ALLOCATED, 12),
    (OrderStatus.BACKORDERED, 3),
    (OrderStatus.PARTIALLY_SHIPPED, 4),
    (OrderStatus.SHIPPED, 14),
    (OrderStatus.DELIVERED, 20),
    (OrderStatus.COMPLETED, 30),
    (OrderStatus.CANCELLED, 5),
    ("held", 8),
]


def demo_outcome(external_id: str) -> str:
    """Where a demo order is meant to end up (deterministic per external id)."""
    rng = random.Random(f"outcome-{external_id}")
    return rng.choices([o for o, _ in OUTCOMES], weights=[w for _, w in OUTCOMES])[0]


def load_demo_orders() -> dict[str, int]:
    """Capture the demo orders (routing allocates them as they arrive), then hold or cancel
    those meant to be held or cancelled. Shipping is the fulfilment demo's part."""
    channels = {c.code: c for c in Channel.objects.all()}
    skus = list(Sku.objects.filter(is_active=True).order_by("code"))
    if not skus:
        return {"orders": 0}
    created = 0
    now = timezone.now()
    # A restart finds them all there: one read instead of a capture (found, not created) each.
    loaded = set(
        Order.objects.filter(external_id__startswith="DEMO-").values_list(
            "channel__code", "external_id"
        )
    )
    for code, (countries, count) in PLAN.items():
        channel = channels.get(code)
        if channel is None:
            continue
        for n in range(count):
            external_id = f"DEMO-{code}-{n:04d}"
            if (code, external_id) in loaded:
                continue
            outcome = demo_outcome(external_id)
            rng = random.Random(f"{code}-{n}")
            placed = now - timedelta(hours=rng.randint(*AGE_HOURS[outcome]))
            payload = _payload(rng, channel, countries, skus, placed)
            if outcome == OrderStatus.PENDING:
                payload["payment_status"] = "pending"  # waits for payment: held, not routed
            with story_at(placed):
                result = services.order_capture(channel=code, external_id=external_id, **payload)
                if result.created:
                    # Converted on the day (the demo mutes the conversion task: no worker needed).
                    services.order_convert_total(order_id=result.order.pk)
            if not result.created:
                continue
            created += 1
            later = placed + timedelta(hours=rng.randint(1, 8))
            try:
                with story_at(later):
                    if outcome == "held":
                        services.order_hold(
                            order=result.order,
                            note="Customer asked to wait for a second item.",
                            actor="demo",
                        )
                    elif outcome == OrderStatus.CANCELLED:
                        services.order_cancel(
                            order=result.order, reason="Customer changed their mind.", actor="demo"
                        )
            except DomainError:
                pass  # a demo order that cannot go further stays where it is
    return {"orders": created}


def _payload(
    rng: random.Random, channel: Channel, countries: list[str], skus: list[Sku], placed: Any
) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    country = rng.choice(countries)
    line1, postal, city = rng.choice(ADDRESSES[country])
    address = {
        "name": f"{first} {last}",
        "line1": line1,
        "postal_code": postal,
        "city": city,
        "country": country,
    }
    if country == "US":
        address["region"] = US_REGIONS[postal]
    exponent_price = {"EUR": 1, "GBP": 0.86, "USD": 1.08}.get(channel.currency, 1)
    lines = []
    for sku in rng.sample(skus, rng.choice([1, 1, 2, 2, 3])):
        base = 9.95 + (sku.weight_grams or 200) / 10
        lines.append(
            {
                "sku": sku.code,
                "quantity": rng.choice([1, 1, 1, 2, 3]),
                "unit_price": f"{base * exponent_price:.2f}",
                "name": sku.name,
            }
        )
    return {
        "currency": channel.currency,
        "placed_at": placed,
        "customer": {
            "email": f"{first}.{last}{rng.randint(1, 60)}@example.com".lower().replace(" ", ""),
            "first_name": first,
            "last_name": last,
            "phone": f"+{rng.randint(30, 49)} {rng.randint(100, 999)} {rng.randint(10**5, 10**6)}",
        },
        "shipping_address": {} if channel.kind == "pos" else address,
        "lines": lines,
        "shipping_price": "0" if channel.kind == "pos" else "4.95",
        "payment_status": "paid",
    }
