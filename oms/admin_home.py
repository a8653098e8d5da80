"""The kernel's figures on the operations home: side effects and inbound webhooks that failed
for good (staff retry them from their pages)."""

from __future__ import annotations

from django.urls import reverse

from oms.admin.home import Tile, home_tile
from oms.models import InboundWebhook, OutboxMessage

home_tile(
    Tile(
        "Integrations",
        "Side effects failed",
        lambda: OutboxMessage.objects.filter(state=OutboxMessage.State.FAILED).count(),
        lambda: reverse("admin:oms_outboxmessage_changelist") + "?state__exact=failed",
        "oms.view_outboxmessage",
        help="E-mails, pushes, labels: retry them",
    )
)
home_tile(
    Tile(
        "Integrations",
        "Inbound webhooks failed",
        lambda: InboundWebhook.objects.filter(status=InboundWebhook.Status.FAILED).count(),
        lambda: reverse("admin:oms_inboundwebhook_changelist") + "?status__exact=failed",
        "oms.view_inboundwebhook",
    )
)
