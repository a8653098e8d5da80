"""Celery entry points of the channels app; each calls one service.

Beat fans out: `channels.sync_due` every minute (one task per due channel, through the outbox;
it first closes the runs of syncs whose worker died), `channels.stock_push_due` every 10 seconds
(one task per channel with pending availability changes: changes are batched, not pushed one by
one), `channels.stock_reconcile_all` nightly. Webhook deliveries are processed by the kernel's
inbox tasks (oms.inbox_process on the "channels" queue, oms.inbox_sweep).
Pushes that give up for good are marked failed on their channel push record.
"""

from __future__ import annotations

from typing import Any

from channels.services import push, requests, sync
from channels.states import SyncTrigger
from oms.inbox import inbox_gave_up, inbox_process, inbox_requeue
from oms.tasks import oms_task


@oms_task(name="channels.sync_due", queue="channels")
def sync_due_task(**_: Any) -> int:
    sync.sync_leases_recover()
    return requests.channels_sync_request(channel_ids=sync.channels_due())


@oms_task(name="channels.sync", queue="channels", soft_time_limit=900, time_limit=960)
def channel_sync_task(
    *, channel_id: int, trigger: str = SyncTrigger.SCHEDULE, deep: bool = False, **_: Any
) -> Any:
    from django.utils import timezone

    since = timezone.now() - sync.DEEP_SYNC_WINDOW if deep else None
    run = sync.channel_sync(channel=channel_id, trigger=trigger, since=since)
    return None if run is None else {"run": run.pk, "status": run.status}


@oms_task(name="channels.sync_deep_all", queue="channels")
def sync_deep_all_task(**_: Any) -> int:
    """Daily: re-read the last day of every connected channel (nothing slips between pages)."""
    return requests.channels_sync_request(
        channel_ids=sync.channels_connected(), trigger=SyncTrigger.DEEP, deep=True
    )


# --- webhooks: processed through the kernel's inbox (oms.inbox_process, oms.inbox_sweep) ---------
# The two names below stay registered: outbox messages written before the inbox moved to the
# kernel name them (with the delivery's id as it is in the inbox), and a beat of that time may
# still send the sweep.


@oms_task(name="channels.webhooks_sweep", queue="channels")
def webhooks_sweep_task(**_: Any) -> int:
    """Former name of oms.inbox_sweep."""
    return inbox_requeue()


def _webhook_gave_up(kwargs: dict[str, Any], failure: str) -> None:
    inbox_gave_up(inbox_id=kwargs["delivery_id"], reason=failure)


@oms_task(name="channels.webhook_process", queue="channels", give_up=_webhook_gave_up)
def webhook_process_task(*, delivery_id: int, **_: Any) -> str:
    """Former name of oms.inbox_process (`delivery_id` is the inbox row's id)."""
    return inbox_process(inbox_id=delivery_id).status


@oms_task(name="channels.stock_push_due", queue="channels")
def stock_push_due_task(**_: Any) -> int:
    return requests.channels_stock_push_request(channel_ids=push.channels_with_pending_stock())


@oms_task(name="channels.stock_push", queue="channels")
def stock_push_task(*, channel_id: int, **_: Any) -> int:
    return len(push.channel_stock_push(channel=channel_id))


@oms_task(name="channels.stock_reconcile_all", queue="channels")
def stock_reconcile_all_task(**_: Any) -> int:
    return requests.channels_stock_reconcile_all()


def _shipment_push_gave_up(kwargs: dict[str, Any], failure: str) -> None:
    push.push_gave_up(reference=push.shipment_reference(kwargs["shipment_id"]), reason=failure)


def _push_gave_up(kwargs: dict[str, Any], failure: str) -> None:
    push.push_gave_up(reference=kwargs["reference"], reason=failure)


@oms_task(name="channels.shipment_push", queue="channels", give_up=_shipment_push_gave_up)
def shipment_push_task(*, shipment_id: int, **_: Any) -> str:
    result = push.shipment_push(shipment_id=shipment_id)
    return "skipped" if result is None else result.status


@oms_task(name="channels.cancel_push", queue="channels", give_up=_push_gave_up)
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


@oms_task(name="channels.refund_push", queue="channels", give_up=_push_gave_up)
def refund_push_task(
    *, order_id: int, reference: str, amount: str, currency: str, reason: str = "", **_: Any
) -> str:
    result = push.refund_push(
        order_id=order_id, reference=reference, amount=amount, currency=currency, reason=reason
    )
    return "skipped" if result is None else result.status


def _csv_job_gave_up(kwargs: dict[str, Any], failure: str) -> None:
    from oms.jobs import job_gave_up

    job_gave_up(kwargs, failure)


@oms_task(
    name="channels.csv_orders_job",
    queue="channels",
    give_up=_csv_job_gave_up,
    soft_time_limit=900,
    time_limit=960,
)
def csv_orders_job_task(*, job_id: int, **_: Any) -> str:
    """The back office's CSV order preview or import, as a background job."""
    from channels.services.csv_jobs import orders_csv_job_run
    from oms.jobs import job_run

    return job_run(job_id, orders_csv_job_run)
