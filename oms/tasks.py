"""The base of every Celery task, and the kernel's own tasks (its periodic ones, the inbox's).

Invariants: tasks ack late and are re-queued if the worker dies, so every task must be safe to
run twice; arguments are JSON (ids and primitives); every task has a time limit. A task that
comes through the outbox (oms.outbox) runs only after claiming its message, so a message
delivered twice runs once, and its transient errors (oms.outbox.TRANSIENT_ERRORS) are retried
with backoff through the outbox, a bounded number of times, then its give-up hook flags its
object. A task sent by beat directly is retried by Celery on the same transient errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task, shared_task

from oms.outbox import OUTBOX_KWARG, TRANSIENT_ERRORS, outbox_run

F = TypeVar("F", bound=Callable[..., Any])


class OmsTask(Task):
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 8
    soft_time_limit = 300
    time_limit = 360
    #: The queue this task runs on (routed by `route_task`, not by Celery's deprecated `queue`).
    oms_queue = "default"
    #: Called as give_up(task kwargs, failure) when an outbox message of this task failed for
    #: good: it marks the task's object as needing attention.
    give_up: Callable[..., Any] | None = None
    #: The task is called with `outbox_message_id=` its message's id (its idempotency key).
    with_message_id = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        message_id = kwargs.pop(OUTBOX_KWARG, None)
        if message_id is None:
            return super().__call__(*args, **kwargs)
        # The outbox retries: call the function itself, not Celery's autoretry wrapper.
        run: Callable[..., Any] = getattr(self, "_orig_run", None) or self.run
        extra = {"outbox_message_id": int(message_id)} if self.with_message_id else {}
        return outbox_run(
            message_id=int(message_id), task=self, call=lambda stored: run(*args, **stored, **extra)
        )


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **_: Any) -> Any:
    """Celery router: each OMS task goes to the queue it declared."""
    queue = getattr(task, "oms_queue", None)
    return {"queue": queue} if queue else None


def oms_task(
    *,
    name: str,
    queue: str = "default",
    give_up: Callable[..., Any] | None = None,
    with_message_id: bool = False,
    **options: Any,
) -> Callable[[F], Any]:
    """Declare a task with a stable name on one of the OMS queues (returns the Celery task).

    `give_up(kwargs, failure)` marks the object of an outbox message that failed for good.
    `with_message_id`: run from the outbox, the task gets `outbox_message_id=` its message's id.
    """

    def decorator(func: F) -> Any:
        extra: dict[str, Any] = {"give_up": staticmethod(give_up)} if give_up is not None else {}
        if with_message_id:
            extra["with_message_id"] = True
        return shared_task(base=OmsTask, name=name, oms_queue=queue, **extra, **options)(func)

    return decorator


@oms_task(name="oms.idempotency_keys_purge")
def idempotency_keys_purge(**_: Any) -> int:
    from oms.api.idempotency import idempotency_keys_purge as purge

    return purge()


@oms_task(name="oms.outbox_sweep", soft_time_limit=50, time_limit=60, max_retries=0)
def outbox_sweep(**_: Any) -> int:
    """Publish the outbox messages that are due (see oms.outbox)."""
    from oms.outbox import outbox_sweep as sweep

    return sweep()


@oms_task(name="oms.outbox_purge")
def outbox_purge(**_: Any) -> int:
    from oms.jobs import jobs_purge
    from oms.outbox import outbox_purge as purge
    from oms.workers import heartbeats_purge

    return purge() + heartbeats_purge() + jobs_purge()


def _inbox_gave_up(kwargs: dict[str, Any], failure: str) -> None:
    from oms.inbox import inbox_gave_up

    inbox_gave_up(inbox_id=kwargs["inbox_id"], reason=failure)


@oms_task(name="oms.inbox_process", give_up=_inbox_gave_up)
def inbox_process(*, inbox_id: int, **_: Any) -> str:
    """Process one stored inbound webhook (a channel's, a carrier's, a 3PL's: oms.inbox); its
    message names the queue of the delivery's kind."""
    from oms.inbox import inbox_process as process

    return process(inbox_id=inbox_id).status


@oms_task(name="oms.inbox_sweep")
def inbox_sweep(**_: Any) -> int:
    """Beat: deliveries stored but never processed (their task was lost) are enqueued again."""
    from oms.inbox import inbox_requeue

    return inbox_requeue()


def _job_gave_up(kwargs: dict[str, Any], failure: str) -> None:
    from oms.jobs import job_gave_up

    job_gave_up(kwargs, failure)


@oms_task(name="oms.export_run", give_up=_job_gave_up, soft_time_limit=1800, time_limit=1860)
def export_run(*, job_id: int, **_: Any) -> str:
    """A big CSV export of an admin list (oms.admin.export), as a background job."""
    from oms.admin.export import export_job_run
    from oms.jobs import job_run

    return job_run(job_id, export_job_run)
