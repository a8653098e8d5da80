"""The channels' inbound webhooks: verified here, stored in the kernel's inbox (oms.inbox,
kind "channel") and processed by its processor below.

Invariants: the vendor's signature is checked on the raw bytes before anything is stored (a bad
one stores nothing); a delivery is stored once per (channel code, delivery id), so a redelivery
is acknowledged and ignored; processing happens in a task after the answer (oms.inbox: claimed
by one worker at a time, swept when its task was lost) on the "channels" queue, and is safe to
run twice (orders are upserted by (channel, external_id)); a privacy request (Shopify's
compliance topics) is routed to channels.services.privacy instead of the order import.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils import timezone

from channels.adapters.base import OrderPage, WebhookDelivery, webhook_privacy
from channels.models import ChannelSyncRun
from channels.services.privacy import privacy_webhook_apply
from channels.services.sync import channel_adapter, page_store
from channels.states import SyncStatus, SyncTrigger
from inventory.models import Channel
from oms import jsonsafe
from oms.errors import DomainError, NotFound, PermanentError
from oms.inbox import inbox_store
from oms.models import InboundWebhook

#: The queue of the channels' webhook processing (oms.inbox_process messages of kind channel).
QUEUE = "channels"
#: At most this many waiting deliveries of one channel are drained as one page (a burst at
#: peak: their new orders are captured and routed together, orders.services.capture_batch).
DRAIN_BATCH = 100


def webhook_receive(
    *, channel_code: str, headers: Mapping[str, str], body: bytes, url: str
) -> tuple[InboundWebhook, bool]:
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
    return inbox_store(
        kind=InboundWebhook.Kind.CHANNEL,
        source=channel.code,
        channel_id=channel.pk,
        delivery_id=verified.delivery_id,
        topic=verified.topic,
        payload=verified.payload,
    )


def webhook_process(delivery: InboundWebhook) -> str:
    """The inbox's processor of kind channel: import the orders a claimed delivery carries (or
    act on a privacy request). Returns "" (nothing left unapplied: records that fail to import
    are the sync run's failures).

    Raises TransientError (retried), PermanentError (the delivery fails: a channel gone, a
    payload the connector refuses, another shop's privacy request).
    """
    channel = (
        Channel.objects.filter(pk=delivery.channel_id).first()
        if delivery.channel_id is not None
        else None
    )
    if channel is None:
        raise PermanentError(f"The channel {delivery.source!r} no longer exists.")
    verified = WebhookDelivery(
        delivery_id=delivery.delivery_id, topic=delivery.topic, payload=delivery.payload
    )
    adapter = channel_adapter(channel)
    notice = webhook_privacy(adapter, verified)
    if notice is not None:
        # A privacy request (Shopify's compliance topics): recorded and acted on, no orders.
        privacy_webhook_apply(channel=channel, delivery=delivery, notice=notice)
        return ""
    page = adapter.webhook_orders(verified)
    if page.orders or page.failures:
        run = ChannelSyncRun.objects.create(channel=channel, trigger=SyncTrigger.WEBHOOK, pages=1)
        page_store(channel=channel, run=run, page=page)
        run.status = SyncStatus.PARTIAL if run.failed else SyncStatus.SUCCEEDED
        run.finished_at = timezone.now()
        run.save()
    return ""


def webhooks_process_many(deliveries: list[InboundWebhook]) -> set[int]:
    """The inbox's processor of many deliveries of one channel (a burst drained in bulk): the
    orders they carry are stored as one page, in the order received (a later delivery of the
    same order updates it, as one at a time). Returns the ids of the deliveries processed; a
    privacy request, or a payload the connector refuses, is left to webhook_process.

    Raises TransientError (every claim is given back and the task retried; the orders stored
    so far are upserted again, exactly once, by (channel, external id))."""
    first = deliveries[0]
    channel = (
        Channel.objects.filter(pk=first.channel_id).first()
        if first.channel_id is not None
        else None
    )
    if channel is None:
        return set()  # each fails alone, with the reason
    adapter = channel_adapter(channel)
    page = OrderPage(orders=[])
    done: set[int] = set()
    for delivery in deliveries:
        verified = WebhookDelivery(
            delivery_id=delivery.delivery_id, topic=delivery.topic, payload=delivery.payload
        )
        if delivery.channel_id != channel.pk or webhook_privacy(adapter, verified) is not None:
            continue
        try:
            carried = adapter.webhook_orders(verified)
        except (DomainError, PermanentError):
            continue  # refused by the connector: it fails alone, with the reason
        page.orders += carried.orders
        page.failures += carried.failures
        done.add(delivery.pk)
    if page.orders or page.failures:
        run = ChannelSyncRun.objects.create(channel=channel, trigger=SyncTrigger.WEBHOOK, pages=1)
        page_store(channel=channel, run=run, page=page)
        run.status = SyncStatus.PARTIAL if run.failed else SyncStatus.SUCCEEDED
        run.finished_at = timezone.now()
        run.save()
    return done
