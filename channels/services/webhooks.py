"""The inbound webhook inbox of the channels.

Invariants: the vendor's signature is checked on the raw bytes before anything is stored (a bad
one stores nothing); a delivery is stored once per (channel, delivery id), so a redelivery is
acknowledged and ignored; processing happens in a task, after the answer, and is safe to run
twice (a processed delivery is left alone; orders are upserted by (channel, external_id)).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils import timezone

from channels.adapters.base import WebhookDelivery
from channels.models import (
    Channel,
    ChannelSyncRun,
    ChannelWebhookDelivery,
    SyncStatus,
    SyncTrigger,
    WebhookStatus,
)
from channels.services.sync import channel_adapter, page_store
from oms.errors import NotFound, PermanentError, TransientError


def webhook_receive(
    *, channel_code: str, headers: Mapping[str, str], body: bytes, url: str
) -> tuple[ChannelWebhookDelivery, bool]:
    """Verify and store one delivery. Returns it and whether it is new (then enqueued).

    Raises NotFound (no such active channel), SignatureInvalid, NotSupported (the channel
    has no HTTP webhooks), PermanentError (an unreadable body).
    """
    channel = Channel.objects.filter(code=channel_code, is_active=True).first()
    if channel is None:
        raise NotFound(f"No active channel {channel_code!r}.")
    verified: WebhookDelivery = channel_adapter(channel).webhook_verify(
        headers=headers, body=body, url=url
    )
    if not verified.delivery_id:
        raise PermanentError("The delivery carries no delivery id.")
    try:
        with transaction.atomic():
            delivery = ChannelWebhookDelivery.objects.create(
                channel=channel,
                delivery_id=verified.delivery_id[:128],
                topic=verified.topic[:128],
                payload=verified.payload,
            )
    except IntegrityError:
        existing = ChannelWebhookDelivery.objects.get(
            channel=channel, delivery_id=verified.delivery_id[:128]
        )
        return existing, False

    from channels.tasks import webhook_process_task

    transaction.on_commit(lambda: webhook_process_task.delay(delivery_id=delivery.pk))
    return delivery, True


def webhook_process(*, delivery_id: int) -> ChannelWebhookDelivery:
    """Import the orders a stored delivery carries. Raises TransientError (retried)."""
    with transaction.atomic():
        delivery = (
            ChannelWebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("channel")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status == WebhookStatus.PROCESSED:
            return delivery or ChannelWebhookDelivery.objects.get(pk=delivery_id)
        delivery.attempts += 1
        delivery.save(update_fields=["attempts"])
    channel = delivery.channel
    verified = WebhookDelivery(
        delivery_id=delivery.delivery_id, topic=delivery.topic, payload=delivery.payload
    )
    try:
        page = channel_adapter(channel).webhook_orders(verified)
    except TransientError as exc:
        delivery.error = str(exc)[:5000]
        delivery.save(update_fields=["error"])
        raise
    except PermanentError as exc:
        delivery.status, delivery.error = WebhookStatus.FAILED, str(exc)[:5000]
        delivery.processed_at = timezone.now()
        delivery.save(update_fields=["status", "error", "processed_at"])
        return delivery
    if page.orders or page.failures:
        run = ChannelSyncRun.objects.create(channel=channel, trigger=SyncTrigger.WEBHOOK, pages=1)
        page_store(channel=channel, run=run, page=page)
        run.status = SyncStatus.PARTIAL if run.failed else SyncStatus.SUCCEEDED
        run.finished_at = timezone.now()
        run.save()
    delivery.status = WebhookStatus.PROCESSED
    delivery.error = ""
    delivery.processed_at = timezone.now()
    delivery.save(update_fields=["status", "error", "processed_at"])
    return delivery
