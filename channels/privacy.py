"""What channels hold of a shopper, for the privacy services (orders.ports.PersonalData).

Invariants: the raw payloads the channels sent (webhook deliveries, records that failed to
import) keep their shape, ids, amounts and SKUs; their personal keys and the person's values
go (oms.personal_data.Scrubber). The deliveries are the kernel inbox's rows of kind channel
(oms.models.InboundWebhook), never a carrier's or a 3PL's (fulfilment's own). A delivery or
failure belongs to the person when it carries one of their e-mails or is a failed record of one
of their orders; a shop's redaction scrubs every payload of its channel. Pushes to the channel
keep their references; the person's values leave their details and errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Q, QuerySet

from channels.models import ChannelPush, ChannelSyncFailure
from inventory.models import Channel
from oms.models import InboundWebhook
from oms.personal_data import Scrubber
from orders.models import Order


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def _deliveries() -> QuerySet[InboundWebhook]:
    """The channels' webhook deliveries in the kernel's inbox."""
    return InboundWebhook.objects.filter(kind=InboundWebhook.Kind.CHANNEL)


def _carrying(emails: Sequence[str], field: str) -> Q:
    match = Q(pk__in=[])
    for email in emails:
        match |= Q(**{f"{field}__icontains": email})
    return match


class ChannelsPersonalData:
    name = "channels"

    def blockers(self, *, order_ids: Sequence[int]) -> list[str]:
        return []

    def _rows(
        self, order_ids: Sequence[int], emails: Sequence[str]
    ) -> tuple[list[InboundWebhook], list[ChannelSyncFailure]]:
        channels_and_ids = list(
            Order.objects.filter(pk__in=order_ids).values_list("channel_id", "external_id")
        )
        failures = _carrying(emails, "raw")
        for channel_id, external_id in channels_and_ids:
            failures |= Q(channel_id=channel_id, external_id=external_id)
        deliveries = (
            list(_deliveries().filter(_carrying(emails, "payload")).order_by("pk"))
            if emails
            else []
        )
        return deliveries, list(ChannelSyncFailure.objects.filter(failures).order_by("pk"))

    def export(self, *, order_ids: Sequence[int], emails: Sequence[str]) -> dict[str, Any]:
        deliveries, failures = self._rows(order_ids, emails)
        return {
            "webhook_deliveries": [
                {"topic": d.topic, "received_at": _iso(d.received_at), "payload": d.payload}
                for d in deliveries
            ],
            "failed_records": [
                {"external_id": f.external_id, "reason": f.reason, "payload": f.raw}
                for f in failures
            ],
        }

    def erase(
        self, *, order_ids: Sequence[int], emails: Sequence[str], scrubber: Scrubber
    ) -> dict[str, int]:
        deliveries, failures = self._rows(order_ids, emails)
        for delivery in deliveries:
            delivery.payload = scrubber.json(delivery.payload)
            delivery.error = scrubber.text(delivery.error)
        InboundWebhook.objects.bulk_update(deliveries, ["payload", "error"], batch_size=200)
        for failure in failures:
            failure.raw = scrubber.json(failure.raw)
            failure.reason = scrubber.text(failure.reason)
        ChannelSyncFailure.objects.bulk_update(failures, ["raw", "reason"], batch_size=200)
        pushes = list(ChannelPush.objects.filter(order_id__in=order_ids).order_by("pk"))
        for push in pushes:
            push.detail = scrubber.json(push.detail)
            push.error = scrubber.text(push.error)
        ChannelPush.objects.bulk_update(pushes, ["detail", "error"], batch_size=200)
        return {
            "webhook_deliveries": len(deliveries),
            "failed_records": len(failures),
            "pushes": len(pushes),
        }

    def erase_channel(self, *, channel_code: str) -> dict[str, int]:
        keys_only = Scrubber([])
        channel_ids = Channel.objects.filter(code=channel_code).values_list("pk", flat=True)
        deliveries = list(_deliveries().filter(channel_id__in=list(channel_ids)))
        for delivery in deliveries:
            delivery.payload = keys_only.json(delivery.payload)
        InboundWebhook.objects.bulk_update(deliveries, ["payload"], batch_size=500)
        failures = list(ChannelSyncFailure.objects.filter(channel__code=channel_code))
        for failure in failures:
            failure.raw = keys_only.json(failure.raw)
        ChannelSyncFailure.objects.bulk_update(failures, ["raw"], batch_size=500)
        return {
            "channel_webhook_deliveries": len(deliveries),
            "channel_failed_records": len(failures),
        }
