"""The inbound webhook inbox of the channels.

Invariants: the vendor's signature is checked on the raw bytes before anything is stored (a bad
one stores nothing); a delivery is stored once per (channel, delivery id), so a redelivery is
acknowledged and ignored; processing happens in a task, after the answer, claimed by one worker
at a time (a dead worker's claim expires), and is safe to run twice (a processed delivery is left
alone; orders are upserted by (channel, external_id)); a delivery never processed (its task was
lost) is sent again by the hourly sweep.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.db.models import F, Q
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
from channels.services.sync import channel_adapter, page_store, without_nul
from oms.errors import NotFound, PermanentError, TransientError

#: How long a worker holds a delivery it processes; deliveries older than SWEEP_AFTER and
#: unprocessed are enqueued again by the sweep.
CLAIM = dt.timedelta(minutes=10)
SWEEP_AFTER = dt.timedelta(minutes=15)


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
                payload=without_nul(verified.payload),
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
    now = timezone.now()
    claimed = (
        ChannelWebhookDelivery.objects.filter(pk=delivery_id, status=WebhookStatus.RECEIVED)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .update(claimed_until=now + CLAIM, attempts=F("attempts") + 1)
    )
    delivery = ChannelWebhookDelivery.objects.select_related("channel").get(pk=delivery_id)
    if not claimed:
        return delivery  # processed already, or another worker is at it
    channel = delivery.channel
    verified = WebhookDelivery(
        delivery_id=delivery.delivery_id, topic=delivery.topic, payload=delivery.payload
    )
    try:
        page = channel_adapter(channel).webhook_orders(verified)
    except TransientError as exc:
        delivery.error = str(exc)[:5000]
        delivery.claimed_until = None
        delivery.save(update_fields=["error", "claimed_until"])
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


def webhooks_unprocessed(*, older_than: dt.timedelta = SWEEP_AFTER) -> list[int]:
    """Deliveries still waiting after `older_than` and not claimed by a live worker."""
    now = timezone.now()
    return list(
        ChannelWebhookDelivery.objects.filter(
            status=WebhookStatus.RECEIVED, received_at__lte=now - older_than
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .order_by("received_at")
        .values_list("pk", flat=True)[:1000]
    )
