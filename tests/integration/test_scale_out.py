"""Two web hosts and two worker hosts against one PostgreSQL through PgBouncer (transaction
mode) and one broker, with a beat on each worker host (two beats: the mistake an operator
makes), under a bounded 60-s load of orders (some sent to both web hosts at once), channel
syncs and label purchases (each asked of both web hosts). Then: every order exists once, each
parcel has one label and the carrier sold each once, the stock ledger equals the levels, no
two syncs of the channel overlapped, and both beats were alive the whole time.

The hosts are network namespaces with their own hostnames where the machine allows it
(tests/integration/hosts.py), processes on loopback otherwise. PostgreSQL only (PgBouncer
pools PostgreSQL); skipped where PgBouncer is not installed (CI installs Debian's).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection
from django.db.models import Count

from channels.fakes.shopify import FakeShopifyStore
from channels.models import ChannelSyncRun
from channels.services import channel_set_credentials
from fulfilment.models import Parcel, Shipment, ShippingLabel
from inventory.selectors import ledger_drift
from oms.models import OutboxMessage, WorkerHeartbeat
from orders.models import Order
from tests.conftest import CONFIGURED_BROKER_URL, token_client
from tests.fulfilment.conftest import network, put
from tests.fulfilment.test_labels import packed_shipment
from tests.integration.hosts import Hosts, PgBouncer, collect_static, host_env, pgbouncer_binary
from tests.integration.procs import FakeEasyPost, PrivateRedis, SlowShop, wait_for

__all__ = ["network"]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(pgbouncer_binary() is None, reason="PgBouncer is not installed"),
    # It brings its own broker (a Redis server on the hosts' network): CI's second pass of the
    # worker tests, on RabbitMQ, would only run it again.
    pytest.mark.skipif(
        CONFIGURED_BROKER_URL.startswith("amqp"), reason="runs once, in the Redis pass"
    ),
]

LOAD_SECONDS = 60
LABELLED_SHIPMENTS = 16
#: Client threads posting orders: on two shared cores, more only leaves a longer backlog of
#: side effects (conversions, e-mails, events) for the two worker hosts after the load.
ORDER_CLIENTS = 2
#: How long the workers may take to finish every side effect once the load stops.
SETTLE_SECONDS = 420
SHOP_ORDERS = 120


def order_payload(n: int) -> dict[str, Any]:
    return {
        "channel": "web",
        "external_id": f"SCALE-{n}",
        "currency": "EUR",
        "customer": {"email": f"scale{n % 50}@example.com", "first_name": "Ada", "last_name": "L"},
        "shipping_address": {
            "name": "Ada L",
            "line1": "Jungfernstieg 1",
            "postal_code": "20095",
            "city": "Hamburg",
            "country": "DE",
        },
        "lines": [{"sku": "C", "quantity": 1, "unit_price": "19.95"}],
        "payment_status": "paid",
    }


class Load:
    """The bounded load: threads that stop at `until`, counting answers by status."""

    def __init__(self, webs: list[str], token: str, until: float) -> None:
        self.webs, self.until = webs, until
        self.headers = {"Authorization": f"Token {token}"}
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.orders_sent: set[str] = set()
        self.lock = threading.Lock()
        self.numbers = itertools.count(1)
        self.errors: list[str] = []
        self.shop_ids: list[int] = []

    def _post(self, client: httpx.Client, web: str, path: str, body: Any, kind: str) -> int:
        try:
            status = client.post(f"{web}{path}", json=body, headers=self.headers).status_code
        except httpx.HTTPError as exc:
            with self.lock:
                self.errors.append(f"{kind} {web}{path}: {exc!r}")
            status = 0
        with self.lock:
            self.statuses[(kind, status)] += 1
        return status

    def orders(self) -> None:
        with httpx.Client(timeout=60) as client:
            while time.monotonic() < self.until:
                n = next(self.numbers)
                body = order_payload(n)
                with self.lock:
                    self.orders_sent.add(body["external_id"])
                if n % 10 == 0:  # the same order to both web hosts at once (a client's retry)
                    twin = threading.Thread(
                        target=self._post,
                        args=(client, self.webs[1], "/api/v1/orders/", body, "order"),
                    )
                    twin.start()
                    self._post(client, self.webs[0], "/api/v1/orders/", body, "order")
                    twin.join()
                else:
                    self._post(client, self.webs[n % 2], "/api/v1/orders/", body, "order")

    def labels(self, shipment_ids: list[int]) -> None:
        pause = LOAD_SECONDS / (len(shipment_ids) + 1)
        with httpx.Client(timeout=60) as client:
            for shipment_id in shipment_ids:
                if time.monotonic() >= self.until:
                    return
                body = {"carrier": "easypost", "service": "Priority"}
                for web in self.webs:  # asked of both hosts: one purchase
                    self._post(client, web, f"/api/v1/shipments/{shipment_id}/ship/", body, "ship")
                time.sleep(pause)

    def syncs(self, channel_id: int, shop: SlowShop, store: FakeShopifyStore) -> None:
        with httpx.Client(timeout=60) as client:
            for n in itertools.count():
                if time.monotonic() >= self.until:
                    return
                with shop.lock:
                    self.shop_ids += store.add_orders(SHOP_ORDERS // 10)
                web = self.webs[n % 2]
                self._post(client, web, f"/api/v1/channels/{channel_id}/sync/", None, "sync")
                time.sleep(LOAD_SECONDS / 10)


def settled(requested: list[int]) -> bool:
    """Every side effect done, every shipment whose label was asked for shipped."""
    open_messages = OutboxMessage.objects.filter(
        state__in=(OutboxMessage.State.PENDING, OutboxMessage.State.RUNNING)
    ).exists()
    unshipped = Shipment.objects.filter(pk__in=requested).exclude(status="shipped").exists()
    return not open_messages and not unshipped


def backlog(requested: list[int]) -> str:
    open_messages = (
        OutboxMessage.objects.filter(
            state__in=(OutboxMessage.State.PENDING, OutboxMessage.State.RUNNING)
        )
        .values_list("task", "state")
        .annotate(n=Count("pk"))
    )
    unshipped = Shipment.objects.filter(pk__in=requested).exclude(status="shipped")
    return f"open: {list(open_messages)}; unshipped: {list(unshipped.values_list('pk', 'status'))}"


def assert_syncs_never_overlapped(channel: Any) -> None:
    """Two beats fanned out the channel's syncs, the load asked for more: the channel's lease
    let one run at a time."""
    runs = list(
        ChannelSyncRun.objects.filter(channel=channel, trigger__in=("schedule", "manual"))
        .exclude(finished_at=None)
        .order_by("started_at")
        .values_list("started_at", "finished_at")
    )
    for (_, finished), (next_started, _) in itertools.pairwise(runs):
        assert next_started >= finished, runs


def test_two_web_and_two_worker_hosts_through_pgbouncer_do_everything_once(
    network, tmp_path: Path, capsys
):
    from django.apps import apps
    from django.conf import settings

    from oms.roles import roles_sync

    roles_sync(apps)  # a transactional test before this one flushed the roles' grants
    began = time.monotonic()
    hosts = Hosts(["web-1", "web-2", "worker-1", "worker-2"], tmp_path)
    carrier = FakeEasyPost(host=hosts.services_ip)
    store = FakeShopifyStore(skus=["A", "B", "C"], seed=23, countries=("DE",))
    shop = SlowShop(store, host=hosts.services_ip)
    broker = PrivateRedis(tmp_path, host=hosts.services_ip).start()
    bouncer = PgBouncer(hosts.services_ip, connection.settings_dict).start()
    try:
        for sku in ("A", "B", "C"):
            put(network, "BER", sku, 100_000)
        packed = [packed_shipment(network, parcels=2).pk for _ in range(LABELLED_SHIPMENTS)]
        channel = network["channel"]
        channel_set_credentials(
            channel=channel,
            credentials={
                "shop": "scale.myshopify.com",
                "access_token": "t",
                "location_id": str(store.location_id),
                "base_url": shop.url,
                "page_size": "25",
            },
        )
        api = token_client(superuser=True)
        token = api._credentials["HTTP_AUTHORIZATION"].split()[1]

        env = host_env(
            tmp_path,
            database_url=bouncer.url,
            broker_url=broker.url,
            cache_url=broker.url[: -len("/0")] + "/1",
            OMS_EASYPOST_BASE_URL=carrier.url,
            OMS_EASYPOST_API_KEY="EZTK-test",
            # The channel's credentials were encrypted here: the hosts must read them.
            SECRET_KEY=settings.SECRET_KEY,
            OMS_CREDENTIALS_KEY=settings.OMS_CREDENTIALS_KEY,
        )
        collect_static(env)
        for name in ("worker-1", "worker-2"):
            hosts.worker(name, env)
            hosts.beat(name, env)
        for name in ("web-1", "web-2"):
            hosts.web(name, env)
        webs = [f"http://{h.ip}:{h.port}" for h in (hosts.hosts["web-1"], hosts.hosts["web-2"])]

        def logs() -> str:
            tails = "\n".join(
                f"== {p.host.name} {p.role}\n{p.output()[-2500:]}" for p in hosts.procs
            )
            return f"{hosts.describe()}\n{tails}\n== pgbouncer\n{bouncer.log()}"

        def all_up() -> bool:
            assert not hosts.exited(), f"{hosts.exited()} stopped:\n{logs()}"
            for web in webs:
                try:
                    body = httpx.get(f"{web}/healthz", timeout=5).json()
                except (httpx.HTTPError, ValueError):
                    return False
                if body["workers"]["alive"] < 2 or body["beat"]["alive"] < 2:
                    return False
            return True

        assert wait_for(all_up, 180, step=1), logs()
        # Four hosts, four names: the heartbeats tell the hosts apart.
        if hosts.uts:
            seen = set(WorkerHeartbeat.objects.values_list("hostname", flat=True))
            assert {"worker-1", "worker-2"} <= seen, seen

        ready = time.monotonic() - began
        load = Load(webs, token, time.monotonic() + LOAD_SECONDS)
        threads = [threading.Thread(target=load.orders) for _ in range(ORDER_CLIENTS)]
        threads.append(threading.Thread(target=load.labels, args=(packed,)))
        threads.append(threading.Thread(target=load.syncs, args=(channel.pk, shop, store)))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        beats_alive = []
        while any(t.is_alive() for t in threads):
            beats_alive.append(
                WorkerHeartbeat.objects.filter(role="beat", stopped_at__isnull=True).count()
            )
            time.sleep(5)
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started

        requested = list(
            Shipment.objects.filter(pk__in=packed).exclude(carrier="").values_list("pk", flat=True)
        )

        assert wait_for(lambda: settled(requested), SETTLE_SECONDS, step=1), (
            f"{backlog(requested)}\n{logs()}"
        )
        settling = time.monotonic() - started - elapsed
        # One more sync after the load: every order the shop has is in.
        last = ChannelSyncRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        asked = httpx.post(
            f"{webs[0]}/api/v1/channels/{channel.pk}/sync/", headers=load.headers, timeout=30
        )
        assert asked.status_code == 202, asked.text
        assert wait_for(
            lambda: (
                ChannelSyncRun.objects.filter(pk__gt=last, status="succeeded").exists()
                and not ChannelSyncRun.objects.filter(status="running").exists()
            ),
            120,
            step=1,
        ), logs()

        captured = load.statuses[("order", 201)] + load.statuses[("order", 200)]
        with capsys.disabled():
            print(
                f"\n  [scale-out] {hosts.describe()}\n"
                f"  [scale-out] {elapsed:.0f} s: {captured} order answers "
                f"({len(load.orders_sent) / elapsed:.1f} orders/s over two web hosts), "
                f"{load.statuses[('ship', 202)]} label requests, {load.statuses[('sync', 202)]} "
                f"syncs asked, {ChannelSyncRun.objects.count()} sync runs; answers "
                f"{dict(load.statuses)}\n"
                f"  [scale-out] hosts ready after {ready:.0f} s; the side effects settled "
                f"{settling:.0f} s after the load"
            )

        assert not load.errors, load.errors[:5]
        assert {status for (kind, status) in load.statuses if kind == "order"} <= {200, 201}
        assert {status for (kind, status) in load.statuses if kind == "sync"} == {202}
        assert load.statuses[("ship", 202)] >= 1
        assert not [s for (k, s) in load.statuses if k == "ship" and s >= 500]

        # Every order exists once: ours (some sent twice, to both hosts) and the shop's.
        ours = Order.objects.filter(channel=channel, external_id__startswith="SCALE-")
        assert set(ours.values_list("external_id", flat=True)) == load.orders_sent
        assert ours.count() == len(load.orders_sent)
        doubled = (
            Order.objects.values("channel_id", "external_id")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
        )
        assert not doubled.exists(), list(doubled)
        from_shop = (
            Order.objects.filter(channel=channel)
            .exclude(external_id__startswith="SCALE-")
            .exclude(external_id__startswith="R-")
        )
        assert from_shop.count() == len(load.shop_ids)

        # One label per parcel, each sold once (asked of both hosts, swept by two beats).
        parcels = Parcel.objects.filter(shipment_id__in=requested)
        labels = Counter(
            ShippingLabel.objects.filter(shipment_id__in=requested).values_list(
                "parcel_id", flat=True
            )
        )
        assert set(labels) == set(parcels.values_list("pk", flat=True))
        assert set(labels.values()) == {1}
        # (A purchase retried after a transient error calls the carrier again with the same
        # idempotency key: it sells nothing twice, as EasyPost does not.)
        assert carrier.sold == len(labels)
        assert carrier.buys_started >= carrier.sold

        # The stock ledger equals the levels.
        assert ledger_drift() == []

        # Two beats doubled nothing: both beat all along, and no two syncs of the channel
        # ran at once (each fan-out of theirs met the channel's lease).
        assert beats_alive
        assert min(beats_alive) == 2, beats_alive
        assert_syncs_never_overlapped(channel)
    finally:
        hosts.close()
        bouncer.stop()
        broker.stop()
        carrier.close()
        shop.close()
