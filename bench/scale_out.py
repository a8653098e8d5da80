"""Order capture through the API with one web host, then with two, against one PostgreSQL
through PgBouncer in transaction mode (issue 23: "Beyond one machine").

The hosts are those of the scale-out test (tests/integration/hosts.py): network namespaces
with their own addresses and hostnames where the machine allows it, processes on loopback
otherwise; each web host is deploy/entrypoint.sh web (gunicorn, DEBUG off, WEB_CONCURRENCY
sync workers) with the database through PgBouncer and a Redis cache and broker. No Celery
worker runs: the figure is the web tier's. CLIENTS threads post 3-line orders for SECONDS,
spread over the hosts; the baseline (bench/_common.py) runs in BASELINE_WORKERS processes
before and after.

On a machine of two cores the two hosts share them: the second host adds processes, not
CPUs, so the ratio of two hosts to one measures what the tier costs in coordination (PgBouncer,
the shared cache and database), not what a second machine would add.

PostgreSQL only (PgBouncer pools PostgreSQL): DATABASE_URL=postgres://... python
bench/scale_out.py. Environment: OMS_BENCH_SCALE_SECONDS (20), OMS_BENCH_SCALE_CLIENTS (8),
OMS_BENCH_SCALE_WEB_CONCURRENCY (2).
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from _common import (
    baseline_concurrent,
    baseline_levels,
    describe_database,
    ratio,
    record,
    test_database,
)
from _orders import order_payload, shop
from django.db import connection

SECONDS = float(os.environ.get("OMS_BENCH_SCALE_SECONDS", "20"))
CLIENTS = int(os.environ.get("OMS_BENCH_SCALE_CLIENTS", "8"))
WEB_CONCURRENCY = os.environ.get("OMS_BENCH_SCALE_WEB_CONCURRENCY", "2")
BASELINE_WORKERS = 4
BASELINE_SECONDS = 5.0


def load(webs: list[str], token: str, codes: list[str], numbers: itertools.count) -> tuple:
    """CLIENTS threads posting orders to `webs` (client i to host i mod len) for SECONDS."""
    import httpx

    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    until = time.monotonic() + SECONDS

    def client(index: int) -> None:
        web = webs[index % len(webs)]
        with httpx.Client(timeout=60, headers={"Authorization": f"Token {token}"}) as http:
            while time.monotonic() < until:
                n = next(numbers)
                body = {"channel": "web", **order_payload(n, codes, prefix="SC")}
                try:
                    status = http.post(f"{web}/api/v1/orders/", json=body).status_code
                except httpx.HTTPError:
                    status = 0
                with lock:
                    statuses[status] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses[201] / (time.monotonic() - started), statuses


def main() -> None:
    if connection.vendor != "postgresql":
        raise SystemExit("bench/scale_out.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    from tests.integration.hosts import (
        Hosts,
        PgBouncer,
        collect_static,
        host_env,
        pgbouncer_binary,
    )
    from tests.integration.procs import PrivateRedis, wait_for

    if pgbouncer_binary() is None:
        raise SystemExit("bench/scale_out.py needs PgBouncer (apt-get install pgbouncer)")

    with test_database() as db_name, tempfile.TemporaryDirectory(prefix="oms-bench-scale-") as tmp:
        import httpx
        from django.apps import apps
        from django.conf import settings
        from django.contrib.auth.models import Group, User
        from rest_framework.authtoken.models import Token

        from oms.roles import MANAGER, roles_sync

        folder = Path(tmp)
        base_ids = baseline_levels(30 * BASELINE_WORKERS)
        _, codes = shop(skus=500, locations=3, stock=10**6)
        roles_sync(apps)
        user = User.objects.create_user("bench-scale")
        user.groups.add(Group.objects.get(name=MANAGER))
        token = Token.objects.create(user=user).key
        before = baseline_concurrent(
            db_name,
            base_ids,
            workers=BASELINE_WORKERS,
            seconds=BASELINE_SECONDS,
            first_order_id=1,
        )

        hosts = Hosts(["web-1", "web-2"], folder)
        broker = PrivateRedis(folder, host=hosts.services_ip).start()
        bouncer = PgBouncer(hosts.services_ip, connection.settings_dict).start()
        try:
            env = host_env(
                folder,
                database_url=bouncer.url,
                broker_url=broker.url,
                cache_url=broker.url[: -len("/0")] + "/1",
                SECRET_KEY=settings.SECRET_KEY,
                WEB_CONCURRENCY=WEB_CONCURRENCY,
            )
            collect_static(env)
            webs = [f"http://{h.ip}:{h.port}" for h in hosts.hosts.values()]

            def answers(web: str) -> bool:
                try:
                    return httpx.get(f"{web}/healthz", timeout=5).status_code in (200, 503)
                except httpx.HTTPError:
                    return False

            numbers = itertools.count(1)
            hosts.web("web-1", env)
            if not wait_for(lambda: answers(webs[0]), 120):
                raise SystemExit(hosts.procs[0].output()[-3000:])
            load(webs[:1], token, codes, numbers)  # warm-up: caches, connections
            one, one_statuses = load(webs[:1], token, codes, numbers)
            hosts.web("web-2", env)
            if not wait_for(lambda: answers(webs[1]), 120):
                raise SystemExit(hosts.procs[-1].output()[-3000:])
            load(webs[1:], token, codes, numbers)  # warm-up of the second host
            two, two_statuses = load(webs, token, codes, numbers)
        finally:
            hosts.close()
            bouncer.stop()
            broker.stop()
        after = baseline_concurrent(
            db_name,
            base_ids,
            workers=BASELINE_WORKERS,
            seconds=BASELINE_SECONDS,
            first_order_id=31,
        )
        base = (before.per_second + after.per_second) / 2

        print(
            f"POST /api/v1/orders/ (3 lines) on {describe_database()} through PgBouncer "
            f"(transaction mode); {hosts.describe()}; each web host gunicorn with "
            f"{WEB_CONCURRENCY} sync workers, DEBUG=0; {CLIENTS} client threads, {SECONDS:g} s"
        )
        print(
            f"{'baseline in ' + str(BASELINE_WORKERS) + ' processes':<30} {base:7.0f}/s "
            f"(before {before.per_second:.0f}/s, after {after.per_second:.0f}/s)"
        )
        print(f"{'one web host':<30} {one:7.1f} orders/s  {ratio(one, base)}  {dict(one_statuses)}")
        print(
            f"{'two web hosts':<30} {two:7.1f} orders/s  {ratio(two, base)}  {dict(two_statuses)}"
        )
        against = two / one if one else 0.0
        print(f"{'two hosts against one':<30} {against:7.2f}x on {os.cpu_count()} CPUs")
        record(
            "orders/s, one web host through PgBouncer",
            one,
            "orders/s",
            base,
            "baseline tx/s",
            higher_is_better=True,
        )
        record(
            "orders/s, two web hosts through PgBouncer",
            two,
            "orders/s",
            base,
            "baseline tx/s",
            higher_is_better=True,
            note=f"{two / one if one else 0:.2f}x one host on {os.cpu_count()} CPUs",
        )


if __name__ == "__main__":
    main()
