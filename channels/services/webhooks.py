"""The inbound webhook inbox of the channels.

Invariants: the vendor's signature is checked on the raw bytes before anything is stored (a bad
one stores nothing); a delivery is stored once per (channel, delivery id), so a redelivery is
acknowledged and ignored; processing happens in a task, after the answer, claimed by one worker
at a time (a dead worker's claim expires), and is safe to run twice (a processed delivery is left
alone; orders are upserted by (channel, external_id)); a delivery never processed (its task was
lost) is sent again by the sweep (every few minutes); a privacy request (Shopify's compliance
topics) is routed to channels.services.privacy instead of the order import.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from channels.adapters.base import WebhookDelivery, webhook_privacy
from channels.models import ChannelSyncRun, ChannelWebhookDelivery
from channels.services.privacy import privacy_webhook_apply
from channels.services.sync import channel_adapter, page_store
from channels.states import SyncStatus, SyncTrigger, WebhookStatus
from inventory.models import Channel
from oms import jsonsafe
from oms.errors import NotFound, PermanentError, TransientError
from oms.outbox import outbox_enqueue
from oms.workers import holder_alive, holder_identity

#: How long a worker holds a delivery it processes; deliveries older than SWEEP_AFTER and
#: unprocessed are enqueued again by the sweep.
CLAIM = dt.timedelta(minutes=10)
SWEEP_AFTER = dt.timedelta(minutes=5)


def webhook_receive(
    *, channel_code: str, headers: Mapping[str, str], body: bytes, url: str
) -> tuple[ChannelWebhookDelivery, bool]:
    """Verify and store one delivery. Returns it and whether it is new (then enqueued). NUL
    characters in the payload are stripped (and the delivery notes it: `nul_stripped`).

    Raises NotFound (no such active channel), ValidationFailed `json_too_deep` (nesting deeper
    than oms.jsonsafe.MAX_DEPTH, checked before the signature), SignatureInvalid, NotSupported
    (the channel has no HTTP webhooks), PermanentError (an unreadable body).
    """
    channel = Channel.objects.filter(code=channel_code, is_active=True).first()
    if channel is None:
        raise NotFound(f"No active channel {channel_code!r}.")
    jsonsafe.refuse_too_deep(body)
    verified: WebhookDelivery = channel_adapter(channel).webhook_verify(
        headers=headers, body=body, url=url
    )
    if not verified.delivery_id:
        raise PermanentError("The delivery carries no delivery id.")
    try:
        with transaction.atomic():
            payload, stripped = jsonsafe.strip_nul(verified.payload)
            delivery = ChannelWebhookDelivery.objects.create(
                channel=channel,
                delivery_id=jsonsafe.without_nul(verified.delivery_id)[:128],
                topic=jsonsafe.without_nul(verified.topic)[:128],
                payload=payload,
                nul_stripped=stripped,
            )
            _process_later(delivery.pk)
    except IntegrityError:
        existing = ChannelWebhookDelivery.objects.get(
            channel=channel, delivery_id=jsonsafe.without_nul(verified.delivery_id)[:128]
        )
        return existing, False
    return delivery, True


PROCESS_TASK = "channels.webhook_process"


def _process_later(delivery_id: int) -> None:
    outbox_enqueue(
        PROCESS_TASK, delivery_id=delivery_id, dedupe_key=f"{PROCESS_TASK}:{delivery_id}"
    )


def webhooks_requeue() -> int:
    """Process again the deliveries that were never processed (see webhooks_unprocessed)."""
    stale = webhooks_unprocessed()
    with transaction.atomic():
        for delivery_id in stale:
            _process_later(delivery_id)
    return len(stale)


def _claim(delivery_id: int, now: dt.datetime) -> bool:
    """Take a received delivery: unclaimed, its claim expired, or its claimer's process died."""
    holder = holder_identity()
    claim = {"claimed_until": now + CLAIM, "claimed_by": holder, "attempts": F("attempts") + 1}
    received = ChannelWebhookDelivery.objects.filter(pk=delivery_id, status=WebhookStatus.RECEIVED)
    if received.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)).update(**claim):
        return True
    other = received.values_list("claimed_by", flat=True).first()
    if other is None or holder_alive(other, now=now):
        return False
    return bool(received.filter(claimed_by=other).update(**claim))


def webhook_process(*, delivery_id: int) -> ChannelWebhookDelivery:
    """Import the orders a stored delivery carries. Raises TransientError (retried)."""
    claimed = _claim(delivery_id, timezone.now())
    delivery = ChannelWebhookDelivery.objects.select_related("channel").get(pk=delivery_id)
    if not claimed:
        return delivery  # processed already, or another live worker is at it
    channel = delivery.channel
    verified = WebhookDelivery(
        delivery_id=delivery.delivery_id, topic=delivery.topic, payload=delivery.payload
    )
    try:
        adapter = channel_adapter(channel)
        notice = webhook_privacy(adapter, verified)
        if notice is not None:
            # A privacy request (Shopify's compliance topics): recorded and acted on, no orders.
            privacy_webhook_apply(channel=channel, delivery=delivery, notice=notice)
            delivery.refresh_from_db(fields=["payload"])
            page = None
        else:
            page = adapter.webhook_orders(verified)
    except TransientError as exc:
        delivery.error = str(exc)[:5000]
        delivery.claimed_until, delivery.claimed_by = None, ""
        delivery.save(update_fields=["error", "claimed_until", "claimed_by"])
        raise
    except PermanentError as exc:
        delivery.status, delivery.error = WebhookStatus.FAILED, str(exc)[:5000]
        delivery.processed_at = timezone.now()
        delivery.save(update_fields=["status", "error", "processed_at"])
        return delivery
    if page is not None and (page.orders or page.failures):
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
    waiting = ChannelWebhookDelivery.objects.filter(
        status=WebhookStatus.RECEIVED, received_at__lte=now - older_than
    ).order_by("received_at")
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
    found = list(waiting.filter(free).values_list("pk", flat=True)[:1000])
    for pk, holder in waiting.exclude(free).values_list("pk", "claimed_by")[:1000]:
        if not holder_alive(holder, now=now):
            found.append(pk)
    return found


def webhook_gave_up(*, delivery_id: int, reason: str) -> None:
    """Retries are spent: the delivery is failed with the reason (staff see it in the inbox)."""
    ChannelWebhookDelivery.objects.filter(pk=delivery_id, status=WebhookStatus.RECEIVED).update(
        status=WebhookStatus.FAILED,
        error=f"gave up: {reason}"[:5000],
        processed_at=timezone.now(),
        claimed_until=None,
        claimed_by="",
    )
