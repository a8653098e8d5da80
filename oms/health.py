"""`/healthz`: is the database reachable, is the broker reachable, is the outbox keeping up,
are the workers and beat alive (their heartbeats, oms.workers.processes_status).

Invariant: answers 200 only when the database and the broker are up, no due outbox message
has waited longer than OMS_OUTBOX_MAX_AGE_SECONDS, and neither the workers nor beat are "down"
(some were beating lately and none beats now; "none", nothing seen lately, is not an outage:
a fresh start); 503 otherwise, always saying what is wrong
(the page is public: an error that names a URL says it without its password); the log gets one
line when health changes, not one per poll.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from oms.celery import app as celery_app
from oms.debug import url_passwords_masked


def _error(exc: Exception) -> str:
    return url_passwords_masked(str(exc))[:200]


logger = logging.getLogger(__name__)


def database_status() -> dict[str, Any]:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"status": "down", "error": _error(exc)}
    return {"status": "up", "vendor": connection.vendor, "ms": _ms(started)}


def broker_status() -> dict[str, Any]:
    started = time.monotonic()
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:
        return {"status": "down", "error": _error(exc)}
    return {"status": "up", "transport": str(transport), "ms": _ms(started)}


def outbox_status() -> dict[str, Any]:
    """Side effects waiting to be delivered (see oms.outbox)."""
    from oms.outbox import outbox_figures

    try:
        figures = outbox_figures()
    except Exception as exc:
        return {"status": "unknown", "error": _error(exc)}
    late = (
        figures.oldest_pending_seconds is not None
        and figures.oldest_pending_seconds > settings.OMS_OUTBOX_MAX_AGE_SECONDS
    )
    return {
        "status": "late" if late else "ok",
        "pending": figures.pending,
        "running": figures.running,
        "failed": figures.failed,
        "oldest_due_seconds": figures.oldest_pending_seconds,
        "max_age_seconds": settings.OMS_OUTBOX_MAX_AGE_SECONDS,
    }


def processes_part(role: str) -> dict[str, Any]:
    from oms.workers import processes_status

    try:
        return processes_status(role)
    except Exception as exc:
        return {"status": "unknown", "error": _error(exc)}


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


_last_problem: str | None = None


def _log_change(problem: str | None) -> None:
    """One WARNING when health degrades (and what is wrong), one INFO when it recovers: a load
    balancer polling a degraded server every second must not flood the log with ERRORs."""
    global _last_problem
    if problem != _last_problem:
        if problem:
            logger.warning("Health degraded: %s", problem)
        elif _last_problem:
            logger.info("Health recovered.")
        _last_problem = problem


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = database_status()
    broker = broker_status()
    up = database["status"] == "up"
    outbox = outbox_status() if up else {"status": "unknown"}
    workers = processes_part("worker") if up else {"status": "unknown"}
    beat = processes_part("beat") if up else {"status": "unknown"}
    parts = {
        "database": database,
        "broker": broker,
        "outbox": outbox,
        "workers": workers,
        "beat": beat,
    }
    wrong = [
        f"{name} {part['status']}"
        for name, part in parts.items()
        if part["status"] not in ("up", "ok", "some_dead", "none")
        and not (name in ("workers", "beat") and part["status"] == "unknown")
    ]
    response = JsonResponse(
        {"status": "degraded" if wrong else "ok", **parts}, status=503 if wrong else 200
    )
    response._has_been_logged = True  # type: ignore[attr-defined]  # by _log_change, not Django
    _log_change(", ".join(wrong) or None)
    return response
