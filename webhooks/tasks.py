"""Celery entry points of the webhooks app (names are stable: outbox rows and the beat schedule
store them).

Invariants: each task is safe to run twice: recording an event records it once (by its outbox
message's id); a delivery attempt runs only for a pending delivery
that is due and not in flight (webhooks.services.delivery claims it); pruning deletes what is
past the retention; the e-mail about a disabled endpoint is sent only while it is disabled.
"""

from __future__ import annotations

from typing import Any

from oms.tasks import oms_task


@oms_task(name="webhooks.event_record", with_message_id=True)
def event_record(*, outbox_message_id: int | None = None, **kwargs: Any) -> str:
    """Record the event a change noted (webhooks.subscribers); the message's id numbers it."""
    from webhooks.services import event_record as record

    if outbox_message_id is None:
        raise ValueError("webhooks.event_record runs from the outbox: its message id numbers it.")
    return record(message_id=outbox_message_id, **kwargs)


@oms_task(name="webhooks.events_drain", max_retries=0)
def events_drain(**_: Any) -> int:
    """Record the events of the pending `webhooks.event_record` messages in bulk (a committed
    change nudges it once, however many events it raised: oms.outbox.outbox_drained_by)."""
    from oms.outbox import outbox_run_many
    from webhooks.services import events_record_messages
    from webhooks.services.recording import RECORD_TASK

    ran = 0
    for _round in range(20):  # 10,000 messages a run at most: a later nudge or the sweep goes on
        done = outbox_run_many(RECORD_TASK, call=events_record_messages, limit=500)
        ran += done
        if done < 500:
            break
    return ran


@oms_task(name="webhooks.deliver", soft_time_limit=60, time_limit=90)
def deliver(*, delivery_id: int, **_: Any) -> str:
    from webhooks.services import delivery_attempt

    return delivery_attempt(delivery_id=delivery_id)


@oms_task(name="webhooks.events_prune")
def events_prune(**_: Any) -> int:
    from webhooks.services import events_prune as prune

    return prune()


@oms_task(name="webhooks.endpoint_disabled_notify")
def endpoint_disabled_notify(*, endpoint_id: int, **_: Any) -> int:
    from webhooks.services import endpoint_disabled_notify as notify

    return notify(endpoint_id=endpoint_id)
