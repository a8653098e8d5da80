"""The Celery entry point (`celery -A oms`): the application of oms.taskapp, the lifecycle of
its workers and beat (identities, heartbeats, recovery after a crash), and what every task
run carries: its log context (the request id and order number of its cause, oms.logs) and
its counts for /metrics (oms.metrics).

Invariant: the log context and the counts are kept in worker processes only: a task run
eagerly (tests, scripts) leaves the caller's context as it was and counts nothing."""

from __future__ import annotations

import logging
from typing import Any

from celery import signals

from oms.taskapp import APPS, OUTBOX_SWEEP_SECONDS, QUEUES, app, ensure_broker_folders

__all__ = ["APPS", "OUTBOX_SWEEP_SECONDS", "QUEUES", "app", "ensure_broker_folders"]

logger = logging.getLogger(__name__)


# --- worker and beat lifecycle: identities, heartbeats, recovery after a crash ----------------

_heartbeat: Any = None


_in_worker = False


@signals.setup_logging.connect
def _logging_as_django(**_: Any) -> None:
    """Workers and beat log as the web does (LOGGING of oms.settings: JSON in production, the
    housekeeping filter), instead of Celery taking the root logger over with its own format."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@signals.worker_init.connect
def _worker_identity(**_: Any) -> None:
    """Before the pool forks: its processes inherit the identity of their worker."""
    from oms.workers import process_identity, worker_identity_set

    global _in_worker
    _in_worker = True
    worker_identity_set(process_identity())


# --- every task run: its log context and its counts -------------------------------------------

#: The Celery message header that carries the log context of what sent the task directly (not
#: through the outbox, whose rows carry their own).
CONTEXT_HEADER = "oms_context"


@signals.before_task_publish.connect
def _context_carried(headers: dict[str, Any] | None = None, **_: Any) -> None:
    from oms.logs import log_context

    context = log_context()
    if context and headers is not None and CONTEXT_HEADER not in headers:
        headers[CONTEXT_HEADER] = context


@signals.task_prerun.connect
def _task_begins(task_id: str = "", task: Any = None, **_: Any) -> None:
    if not _worker_run(task):
        return
    from oms.logs import log_context_set
    from oms.metrics import task_counts

    request = getattr(task, "request", None)
    log_context_set(
        getattr(request, CONTEXT_HEADER, None), task=getattr(task, "name", None), task_id=task_id
    )
    task_counts.begin(task_id)


def _worker_run(task: Any) -> bool:
    """A run by a worker (not `apply()` in a test or a script, even in a process that once
    started a worker in a thread)."""
    return _in_worker and not getattr(getattr(task, "request", None), "is_eager", False)


_OUTCOMES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}


@signals.task_postrun.connect
def _task_ends(task_id: str = "", task: Any = None, state: str = "", **_: Any) -> None:
    if not _worker_run(task):
        return
    from oms.logs import log_context_clear
    from oms.metrics import task_counts

    task_counts.end(task_id, str(getattr(task, "name", "?")), _OUTCOMES.get(state, "failed"))
    task_counts.flush_if_due()
    log_context_clear()


@signals.worker_process_shutdown.connect
def _pool_process_stopping(**_: Any) -> None:
    from oms.metrics import task_counts

    task_counts.flush()


@signals.worker_ready.connect
def _worker_ready(sender: Any = None, **_: Any) -> None:
    """Beat, mark the dead processes of this host, and have their claims published again."""
    _heartbeat_start("worker", getattr(sender, "hostname", "") or "")
    try:
        from oms.outbox import outbox_sweep
        from oms.workers import heartbeats_dead_on_this_host

        dead = heartbeats_dead_on_this_host()
        published = outbox_sweep()
        if dead or published:
            logger.info(
                "Recovered after %d lost process(es): %d outbox message(s) published.",
                len(dead),
                published,
            )
    except Exception:
        logger.exception("Recovery at worker start failed; the beat sweep will do it.")


@signals.beat_init.connect
def _beat_ready(**_: Any) -> None:
    from oms.workers import process_identity, worker_identity_set

    worker_identity_set(process_identity())
    _heartbeat_start("beat", "beat")


@signals.worker_shutdown.connect
def _worker_stopping(**_: Any) -> None:
    global _heartbeat
    from oms.metrics import task_counts

    task_counts.flush()  # a threads or solo pool ran the tasks in this process
    beating, _heartbeat = _heartbeat, None
    if beating is not None:
        from oms.workers import heartbeat_stopped

        beating.stop()
        beating.join(timeout=5)
        try:
            heartbeat_stopped(beating.identity)
        except Exception as exc:
            logger.info("Could not record the worker's stop: %s", exc)


def _heartbeat_start(role: str, nodename: str) -> None:
    global _heartbeat
    from oms.workers import HeartbeatThread, process_identity

    if _heartbeat is None:
        _heartbeat = HeartbeatThread(identity=process_identity(), role=role, nodename=nodename)
        _heartbeat.start()
