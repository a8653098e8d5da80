"""Demo sales channels of Northwind Outdoor, idempotent by code."""

from __future__ import annotations

from channels import services
from inventory.models import Channel, Location

# code, name, kind, currency, location codes, stock buffer
CHANNELS = [
    (
        "shop-eu",
        "Northwind web shop (Shopify, EU)",
        "shopify",
        "EUR",
        ["BER-WH", "VNL-WH", "LYS-WH", "MUC-STORE"],
        2,
    ),
    ("amazon-uk", "Amazon.co.uk", "amazon", "GBP", ["MKN-3PL", "VNL-WH"], 5),
    ("shop-us", "Northwind web shop (Shopify, US)", "shopify", "USD", ["NJ-WH"], 2),
    ("pos-munich", "Munich store till (POS)", "pos", "EUR", ["MUC-STORE"], 0),
    ("api", "Direct API", "api", "EUR", ["BER-WH", "VNL-WH", "LYS-WH"], 0),
]


#: The EU web shop is connected to an in-process fake Shopify store (channels/fakes/shopify/)
#: that takes new orders as time passes: `make run` shows a sync every minute bringing them in,
#: routing them and reserving stock, and the stock pushes going back. The other connector
#: channels have no credentials in the demo, so they are not scheduled.
DEMO_CREDENTIALS = {
    "shop-eu": {
        "demo": "1",
        "shop": "northwind-demo.myshopify.com",
        "access_token": "demo-token",
        "webhook_secret": "demo-webhook-secret",
        "location_id": "1",
    },
}


#: The name shoppers see on the packing slip, the e-mails, the tracking, return and subscription
#: pages. No logo: the demo links to no outside host (a channel's logo is an https URL).
MERCHANT_NAME = "Northwind Outdoor"


def load_demo_channels() -> dict[str, int]:
    created = 0
    existing = set(Channel.objects.values_list("code", flat=True))
    # Demo channels made before they had a merchant name get it.
    Channel.objects.filter(code__in=[c[0] for c in CHANNELS], merchant_name="").update(
        merchant_name=MERCHANT_NAME
    )
    locations = {loc.code: loc for loc in Location.objects.all()}
    for code, name, kind, currency, location_codes, buffer in CHANNELS:
        if code in existing:
            continue
        services.channel_create(
            code=code,
            name=name,
            kind=kind,
            currency=currency,
            locations=[locations[c] for c in location_codes],
            stock_buffer=buffer,
            credentials=DEMO_CREDENTIALS.get(code),
            sync_interval_minutes=1 if code in DEMO_CREDENTIALS else 0,
            send_emails=kind != "pos",
            merchant_name=MERCHANT_NAME,
        )
        created += 1
    return {"channels": created}
