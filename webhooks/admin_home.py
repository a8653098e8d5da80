"""The integrator webhooks' figures on the operations home (oms.admin.home)."""

from __future__ import annotations

from django.urls import reverse

from oms.admin.home import Tile, home_tile
from webhooks.models import WebhookEndpoint

home_tile(
    Tile(
        "Integrations",
        "Webhook endpoints disabled",
        lambda: WebhookEndpoint.objects.filter(is_active=False).count(),
        lambda: reverse("admin:webhooks_webhookendpoint_changelist") + "?is_active__exact=0",
        "webhooks.view_webhookendpoint",
        help="Failing for days: fix, then enable",
    )
)
