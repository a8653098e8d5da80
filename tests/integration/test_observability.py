"""Observability with a real worker on the configured broker: the worker's JSON log lines of a
task that a request caused carry the request's id and the order's number, /metrics counts the
worker's task runs, and /healthz names the worker once it is killed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oms.models import WorkerHeartbeat
from oms.roles import MANAGER
from tests.conftest import CONFIGURED_BROKER_URL, token_client
from tests.fulfilment.conftest import network, put
from tests.integration.procs import wait_for
from tests.integration.test_faults import Stack
from tests.oms.test_observability import ORDER

__all__ = ["network"]

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

STALE_SECONDS = 4


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[Stack]:
    settings.OMS_WORKER_HEARTBEAT_STALE_SECONDS = STALE_SECONDS
    settings.OMS_METRICS_TOKEN = "metrics-token"
    made = Stack(
        tmp_path,
        CONFIGURED_BROKER_URL,
        monkeypatch,
        DEBUG="1",
        OMS_LOG_FORMAT="json",
        OMS_METRICS_FLUSH_SECONDS="0",  # every task's counts are written at once
        OMS_WORKER_HEARTBEAT_STALE_SECONDS=str(STALE_SECONDS),
    )
    yield made
    made.close()


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for raw in text.splitlines():
        try:
            parsed = json.loads(raw)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            lines.append(parsed)
    return lines


def test_a_task_caused_by_a_request_logs_its_id_counts_in_metrics_and_a_dead_worker_shows(
    network, stack, client
):
    from django.apps import apps

    from oms.roles import roles_sync

    roles_sync(apps)  # a transactional test before this one flushed the roles' grants
    put(network, "BER", "A", 5)
    worker = stack.worker()
    assert wait_for(lambda: client.get("/healthz").json()["workers"]["alive"] == 1, 90), (
        stack.logs()
    )

    answer = token_client(MANAGER).post(
        "/api/v1/orders/", ORDER, format="json", HTTP_X_REQUEST_ID="req-integration-1"
    )
    assert answer.status_code == 201, answer.content
    number = answer.json()["number"]

    # The order confirmation, which every captured order with an e-mail queues (an order in the
    # base currency queues no conversion: it is converted as it is captured).
    def task_line() -> dict[str, Any] | None:
        return next(
            (
                line
                for line in json_lines(worker.output())
                if line.get("task") == "fulfilment.email_send"
                and line.get("request_id") == "req-integration-1"
            ),
            None,
        )

    assert wait_for(lambda: task_line() is not None, 60), stack.logs()
    line = task_line()
    assert line is not None
    assert line["order_number"] == number
    assert line["task_id"]
    assert {"time", "level", "logger", "event"} <= set(line)

    def counted() -> bool:
        text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token").content.decode()
        return any(
            row.startswith('oms_celery_tasks_total{state="succeeded",task="fulfilment.email_send"}')
            for row in text.splitlines()
        )

    assert wait_for(counted, 30), stack.logs()

    identity = WorkerHeartbeat.objects.get(role="worker", stopped_at__isnull=True).identity
    worker.kill9()

    def reported_dead() -> bool:
        answer = client.get("/healthz")
        workers = answer.json()["workers"]
        return (
            answer.status_code == 503
            and workers["status"] == "down"
            and [dead["identity"] for dead in workers["dead"]] == [identity]
        )

    assert wait_for(reported_dead, STALE_SECONDS + 30), client.get("/healthz").json()
