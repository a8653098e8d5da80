"""Celery entry points of the channels app; each calls one service.

Beat fans out: `channels.sync_due` every minute (one task per due channel),
`channels.stock_push_due` every 10 seconds (one task per channel with pending availability
changes: changes are batched, not pushed one by one), `channels.stock_reconcile_all` nightly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from channels.models import Channel, SyncTrigger
from channels.services import push, sync, webhooks
from oms.tasks import oms_task


@oms_task(name="channels.sync_due", queue="channels")
def sync_due_task(**_: Any) -> int:
    due = sync.channels_due()
    for channel_id in due:
        channel_sync_task.delay(channel_id=channel_id)
    return len(due)


@oms_task(name="channels.sync", queue="channels", soft_time_limit=900, time_limit=960)
def channel_sync_task(
    *, channel_id: int, trigger: str = SyncTrigger.SCHEDULE, deep: bool = False, **_: Any
) -> Any:
    since = timezone.now() - sync.DEEP_SYNC_WINDOW if deep else None
    run = sync.channel_sync(channel=channel_id, trigger=trigger, since=since)
    return None if run is None else {"run": run.pk, "status": run.status}


@oms_task(name="channels.sync_deep_all", queue="channels")
def sync_deep_all_task(**_: Any) -> int:
    """Daily: re-read the last day of every connected channel (nothing slips between pages)."""
    due = sync.channels_due(now=timezone.now() + timedelta(days=3650))
    for channel_id in due:
        channel_sync_task.delay(channel_id=channel_id, trigger=SyncTrigger.DEEP, deep=True)
    return len(due)


@oms_task(name="channels.webhooks_sweep", queue="channels")
def webhooks_sweep_task(**_: Any) -> int:
    """Deliveries stored but never processed (the enqueue or the task was lost) are sent again."""
    stale = webhooks.webhooks_unprocessed()
    for delivery_id in stale:
        webhook_process_task.delay(delivery_id=delivery_id)
    return len(stale)


@oms_task(name="channels.webhook_process", queue="channels")
def webhook_process_task(*, delivery_id: int, **_: Any) -> str:
    return webhooks.webhook_process(delivery_id=delivery_id).status


@oms_task(name="channels.stock_push_due", queue="channels")
def stock_push_due_task(**_: Any) -> int:
    due = push.channels_with_pending_stock()
    for channel_id in due:
        stock_push_task.delay(channel_id=channel_id)
    return len(due)


@oms_task(name="channels.stock_push", queue="channels")
def stock_push_task(*, channel_id: int, **_: Any) -> int:
    return len(push.channel_stock_push(channel=channel_id))


@oms_task(name="channels.stock_reconcile_all", queue="channels")
def stock_reconcile_all_task(**_: Any) -> int:
    marked = 0
    connected = Channel.objects.filter(is_active=True, kind__in=list(push.ADAPTERS)).exclude(
        credentials_encrypted=""
    )
    for channel in connected:
        marked += push.channel_stock_reconcile(channel=channel)
        stock_push_task.delay(channel_id=channel.pk)
    return marked


@oms_task(name="channels.shipment_push", queue="channels")
def shipment_push_task(*, shipment_id: int, **_: Any) -> str:
    result = push.shipment_push(shipment_id=shipment_id)
    return "skipped" if result is None else result.status


@oms_task(name="channels.cancel_push", queue="channels")
def cancel_push_task(
    *, order_id: int, reference: str, reason: str, lines: list[list[int]], **_: Any
) -> str:
    result = push.cancel_push(
        order_id=order_id,
        reference=reference,
        reason=reason,
        lines=[(int(pk), int(q)) for pk, q in lines],
    )
    return "skipped" if result is None else result.status


@oms_task(name="channels.refund_push", queue="channels")
def refund_push_task(
    *, order_id: int, reference: str, amount: str, currency: str, reason: str = "", **_: Any
) -> str:
    result = push.refund_push(
        order_id=order_id, reference=reference, amount=amount, currency=currency, reason=reason
    )
    return "skipped" if result is None else result.status
