"""The base of every Celery task, and the kernel's own periodic tasks.

Invariants: tasks ack late and are re-queued if the worker dies, so every task must be safe to
run twice; only TransientError is retried, with exponential backoff and jitter, a bounded number
of times; arguments are JSON (ids and primitives).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task, shared_task

from oms.errors import TransientError

F = TypeVar("F", bound=Callable[..., Any])


class OmsTask(Task):
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (TransientError,)
    retry_backoff = 2
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 8
    soft_time_limit = 300
    time_limit = 360
    #: The queue this task runs on (routed by `route_task`, not by Celery's deprecated `queue`).
    oms_queue = "default"


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **_: Any) -> Any:
    """Celery router: each OMS task goes to the queue it declared."""
    queue = getattr(task, "oms_queue", None)
    return {"queue": queue} if queue else None


def oms_task(*, name: str, queue: str = "default", **options: Any) -> Callable[[F], Any]:
    """Declare a task with a stable name on one of the OMS queues (returns the Celery task)."""

    def decorator(func: F) -> Any:
        return shared_task(base=OmsTask, name=name, oms_queue=queue, **options)(func)

    return decorator


@oms_task(name="oms.idempotency_keys_purge")
def idempotency_keys_purge(**_: Any) -> int:
    from oms.api.idempotency import idempotency_keys_purge as purge

    return purge()
