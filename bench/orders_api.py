"""Benchmark: POST /api/v1/orders/ (3 lines) through a real HTTP server, gunicorn.

The script creates the test database and in it a shop (one channel "web" fed by 3 warehouses,
1,000 SKUs with plenty of stock each) and a user of the Manager group with a DRF token, then
starts `gunicorn oms.wsgi:application` with BENCH_WORKERS (2) sync workers on a free port of
127.0.0.1, as production runs it: DEBUG=0, persistent database connections (CONN_MAX_AGE=60,
through bench/_gunicorn_settings.py, since oms/settings.py reads no CONN_MAX_AGE from the
environment), OMS_VAR_DIR in a temporary folder and an in-memory Celery broker (nothing
consumes the enqueued currency conversions). It then measures, loopback only, with
http.client (the sync workers close each connection, so every request connects anew):
1. the latency (p50/p95/max) of BENCH_REQUESTS (300) orders sent one after the other;
2. the throughput with BENCH_CLIENTS (4) concurrent clients (threads, each its own connection)
   for BENCH_SECONDS (10), at most BENCH_MAX_ORDERS (5,000) orders;
and, in this process, the statements of one order_capture call and of one API request
(CaptureQueriesContext), and the database's share of an API request (50 requests profiled
through the test client). Each figure is printed as a ratio to the baseline of ARCHITECTURE.md
measured in the same run, before and after (one order, three lines, three StockLevel rows locked
and updated in one transaction; see bench/_common.py): the latency against the baseline on one
connection, the throughput of the BENCH_CLIENTS clients against the baseline run in as many
processes for BENCH_BASELINE_SECONDS (5) each time (the machine's cores are shared alike).
Targets: p50 < 30 ms and >= 150 orders/s; and issue 16's: the 4 clients >= 0.4x the baseline
run with 4 processes. gunicorn is stopped at the end, whatever happens.

It measures whatever capture does when it runs: if fulfilment routes captured orders, the
routing (reservations, shipments) is part of each request, and the status distribution of the
orders created shows it (allocated, or pending when nothing routes them).

PostgreSQL is the reference (SQLite runs too, with one writer at a time):
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench \
        .venv/bin/python bench/orders_api.py
The test database (test_oms_bench) is created and dropped by the script.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from _common import (
    ROOT,
    baseline_concurrent,
    baseline_latency,
    baseline_levels,
    count_queries,
    describe_database,
    latency,
    p50,
    ratio,
    record,
    target,
    test_database,
)
from _orders import order_payload, profile, profile_text, routing_on_capture, shop
from _orders import status_distribution as distribution
from django.db import connection

WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
MAX_ORDERS = int(os.environ.get("BENCH_MAX_ORDERS", "5000"))
BASELINE_SECONDS = float(os.environ.get("BENCH_BASELINE_SECONDS", "5"))
#: The ratio issue 16 asks of the concurrent clients: >= 0.4x the baseline in as many processes.
CLIENTS_TARGET = 0.4
PATH = "/api/v1/orders/"
TIMEOUT = 30


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    """The URL of the test database this process is connected to (for the server)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(str(db['NAME'])).resolve()}"
    if connection.vendor != "postgresql":
        raise SystemExit(f"no server set-up for {connection.vendor}")
    user = quote(str(db.get("USER") or ""), safe="")
    password = f":{quote(str(db['PASSWORD']), safe='')}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{quote(str(db['NAME']), safe='')}"


@contextlib.contextmanager
def gunicorn(port: int, var_dir: Path) -> Iterator[tuple[Path, int]]:
    """Run gunicorn until the block ends (stopped in any case); yields its log file and pid."""
    (var_dir / "static").mkdir(parents=True, exist_ok=True)  # no whitenoise warning
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="_gunicorn_settings",
        DEBUG="0",
        SECRET_KEY="bench-secret-key-not-for-production-use-0123456789",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        DATABASE_URL=database_url(),
        OMS_VAR_DIR=str(var_dir),
        CELERY_BROKER_URL="memory://localhost/",
        LOG_LEVEL="WARNING",
    )
    log = var_dir / "gunicorn.log"
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "oms.wsgi:application",
        "--workers",
        str(WORKERS),
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
        "--pythonpath",
        str(Path(__file__).resolve().parent),
        "--timeout",
        "60",
    ]
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield log, server.pid
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)  # gunicorn: graceful stop of its workers
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


def wait_ready(port: int, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(
        f"gunicorn did not answer /healthz in {seconds:g} s:\n{log.read_text()[-3000:]}"
    )


# --- where the CPU goes ---------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """The gunicorn workers (children of the master), on Linux."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def backends(db_name: str) -> list[int]:
    """The PostgreSQL backends connected to the test database (the server's), but ours."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [db_name],
        )
        return [row[0] for row in cursor.fetchall()]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes used so far (those that still run), on Linux."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all CPUs, on Linux."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = ticks[3] + ticks[4]  # idle, iowait
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks[:8]) - idle) / hz, sum(ticks[:8]) / hz


@dataclass
class LockWaits:
    samples: int = 0
    waiting: int = 0

    def share(self) -> float:
        return self.waiting / self.samples if self.samples else 0.0


@contextlib.contextmanager
def lock_waits(every: float = 0.05) -> Iterator[LockWaits]:
    """Sample pg_stat_activity meanwhile: how often a backend waits on a lock."""
    found = LockWaits()
    done = threading.Event()

    def sample() -> None:
        from django.db import connections

        try:
            with connections["default"].cursor() as cursor:
                while not done.wait(every):
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock'"
                    )
                    found.samples += 1
                    found.waiting += cursor.fetchone()[0] > 0
        finally:
            connections["default"].close()

    sampler = threading.Thread(target=sample) if connection.vendor == "postgresql" else None
    if sampler:
        sampler.start()
    try:
        yield found
    finally:
        done.set()
        if sampler:
            sampler.join(timeout=10)


# --- the client -----------------------------------------------------------------------------


def api_order(n: int, codes: list[str], prefix: str = "API") -> dict:
    """The JSON body of order n (3 lines, paid, complete address) for channel "web"."""
    return {"channel": "web", **order_payload(n, codes, prefix=prefix)}


@dataclass
class Client:
    port: int
    token: str
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        self.headers = {
            "Authorization": f"Token {self.token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def post(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        begin = time.perf_counter()
        try:
            self.conn.request("POST", PATH, body=body, headers=self.headers)
            response = self.conn.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.statuses["error"] += 1
            self.failures.append(repr(exc))
            return
        self.latencies.append((time.perf_counter() - begin) * 1000)
        self.statuses[response.status] += 1
        if response.status != 201:
            self.failures.append(f"HTTP {response.status}: {content[:300]!r}")
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()


def concurrent(port: int, token: str, numbers: Iterator[int], codes: list[str]) -> tuple:
    """CLIENTS threads posting new orders for SECONDS (MAX_ORDERS at most in all)."""
    clients = [Client(port, token) for _ in range(CLIENTS)]
    lock = threading.Lock()
    budget = itertools.count()
    barrier = threading.Barrier(CLIENTS + 1)
    stop = [0.0]

    def run(client: Client) -> None:
        barrier.wait(timeout=60)
        while time.perf_counter() < stop[0] and next(budget) < MAX_ORDERS:
            with lock:
                n = next(numbers)
            client.post(api_order(n, codes))

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    stop[0] = time.perf_counter() + SECONDS
    started = time.perf_counter()
    barrier.wait(timeout=60)
    for thread in threads:
        thread.join(timeout=SECONDS + TIMEOUT + 30)
    elapsed = time.perf_counter() - started
    return clients, elapsed


# --- the benchmark --------------------------------------------------------------------------


def main() -> None:
    with test_database() as db_name, tempfile.TemporaryDirectory(prefix="oms-bench-api-") as var:
        from django.apps import apps
        from django.contrib.auth.models import Group, User
        from rest_framework.authtoken.models import Token
        from rest_framework.test import APIClient

        from oms.roles import MANAGER, roles_sync
        from orders.models import Order
        from orders.services import order_capture

        base_ids = baseline_levels(30 * max(CLIENTS, 1))
        started = time.perf_counter()
        _, codes = shop(skus=1000, locations=3, stock=10**6)
        roles_sync(apps)  # as a second `migrate` would (see tests/orders/conftest.py)
        user = User.objects.create_user("bench-api")
        user.groups.add(Group.objects.get(name=MANAGER))
        token = Token.objects.create(user=user).key
        setup = time.perf_counter() - started
        numbers = itertools.count(1)

        # In this process: statements of the service and of the whole request.
        queries_service = count_queries(
            lambda: order_capture(channel="web", **order_payload(next(numbers), codes))
        )
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

        def post_in_process() -> object:
            payload = api_order(next(numbers), codes, "TC")
            response = api.post(PATH, payload, format="json")
            if response.status_code != 201:
                raise SystemExit(f"HTTP {response.status_code}: {response.content[:300]!r}")
            return response

        for _ in range(10):
            post_in_process()
        queries_api = count_queries(post_in_process)
        profiled, db_ms, cpu_ms, statements = profile(post_in_process for _ in range(50))
        t0 = time.perf_counter()
        for _ in range(50):
            post_in_process()
        in_process_ms = (time.perf_counter() - t0) * 1000 / 50

        before, base_queries = baseline_latency(base_ids[:30])
        concurrent_before = baseline_concurrent(
            db_name, base_ids, workers=CLIENTS, seconds=BASELINE_SECONDS, first_order_id=1
        )

        port = free_port()
        with gunicorn(port, Path(var)) as (log, master):
            wait_ready(port, log)
            warm = Client(port, token)
            for _ in range(10 * WORKERS):
                warm.post(api_order(next(numbers), codes, "W"))
            warm.conn.close()
            if warm.failures:
                raise SystemExit(f"warm-up failed: {warm.failures[0]}\n{log.read_text()[-3000:]}")
            api_numbers = itertools.count(10**6)

            one = Client(port, token)
            for _ in range(REQUESTS):
                one.post(api_order(next(api_numbers), codes))
            one.conn.close()

            workers, pg = children(master), backends(db_name)
            cpu_before = (cpu_seconds(workers), cpu_seconds(pg))
            machine_before = machine_cpu()
            client_before = time.process_time()
            with lock_waits() as waits:
                clients, elapsed = concurrent(port, token, api_numbers, codes)
            cpu_used = (cpu_seconds(workers) - cpu_before[0], cpu_seconds(pg) - cpu_before[1])
            client_cpu = time.process_time() - client_before
            machine = [b - a for a, b in zip(machine_before, machine_cpu(), strict=True)]
            server_log = log.read_text()
        after, _ = baseline_latency(base_ids[:30])
        concurrent_after = baseline_concurrent(
            db_name, base_ids, workers=CLIENTS, seconds=BASELINE_SECONDS, first_order_id=31
        )
        base_concurrent = (concurrent_before.per_second + concurrent_after.per_second) / 2

        done = sum(c.statuses[201] for c in clients)
        per_second = done / elapsed
        together = [ms for c in clients for ms in c.latencies]
        failures = one.failures + [f for c in clients for f in c.failures]
        statuses = one.statuses + sum((c.statuses for c in clients), Counter())
        base_ms = (p50(before) + p50(after)) / 2

        print(
            f"POST {PATH} (3 lines) on {describe_database()}: gunicorn, {WORKERS} sync workers, "
            f"CONN_MAX_AGE=60, DEBUG=0, loopback; routing on capture: "
            f"{'yes' if routing_on_capture() else 'no'} (setup {setup:.0f} s)"
        )
        print(
            f"{'baseline: 3-line order, 3 rows':<34} {latency(before + after)}  "
            f"{base_queries:>2} queries  {1000 / base_ms:5.0f}/s on 1 connection "
            f"(before {p50(before):.2f} ms, after {p50(after):.2f} ms)"
        )
        alone = one.latencies
        print(
            f"{f'{REQUESTS} orders, one after the other':<34} {latency(alone, with_max=True)}  "
            f"{ratio(p50(alone), base_ms)}  {target(p50(alone) < 30, 'p50 < 30 ms')}"
        )
        print(
            f"{f'{CLIENTS} clients for {SECONDS:g} s':<34} {latency(together, with_max=True)}  "
            f"{per_second:5.0f} orders/s ({done} in {elapsed:.1f} s)  "
            f"{ratio(per_second, 1000 / base_ms)}  {target(per_second >= 150, '>= 150 orders/s')}"
        )
        print(
            f"{f'baseline in {CLIENTS} processes':<34} {base_concurrent:5.0f}/s "
            f"(before {concurrent_before.per_second:.0f}/s, after "
            f"{concurrent_after.per_second:.0f}/s); the {CLIENTS} clients: "
            f"{ratio(per_second, base_concurrent)}  "
            f"{target(per_second >= CLIENTS_TARGET * base_concurrent, '>= 0.4x baseline')}"
        )
        if machine[1] > 0:
            ours = sum(cpu_used) + client_cpu
            per_order = [f"{seconds * 1000 / max(done, 1):.1f} ms" for seconds in cpu_used]
            postgres = (
                f"their PostgreSQL backends {per_order[1]}, "
                if connection.vendor == "postgresql"
                else ""
            )
            locks = (
                f"; a backend waited on a lock in {waits.share():.0%} of {waits.samples} samples"
                if waits.samples
                else ""
            )
            print(
                f"CPU per order during the {CLIENTS}-client run: gunicorn workers {per_order[0]}, "
                f"{postgres}these clients {client_cpu * 1000 / max(done, 1):.1f} ms; the "
                f"machine's {os.cpu_count()} CPUs {100 * machine[0] / machine[1]:.0f}% busy, "
                f"{100 * max(machine[0] - ours, 0) / machine[1]:.0f}% of it by other processes"
                f"{locks}"
            )
        print(
            f"answers: {dict(sorted(statuses.items(), key=str))}"
            + (f"; first failure: {failures[0]}" if failures else "")
        )
        print(
            f"statements per order: order_capture {queries_service}, the whole API request "
            f"{queries_api} (token, permissions, capture, the answer's read)"
        )
        print(
            f"where the time goes, in process ({profiled} requests through the test client): "
            f"{in_process_ms:.1f} ms per request, of which waiting for the database {db_ms:.1f} ms;"
            f" CPU of this process {cpu_ms:.1f} ms per request"
        )
        print(f"statements per request (ms each): {profile_text(statements)}")
        created = Order.objects.filter(channel__code="web")
        print(f"orders created: {created.count()}: {distribution(created)}")
        record(
            f"POST {PATH}, one at a time (p50)",
            p50(alone),
            "ms",
            base_ms,
            "ms (p50, 1 connection)",
            higher_is_better=False,
            statements=queries_api,
        )
        record(
            f"POST {PATH}, {CLIENTS} clients, {WORKERS} gunicorn workers",
            per_second,
            "orders/s",
            base_concurrent,
            f"tx/s ({CLIENTS} processes)",
            higher_is_better=True,
            statements=queries_api,
            target_ratio=CLIENTS_TARGET,
        )
        errors = [ln for ln in server_log.splitlines() if "Traceback" in ln or "ERROR" in ln]
        if errors:
            print(f"gunicorn log: {len(errors)} error lines, first: {errors[0][:200]}")


if __name__ == "__main__":
    main()
