"""Observability in one process: request ids, JSON log lines, the outbox carrying the context,
/metrics (its series and who may read them), the liveness of workers and beat in /healthz,
Sentry and OpenTelemetry off until their variable is set. (A real worker's log line carrying
the request id, and a killed worker in /healthz: tests/integration/test_observability.py.)"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from oms.logs import PlainFormatter, json_formatter, log_context_clear, log_context_set
from oms.metrics import BUCKETS, TaskCounts
from oms.models import OutboxMessage, TaskMetrics, WorkerHeartbeat
from oms.roles import MANAGER
from tests.conftest import token_client
from tests.fulfilment.conftest import network, put

__all__ = ["network"]

ROOT = Path(__file__).resolve().parents[2]

ORDER = {
    "channel": "web",
    "external_id": "OBS-1",
    "currency": "EUR",
    "customer": {"email": "obs@example.com", "first_name": "Ada", "last_name": "L"},
    "shipping_address": {
        "name": "Ada L",
        "line1": "Jungfernstieg 1",
        "postal_code": "20095",
        "city": "Hamburg",
        "country": "DE",
    },
    "lines": [{"sku": "A", "quantity": 1, "unit_price": "19.95"}],
    "payment_status": "paid",
}


def record(message: str, *, level: int = logging.INFO, name: str = "oms.test") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


# --- request ids and the log context ----------------------------------------------------------


@pytest.mark.django_db
def test_every_answer_has_a_request_id_and_a_plain_one_sent_is_kept(client):
    given = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.42")
    assert given["X-Request-ID"] == "lb-7f3a.42"
    new = client.get("/healthz")
    other = client.get("/healthz")
    assert len(new["X-Request-ID"]) == 32
    assert new["X-Request-ID"] != other["X-Request-ID"]
    # Not a plain token (spaces, a line break, too long): a new id, never the text echoed.
    for bad in ("a b", "x\ny", "z" * 65):
        answered = client.get("/healthz", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
        assert answered != bad
        assert len(answered) == 32


def test_a_json_line_has_the_context_and_the_plain_line_shows_it():
    log_context_set({"request_id": "req-1", "order_number": "100007"}, task="orders.x")
    try:
        line = json.loads(json_formatter().format(record("Captured.")))
        plain = PlainFormatter("%(levelname)s %(message)s").format(record("Captured."))
    finally:
        log_context_clear()
    assert line["event"] == "Captured."
    assert line["level"] == "info"
    assert line["logger"] == "oms.test"
    assert (line["request_id"], line["order_number"], line["task"]) == (
        "req-1",
        "100007",
        "orders.x",
    )
    assert line["time"].endswith("Z")
    assert plain == "INFO Captured. [request_id=req-1 order_number=100007]"
    # No context: the plain line is what it always was.
    assert PlainFormatter("%(levelname)s %(message)s").format(record("Idle.")) == "INFO Idle."


def test_a_json_line_holds_the_exception():
    try:
        raise ValueError("boom")
    except ValueError:
        failed = record("Failed.", level=logging.ERROR)
        failed.exc_info = sys.exc_info()
    line = json.loads(json_formatter().format(failed))
    assert line["level"] == "error"
    assert line["exception"][0]["exc_type"] == "ValueError"
    assert line["exception"][0]["exc_value"] == "boom"


@pytest.mark.django_db(transaction=True)
def test_the_outbox_messages_of_a_request_carry_its_id_and_the_order_number(network):
    from django.apps import apps

    from oms.roles import roles_sync

    roles_sync(apps)  # a transactional test before this one flushed the roles' grants
    put(network, "BER", "A", 5)
    api = token_client(MANAGER)
    before = OutboxMessage.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    answer = api.post("/api/v1/orders/", ORDER, format="json", HTTP_X_REQUEST_ID="req-obs-1")
    assert answer.status_code == 201, answer.content
    number = answer.json()["number"]
    contexts = {
        task: kwargs.get("_context")
        for task, kwargs in OutboxMessage.objects.filter(pk__gt=before).values_list(
            "task", "kwargs"
        )
    }
    assert contexts, "the capture wrote no outbox message"
    assert all(
        c == {"request_id": "req-obs-1", "order_number": number} for c in contexts.values()
    ), contexts
    # The request's context does not leak into what this thread does next.
    from oms.logs import log_context

    assert log_context() == {}


@pytest.mark.django_db
def test_a_task_run_from_the_outbox_logs_with_its_causes_context(caplog):
    from oms.outbox import outbox_enqueue, outbox_run
    from oms.tasks import idempotency_keys_purge

    log_context_set({"request_id": "req-9", "order_number": "100042"})
    message = outbox_enqueue(idempotency_keys_purge)
    log_context_clear()
    assert message is not None

    seen: list[dict[str, str]] = []

    def call(kwargs):
        from oms.logs import log_context

        seen.append(log_context())
        logging.getLogger("oms.test").info("working")

    outbox_run(message_id=message.pk, task=idempotency_keys_purge, call=call)
    log_context_clear()
    assert seen == [{"request_id": "req-9", "order_number": "100042"}]


# --- /metrics ---------------------------------------------------------------------------------


def test_task_counts_add_up_into_a_histogram():
    counts = TaskCounts()
    for task_id, state in (("a", "succeeded"), ("b", "succeeded"), ("c", "failed")):
        counts.begin(task_id)
        counts.end(task_id, "orders.x", state)
    counts.end("never-began", "orders.x", "retried")
    entry = counts.tasks["orders.x"]
    assert (entry["succeeded"], entry["failed"], entry["retried"]) == (2, 1, 1)
    assert sum(entry["buckets"]) == 3  # the one that never began has no duration
    assert len(entry["buckets"]) == len(BUCKETS) + 1


@pytest.mark.django_db
def test_metrics_are_closed_to_the_public(client, settings):
    settings.OMS_METRICS_TOKEN = "s3cret-token"
    settings.OMS_METRICS_ALLOWED_IPS = []
    refused = client.get("/metrics")
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "metrics_forbidden"
    assert b"oms_" not in refused.content
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Token s3cret-token").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
    # No token configured: a bearer of the empty token is nobody.
    settings.OMS_METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403
    # An address list: the test client's 127.0.0.1 is in 127.0.0.0/8, not in 10.0.0.0/8.
    settings.OMS_METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics").status_code == 403
    settings.OMS_METRICS_ALLOWED_IPS = ["10.0.0.0/8", "127.0.0.0/8"]
    assert client.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_metrics_expose_the_named_series(client, settings, network):
    settings.OMS_METRICS_TOKEN = "t"
    put(network, "BER", "A", 5)  # a stock change the web channel has not been told yet
    WorkerHeartbeat.objects.create(identity="h:1:1", role="worker", hostname="h", pid=1)
    counts = TaskCounts()
    counts.begin("1")
    counts.end("1", "fulfilment.labels_buy", "succeeded")
    counts.end("2", "fulfilment.labels_buy", "failed")
    counts.flush()
    # A second process's counts are added to the first's.
    other = TaskCounts()
    other.begin("3")
    other.end("3", "fulfilment.labels_buy", "succeeded")
    snapshot = other.tasks
    TaskMetrics.objects.create(identity="other:2:2", hostname="other", tasks=snapshot)
    OutboxMessage.objects.create(task="oms.outbox_sweep", state="failed")

    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t").content.decode()
    lines = set(text.splitlines())
    assert "django_http_requests_total_by_method_total" in text  # django-prometheus
    assert 'oms_celery_tasks_total{state="succeeded",task="fulfilment.labels_buy"} 2.0' in lines
    assert 'oms_celery_tasks_total{state="failed",task="fulfilment.labels_buy"} 1.0' in lines
    assert 'oms_celery_task_duration_seconds_count{task="fulfilment.labels_buy"} 2.0' in lines
    assert (
        'oms_celery_task_duration_seconds_bucket{le="+Inf",task="fulfilment.labels_buy"} 2.0'
        in (lines)
    )
    for queue in ("default", "channels", "labels", "fx"):
        assert any(line.startswith(f'oms_queue_depth{{queue="{queue}"}} ') for line in lines)
    assert 'oms_outbox_messages{state="failed"} 1.0' in lines
    assert any(line.startswith("oms_outbox_oldest_due_seconds ") for line in lines)
    assert 'oms_processes_alive{role="worker"} 1.0' in lines
    assert 'oms_processes_alive{role="beat"} 0.0' in lines
    lag = next(
        line
        for line in lines
        if line.startswith('oms_channel_stock_push_lag_seconds{channel="web"}')
    )
    assert float(lag.split()[-1]) >= 0
    assert any(line.startswith('oms_channel_sync_lag_seconds{channel="web"} ') for line in lines)
    assert "oms_metrics_unreadable{" not in text


@pytest.mark.django_db
def test_a_part_that_cannot_be_read_is_counted_not_fatal(client, settings, monkeypatch):
    from oms.celery import app as celery_app

    settings.OMS_METRICS_TOKEN = "t"
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    answer = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t")
    assert answer.status_code == 200
    text = answer.content.decode()
    assert 'oms_metrics_unreadable{part="queues"} 1.0' in text
    assert "oms_outbox_messages" in text


# --- /healthz: workers and beat ---------------------------------------------------------------


def beat_row(identity: str, role: str, seconds_ago: float, *, stopped: bool = False) -> None:
    seen = timezone.now() - dt.timedelta(seconds=seconds_ago)
    WorkerHeartbeat.objects.create(
        identity=identity,
        role=role,
        hostname="elsewhere",
        pid=1,
        nodename=f"{role}@{identity}",
        seen_at=seen,
        stopped_at=seen if stopped else None,
    )


@pytest.mark.django_db
def test_healthz_reports_workers_and_beat(client, settings):
    settings.OMS_WORKER_HEARTBEAT_STALE_SECONDS = 60
    body = client.get("/healthz").json()
    assert body["workers"] == {"status": "none", "alive": 0, "dead": []}  # a fresh start is fine
    assert body["status"] == "ok"

    beat_row("w1", "worker", 5)
    beat_row("w2", "worker", 600)  # killed ten minutes ago
    beat_row("w3", "worker", 900, stopped=True)  # stopped cleanly: not dead
    beat_row("w4", "worker", 7200)  # dead for two hours: forgotten
    beat_row("b1", "beat", 2)
    answer = client.get("/healthz")
    body = answer.json()
    assert answer.status_code == 200
    assert body["workers"]["status"] == "some_dead"
    assert body["workers"]["alive"] == 1
    assert [(d["identity"], d["name"]) for d in body["workers"]["dead"]] == [("w2", "worker@w2")]
    assert 590 <= body["workers"]["dead"][0]["seen_seconds_ago"] <= 700
    assert body["beat"] == {"status": "ok", "alive": 1, "dead": []}

    # The last live worker dies: nothing runs the work, health is degraded.
    WorkerHeartbeat.objects.filter(identity="w1").update(
        seen_at=timezone.now() - dt.timedelta(seconds=61)
    )
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["workers"]["status"] == "down"
    assert answer.json()["status"] == "degraded"


# --- Sentry and OpenTelemetry -------------------------------------------------------------------


def started_in_a_fresh_process(**env: str) -> list[str]:
    code = (
        "import django; django.setup(); from oms.telemetry import telemetry_started; "
        "print(','.join(telemetry_started()))"
    )
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SENTRY_DSN", "OTEL_EXPORTER_OTLP_ENDPOINT")
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "oms.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [name for name in done.stdout.strip().split(",") if name]


def test_sentry_and_opentelemetry_are_off_until_their_variable_is_set():
    assert started_in_a_fresh_process() == []
    assert started_in_a_fresh_process(SENTRY_DSN="https://key@127.0.0.1:9/1") == ["sentry"]
    assert started_in_a_fresh_process(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9") == ["otel"]
