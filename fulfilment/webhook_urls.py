"""Inbound webhooks of carriers and 3PL partners (signatures checked on the raw body)."""

from django.urls import URLPattern, path

from fulfilment import partner_webhooks, webhooks

urlpatterns: list[URLPattern] = [
    # Carriers' tracking events (fulfilment/webhooks.py).
    path("carriers/<str:carrier>/", webhooks.carrier_webhook, name="carrier-webhook"),
    # 3PL partners' confirmations (fulfilment/partner_webhooks.py).
    path("3pl/<str:location_code>/", partner_webhooks.partner_webhook, name="partner-webhook"),
]
