"""Real processes for the fault tests: a Celery worker and beat in their own sessions (so that
`kill -9` takes the worker and its pool together), a private Redis server that a test stops and
starts, and small fake vendor servers (an EasyPost-shaped carrier, a Shopify shop over HTTP)
that can be slowed down so that a fault lands in the middle of a call."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


def wait_for(condition: Callable[[], Any], seconds: float = 60, step: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url() -> str:
    """The URL of the test database this test writes to (a transaction=True test commits)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or "postgres"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


class CeleryProcess:
    """`celery -A oms worker|beat` in a session of its own, its output in a log file."""

    def __init__(self, role: str, env: dict[str, str], log: Path, *args: str) -> None:
        self.role, self.env, self.log, self.args = role, env, log, args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> CeleryProcess:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [CELERY, "-A", "oms", self.role, *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def kill9(self) -> None:
        """SIGKILL to the whole session: the main process and its pool, no goodbye."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(20)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            with_suppressed(lambda: os.killpg(self.proc.pid, signal.SIGKILL))  # type: ignore[union-attr]

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def with_suppressed(action: Callable[[], Any]) -> None:
    with contextlib.suppress(ProcessLookupError, OSError):
        action()


def worker(env: dict[str, str], log: Path, name: str = "fault") -> CeleryProcess:
    return CeleryProcess(
        "worker",
        env,
        log,
        "--loglevel=INFO",
        "--queues=default,channels,labels,fx",
        "--pool=prefork",
        "--concurrency=1",
        f"--hostname={name}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    )


def beat(env: dict[str, str], log: Path, schedule: Path) -> CeleryProcess:
    return CeleryProcess("beat", env, log, "--loglevel=INFO", f"--schedule={schedule}")


class PrivateRedis:
    """A Redis server of the test's own on a spare port, keeping nothing on disk."""

    def __init__(self, folder: Path, host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self.folder, self.host = folder, host
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                self.host,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                # Clients of other network namespaces connect to a non-loopback address.
                "--protected-mode",
                "yes" if self.host == "127.0.0.1" else "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_for(self.up, 10), "the private Redis did not start"
        return self

    def up(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        assert wait_for(lambda: not self.up(), 5)


class RabbitMQApp:
    """The machine's RabbitMQ (the configured broker): `rabbitmqctl stop_app` closes its port
    while the node keeps its durable queues; `start_app` opens it again."""

    def __init__(self, url: str) -> None:
        self.url = url

    def start(self) -> RabbitMQApp:
        subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True)
        assert wait_for(self.up, 30), "RabbitMQ did not come back"
        return self

    def up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", 5672), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True)
        assert wait_for(lambda: not self.up(), 10)


# --- fake vendors over HTTP --------------------------------------------------------------------


class _Server:
    """A threaded HTTP server on loopback answering with `handle(method, path, headers, body)`."""

    def __init__(
        self,
        handle: Callable[[str, str, dict[str, str], bytes], tuple[int, Any]],
        host: str = "127.0.0.1",
    ):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = handle(self.command, self.path, dict(self.headers), body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                kind = "application/pdf" if isinstance(payload, bytes) else "application/json"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with_suppressed(lambda: self.wfile.write(data))

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args: Any) -> None:
                outer.requests.append(args)

        self.requests: list[Any] = []
        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.httpd.server_address[0]}:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


class FakeEasyPost:
    """EasyPost's shipments and purchases, idempotent on the Idempotency-Key header as EasyPost
    is; each purchase takes `buy_seconds`. `sold` counts labels really bought."""

    def __init__(self, buy_seconds: float = 0.0, host: str = "127.0.0.1") -> None:
        self.buy_seconds = buy_seconds
        self.lock = threading.Lock()
        self.shipments: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, str] = {}
        self.buys_started = 0
        self.sold = 0
        self.server = _Server(self.handle, host)

    @property
    def url(self) -> str:
        return self.server.url

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        key = headers.get("Idempotency-Key", "")
        if method == "GET" and path.startswith("/labels/"):
            return 200, PDF
        if method == "POST" and path == "/v2/shipments":
            with self.lock:
                if key not in self.by_key:
                    sid = f"shp_{len(self.shipments) + 1}"
                    reference = json.loads(body)["shipment"]["reference"]
                    self.shipments[sid] = {
                        "id": sid,
                        "reference": reference,
                        "rates": [
                            {"id": f"rate_{sid}", "carrier": "USPS", "service": "Priority"}
                            | {"rate": "7.50", "currency": "USD", "delivery_days": 2}
                        ],
                    }
                    self.by_key[key] = sid
                return 201, self.shipments[self.by_key[key]]
        found = re.fullmatch(r"/v2/shipments/(shp_\d+)(/buy)?", path)
        if found and found.group(1) in self.shipments:
            sid = found.group(1)
            if method == "POST" and found.group(2):
                with self.lock:
                    self.buys_started += 1
                time.sleep(self.buy_seconds)  # the purchase completes whatever the caller does
                with self.lock:
                    shipment = self.shipments[sid]
                    if not shipment.get("tracking_code"):
                        self.sold += 1
                        shipment["tracking_code"] = f"9400{sid[4:].zfill(18)}"
                        shipment["postage_label"] = {"label_pdf_url": f"{self.url}/labels/{sid}"}
                        shipment["tracker"] = {"public_url": f"{self.url}/track/{sid}"}
                return 200, shipment
            return 200, self.shipments[sid]
        return 404, {"error": {"code": "NOT_FOUND", "message": path}}

    def close(self) -> None:
        self.server.close()


class SlowShop:
    """A fake Shopify shop (channels.fakes.shopify) served over HTTP, each request slowed by
    `seconds`; `pages_served` counts the pages of orders it answered and `orders_asked` the
    order queries it received (stock pushes are not counted)."""

    def __init__(self, store: Any, seconds: float = 0.0, host: str = "127.0.0.1") -> None:
        self.store, self.seconds = store, seconds
        self.orders_asked = self.pages_served = 0
        self.lock = threading.Lock()
        self.server = _Server(self.handle, host)

    @property
    def url(self) -> str:
        return self.server.url

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        is_orders = b"orders(" in body
        self.orders_asked += is_orders
        time.sleep(self.seconds)
        url = f"https://shop.example{path}"
        with self.lock:  # the test may add orders to the store meanwhile
            response = self.store.handler(httpx.Request(method, url, headers=headers, content=body))
        self.pages_served += is_orders
        return response.status_code, response.json()

    def close(self) -> None:
        self.server.close()
