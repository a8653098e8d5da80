"""The Celery entry point (`celery -A oms`): the application of oms.taskapp, and the lifecycle
of its workers and beat (identities, heartbeats, recovery after a crash)."""

from __future__ import annotations

import logging
from typing import Any

from celery import signals

from oms.taskapp import APPS, OUTBOX_SWEEP_SECONDS, QUEUES, app, ensure_broker_folders

__all__ = ["APPS", "OUTBOX_SWEEP_SECONDS", "QUEUES", "app", "ensure_broker_folders"]

logger = logging.getLogger(__name__)


# --- worker and beat lifecycle: identities, heartbeats, recovery after a crash ----------------

_heartbeat: Any = None


@signals.worker_init.connect
def _worker_identity(**_: Any) -> None:
    """Before the pool forks: its processes inherit the identity of their worker."""
    from oms.workers import process_identity, worker_identity_set

    worker_identity_set(process_identity())


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
