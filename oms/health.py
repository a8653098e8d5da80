"""`/healthz`: is the database reachable, is the broker reachable.

Invariant: answers 200 only when both are up, 503 otherwise, and always says which is down.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from oms.celery import app as celery_app


def database_status() -> dict[str, Any]:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"status": "down", "error": str(exc)[:200]}
    return {"status": "up", "vendor": connection.vendor, "ms": _ms(started)}


def broker_status() -> dict[str, Any]:
    started = time.monotonic()
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:
        return {"status": "down", "error": str(exc)[:200]}
    return {"status": "up", "transport": str(transport), "ms": _ms(started)}


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = database_status()
    broker = broker_status()
    healthy = database["status"] == "up" and broker["status"] == "up"
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "database": database, "broker": broker},
        status=200 if healthy else 503,
    )
