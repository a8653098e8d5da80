"""`/healthz`: is the database reachable, is the broker reachable, is the outbox keeping up.

Invariant: answers 200 only when the database and the broker are up and no due outbox message
has waited longer than OMS_OUTBOX_MAX_AGE_SECONDS; 503 otherwise, always saying what is wrong
(the page is public: an error that names a URL says it without its password).
"""

from __future__ import annotations

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


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = database_status()
    broker = broker_status()
    outbox = outbox_status() if database["status"] == "up" else {"status": "unknown"}
    healthy = database["status"] == "up" and broker["status"] == "up" and outbox["status"] == "ok"
    return JsonResponse(
        {
            "status": "ok" if healthy else "degraded",
            "database": database,
            "broker": broker,
            "outbox": outbox,
        },
        status=200 if healthy else 503,
    )
