"""The container image's entry point, run outside a container (no Docker engine runs on the CI
machines): `deploy/entrypoint.sh check` passes Django's deployment checks with production
settings, and `deploy/entrypoint.sh web` collects the static files, starts gunicorn with
DEBUG off, answers /healthz, serves hashed and compressed static files through whitenoise,
keeps /metrics closed without its token, logs JSON lines with the request id, and stops
cleanly on SIGTERM (what `docker stop` sends)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import CONFIGURED_BROKER_URL
from tests.integration.procs import database_url, free_port, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    # The web process only checks that the broker answers: CI's second pass of the worker
    # tests, on RabbitMQ, would run it again for nothing.
    pytest.mark.skipif(
        CONFIGURED_BROKER_URL.startswith("amqp"), reason="runs in the Redis and SQLite passes"
    ),
]

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"


def production_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OMS_", "SENTRY_", "OTEL_", "DJANGO_")) and key != "DEBUG"
    }
    broker = CONFIGURED_BROKER_URL
    if broker.startswith("filesystem://"):
        broker = ""  # the embedded broker under the process's own OMS_VAR_DIR
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        DEBUG="0",
        SECRET_KEY="entrypoint-smoke-test-" + "k" * 40,
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=broker,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        OMS_VAR_DIR=str(tmp / "var"),
        OMS_STATIC_ROOT=str(tmp / "static"),
        PROMETHEUS_MULTIPROC_DIR=str(tmp / "prometheus"),
        **extra,
    )
    if not broker:
        env.pop("CELERY_BROKER_URL")
    return env


def test_the_deployment_checks_pass_with_production_settings(tmp_path):
    done = subprocess.run(
        [str(ENTRYPOINT), "check"],
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_web_entrypoint_serves_the_site_with_debug_off(tmp_path):
    port = free_port()
    log = tmp_path / "web.log"
    env = production_env(
        tmp_path,
        PORT=str(port),
        OMS_BIND="127.0.0.1",
        WEB_CONCURRENCY="2",
        OMS_METRICS_TOKEN="smoke-token",
        # Plain HTTP on loopback: nothing in front terminates TLS here.
        SECURE_SSL_REDIRECT="0",
    )
    with open(log, "wb") as out:
        web = subprocess.Popen(
            [str(ENTRYPOINT), "web"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_for(healthy, 120), log.read_text(errors="replace")[-3000:]
        health = httpx.get(f"{base}/healthz").json()
        assert health["database"]["status"] == "up"
        assert health["workers"]["status"] in ("none", "ok", "some_dead")

        # Static files: collected by the entry point, hashed names cached for ever, gzip too.
        manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
        hashed = manifest["paths"]["admin/css/base.css"]
        assert hashed != "admin/css/base.css"
        css = httpx.get(f"{base}/static/{hashed}", headers={"Accept-Encoding": "gzip"})
        assert css.status_code == 200
        assert css.headers["Content-Encoding"] == "gzip"
        assert "immutable" in css.headers["Cache-Control"]
        assert "body" in css.text

        # /metrics: closed without the token, the named series with it (summed over gunicorn's
        # two processes through PROMETHEUS_MULTIPROC_DIR).
        refused = httpx.get(f"{base}/metrics", headers={"X-Request-ID": "smoke-403"})
        assert refused.status_code == 403
        metrics = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer smoke-token"})
        assert metrics.status_code == 200
        assert "django_http_requests_total_by_method_total" in metrics.text
        assert "oms_outbox_messages" in metrics.text
        assert any((tmp_path / "prometheus").iterdir())
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        code = web.wait(60)
    output = log.read_text(errors="replace")
    assert code == 0, output[-3000:]
    # Production logs JSON: the refused scrape's line carries the id the request brought.
    lines = []
    for raw in output.splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    assert any(
        line.get("request_id") == "smoke-403" and line.get("level") == "warning" for line in lines
    ), output[-3000:]
