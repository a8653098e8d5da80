"""Nothing is lost, nothing is done twice, when the broker, the database connection or a
worker dies in the middle: real faults on real processes (never mocked).

- the broker (a private Redis server) is stopped while orders, ship requests and refunds come
  in: every request is answered 201/202, and once the broker is back each side effect runs
  exactly once (the currency conversion, the confirmation e-mail, the label, the refund);
- PostgreSQL terminates the worker's connection while the carrier or the payment provider is
  answering: the purchase and the refund complete, one label per parcel, one refund;
- the worker (main process and pool) is killed with SIGKILL during a label purchase, a refund
  and a channel sync, and while a subscription's renewal is being charged (charged at the
  provider, the answer lost): each completes, exactly once, soon after a new worker starts.

Each test prints how long recovery took (figures for the operations notes).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from channels.fakes.shopify import FakeShopifyStore
from channels.models import ChannelSyncRun
from channels.services import channel_set_credentials
from channels.services.requests import channel_sync_request
from fulfilment.models import Shipment, ShippingLabel
from fulfilment.services.labels import shipment_ship_request
from oms.celery import app as celery_app
from oms.models import OutboxMessage
from orders.models import Order, OrderEvent
from returns.models import Refund
from returns.services import refund_create
from tests.conftest import CONFIGURED_BROKER_TRANSPORT, CONFIGURED_BROKER_URL
from tests.fulfilment.conftest import network, order, put
from tests.fulfilment.test_labels import packed_shipment
from tests.integration.procs import (
    FakeEasyPost,
    PrivateRedis,
    RabbitMQApp,
    SlowShop,
    beat,
    database_url,
    wait_for,
    worker,
)

__all__ = ["network"]

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

#: The issue's bound: a crashed side effect completes within this of a new worker's start.
RECOVERY_BOUND = 120


def figure(capsys: pytest.CaptureFixture[str], text: str) -> None:
    with capsys.disabled():
        print(f"\n  [fault figure] {text}")


class Stack:
    """The worker (and beat) processes of a test, on one broker, against the test database."""

    def __init__(self, tmp: Path, broker: str, monkeypatch: pytest.MonkeyPatch, **env: str):
        self.tmp, self.broker = tmp, broker
        self.var = tmp / "var"
        for sub in ("var", "mail", "payments"):
            (tmp / sub).mkdir(exist_ok=True)
        import os

        self.env = {
            **os.environ,
            "DEBUG": "1",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker,
            "OMS_VAR_DIR": str(self.var),
            "OMS_OUTBOX_SWEEP_SECONDS": "1",
            "OMS_OUTBOX_BACKOFF_SECONDS": "1",
            # A broker that restarts empty loses what it held: published again this soon.
            "OMS_OUTBOX_REDELIVER_SECONDS": "5",
            "OMS_WORKER_HEARTBEAT_SECONDS": "1",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(tmp / "mail"),
            "OMS_FAKE_PAYMENTS_DIR": str(tmp / "payments"),
            "OMS_PAYMENT_PROVIDER_OVERRIDE": "tests.returns.fakes.ConfiguredFake",
            "LOG_LEVEL": "INFO",
            **env,
        }
        for name in ("OMS_TEST_CONFIGURED_BROKER_URL", "OMS_TEST_CONFIGURED_BROKER_TRANSPORT"):
            self.env.pop(name, None)
        self._point_app(monkeypatch)
        self.processes: list[Any] = []
        self.workers = 0

    def _point_app(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """This process (the web side of the test) sends to the same broker as the workers."""
        transport = CONFIGURED_BROKER_TRANSPORT if self.broker == CONFIGURED_BROKER_URL else None
        monkeypatch.setenv("CELERY_BROKER_URL", self.broker)  # Celery reads it first
        monkeypatch.setitem(celery_app.conf, "broker_url", self.broker)
        monkeypatch.setitem(celery_app.conf, "broker_transport", transport)
        monkeypatch.setattr(celery_app, "_pool", None)
        monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
        if self.broker.startswith("filesystem://"):
            folder = self.var / "broker"  # the layout oms/settings.py gives the workers
            options = dict(celery_app.conf.broker_transport_options or {})
            options.update(
                data_folder_in=str(folder / "queue"),
                data_folder_out=str(folder / "queue"),
                control_folder=str(folder / "control"),
                processed_folder=str(folder / "processed"),
            )
            monkeypatch.setitem(celery_app.conf, "broker_transport_options", options)
            from oms.celery import ensure_broker_folders

            ensure_broker_folders()

    def worker(self) -> Any:
        self.workers += 1
        proc = worker(self.env, self.tmp / f"worker-{self.workers}.log", f"w{self.workers}")
        self.processes.append(proc.start())
        return proc

    def beat(self) -> Any:
        proc = beat(self.env, self.tmp / "beat.log", self.tmp / "beat-schedule")
        self.processes.append(proc.start())
        return proc

    def logs(self) -> str:
        rows = "\n".join(
            f"{m.pk} {m.task} {m.state} attempts={m.attempts} run_after={m.run_after:%H:%M:%S} "
            f"publish_after={m.publish_after:%H:%M:%S} published={m.publish_count} "
            f"{m.last_error[:200]}"
            for m in OutboxMessage.objects.order_by("pk")
        )
        tails = "\n".join(p.output()[-3000:] for p in self.processes)
        return f"outbox:\n{rows}\n{tails}"

    def close(self) -> None:
        for proc in self.processes:
            proc.stop()


@pytest.fixture
def stack_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[Any]:
    # What a broker restarted empty lost is published again this soon (the workers' sweep
    # and this process's fast path agree on it).
    settings.OMS_OUTBOX_REDELIVER_SECONDS = 5
    stacks: list[Stack] = []

    def make(broker: str, **env: str) -> Stack:
        stack = Stack(tmp_path, broker, monkeypatch, **env)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.close()


def outbox_settled(*tasks: str) -> bool:
    return not OutboxMessage.objects.filter(
        task__in=tasks, state__in=(OutboxMessage.State.PENDING, OutboxMessage.State.RUNNING)
    ).exists()


def journal(stack: Stack) -> list[Path]:
    """The refunds the fake provider made (its charges are files named charge-*)."""
    return sorted(p for p in (stack.tmp / "payments").glob("*.json") if p.name[:7] != "charge-")


# --- the broker is down ------------------------------------------------------------------------


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A broker the test stops and starts: a private Redis server, and the machine's RabbitMQ
    when the tests run on it (CI runs the worker tests on both)."""
    if request.param == "redis":
        server: Any = PrivateRedis(tmp_path).start()
    elif CONFIGURED_BROKER_URL.startswith("amqp"):
        server = RabbitMQApp(CONFIGURED_BROKER_URL).start()
    else:
        pytest.skip("RabbitMQ is not the configured broker")
    yield server
    if not server.up():
        server.start()
    if isinstance(server, PrivateRedis):
        server.stop()


def test_requests_answer_while_the_broker_is_down_and_run_once_when_it_is_back(
    network, stack_on, tmp_path, capsys, broker_server
):
    from django.apps import apps

    from oms.roles import MANAGER, roles_sync
    from tests.conftest import token_client

    roles_sync(apps)  # a transactional test before this one flushed the roles' grants
    manager_api = token_client(MANAGER)
    redis = broker_server
    stack = stack_on(redis.url)
    put(network, "BER", "A", 20)
    put(network, "BER", "B", 20)
    packed = packed_shipment(network, parcels=2)
    paid = order("HAMBURG", {"A": 1})
    stack.worker()
    stack.beat()

    redis.stop()
    started = time.monotonic()
    placed = manager_api.post(
        "/api/v1/orders/",
        {
            "channel": "web",
            "external_id": "DOWN-1",
            "currency": "USD",
            "customer": {"email": "down@example.com", "first_name": "Ada", "last_name": "L"},
            "shipping_address": {
                "name": "Ada L",
                "line1": "Jungfernstieg 1",
                "postal_code": "20095",
                "city": "Hamburg",
                "country": "DE",
            },
            "lines": [{"sku": "B", "quantity": 1, "unit_price": "19.95"}],
            "payment_status": "paid",
        },
        format="json",
    )
    ship = manager_api.post(
        f"/api/v1/shipments/{packed.pk}/ship/", {"carrier": "inhouse"}, format="json"
    )
    key = {"HTTP_IDEMPOTENCY_KEY": "refund-while-down"}
    refund = manager_api.post(
        "/api/v1/refunds/", {"order": paid.pk, "amount": "4.00"}, format="json", **key
    )
    again = manager_api.post(
        "/api/v1/refunds/", {"order": paid.pk, "amount": "4.00"}, format="json", **key
    )
    answered = time.monotonic() - started
    assert (placed.status_code, ship.status_code, refund.status_code) == (201, 202, 201), (
        placed.content,
        ship.content,
        refund.content,
    )
    assert placed.json()["status"] == "allocated"  # routing needs no broker
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == refund.json()["id"]
    assert Refund.objects.filter(order=paid).count() == 1
    new_order = Order.objects.get(external_id="DOWN-1")
    waiting = set(
        OutboxMessage.objects.filter(state=OutboxMessage.State.PENDING).values_list(
            "task", flat=True
        )
    )
    assert {
        "orders.order_convert_total",
        "fulfilment.email_send",
        "fulfilment.labels_buy",
        "returns.refund_execute",
    } <= waiting
    figure(capsys, f"4 requests with the broker down answered in {answered:.2f} s")

    time.sleep(3)  # the broker stays down a while: nothing may run, nothing may be lost
    assert Order.objects.get(pk=new_order.pk).total_base is None
    redis.start()
    back = time.monotonic()

    def done() -> bool:
        return (
            Order.objects.get(pk=new_order.pk).total_base is not None
            and Shipment.objects.get(pk=packed.pk).status == "shipped"
            and Refund.objects.get(pk=refund.json()["id"]).status == "succeeded"
            and OrderEvent.objects.filter(order=new_order, kind="email_sent").exists()
            and outbox_settled(
                "orders.order_convert_total",
                "fulfilment.email_send",
                "fulfilment.labels_buy",
                "returns.refund_execute",
            )
        )

    assert wait_for(done, RECOVERY_BOUND), stack.logs()
    took = time.monotonic() - back
    figure(capsys, f"{type(redis).__name__} back: every side effect done {took:.1f} s later")
    time.sleep(3)  # a late duplicate would show now
    assert OrderEvent.objects.filter(order=new_order, kind="converted").count() == 1
    confirmed = OrderEvent.objects.filter(order=new_order, kind="email_sent")
    assert [e.data.get("email") for e in confirmed] == ["confirmed"]
    mails = [p.read_text() for p in (tmp_path / "mail").glob("*.log")]
    assert sum(text.count("To: down@example.com") for text in mails) == 1
    assert ShippingLabel.objects.filter(shipment=packed).count() == 2
    assert len(journal(stack)) == 1
    assert Refund.objects.filter(order=paid).count() == 1


# --- the database connection dies --------------------------------------------------------------


def terminate_other_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.postgres
def test_a_terminated_connection_during_a_label_purchase_and_a_refund(network, stack_on, capsys):
    carrier = FakeEasyPost(buy_seconds=3)
    stack = stack_on(
        CONFIGURED_BROKER_URL,
        OMS_EASYPOST_BASE_URL=carrier.url,
        OMS_EASYPOST_API_KEY="EZTK-test",
        OMS_FAKE_PAYMENTS_DELAY_MS="3000",
    )
    try:
        put(network, "BER", "A", 20)
        put(network, "BER", "B", 20)
        packed = packed_shipment(network, parcels=1)
        paid = order("HAMBURG", {"A": 1})
        stack.worker()
        stack.beat()
        shipment_ship_request(shipment=packed, carrier="easypost", service="Priority")
        refund = refund_create(order=paid, amount=Decimal("3.00"), reason="late")

        assert wait_for(lambda: carrier.buys_started >= 1, 60), stack.logs()
        assert wait_for(lambda: Refund.objects.get(pk=refund.pk).attempts >= 1, 60), stack.logs()
        killed = terminate_other_backends()
        assert killed >= 1  # the worker's connection, while it waits for the carrier and bank
        terminated = time.monotonic()

        def done() -> bool:
            return (
                Shipment.objects.get(pk=packed.pk).status == "shipped"
                and Refund.objects.get(pk=refund.pk).status == "succeeded"
            )

        assert wait_for(done, RECOVERY_BOUND), stack.logs()
        figure(
            capsys,
            f"connection terminated mid-call: label and refund done "
            f"{time.monotonic() - terminated:.1f} s later",
        )
        assert "OperationalError" in stack.logs() or "terminat" in stack.logs()
        assert carrier.sold == 1
        assert ShippingLabel.objects.filter(shipment=packed).count() == 1
        assert len(journal(stack)) == 1
        assert Refund.objects.get(pk=refund.pk).attempts >= 2  # asked the provider again
    finally:
        carrier.close()


# --- the worker is killed ----------------------------------------------------------------------


def test_a_worker_killed_mid_purchase_mid_refund_and_mid_sync_recovers_once(
    network, stack_on, capsys
):
    carrier = FakeEasyPost(buy_seconds=4)
    store = FakeShopifyStore(skus=["A", "B"], seed=5, countries=("DE",))
    store.add_orders(6)
    shop = SlowShop(store, seconds=2)
    stack = stack_on(
        CONFIGURED_BROKER_URL,
        OMS_EASYPOST_BASE_URL=carrier.url,
        OMS_EASYPOST_API_KEY="EZTK-test",
        OMS_FAKE_PAYMENTS_DELAY_MS="4000",
    )
    try:
        put(network, "BER", "A", 50)
        put(network, "BER", "B", 50)
        packed = packed_shipment(network, parcels=2)
        paid = order("HAMBURG", {"A": 1})
        channel = network["channel"]
        channel_set_credentials(
            channel=channel,
            credentials={
                "shop": "fault.myshopify.com",
                "access_token": "t",
                "location_id": str(store.location_id),
                "base_url": shop.url,
                "page_size": "2",
            },
        )
        first = stack.worker()
        stack.beat()
        shipment_ship_request(shipment=packed, carrier="easypost", service="Priority")
        assert wait_for(lambda: carrier.buys_started >= 1, 60), stack.logs()
        first.kill9()  # mid-purchase

        second = stack.worker()
        restarted = time.monotonic()
        assert wait_for(lambda: Shipment.objects.get(pk=packed.pk).status == "shipped", 120), (
            stack.logs()
        )
        label_recovery = time.monotonic() - restarted
        refund = refund_create(order=paid, amount=Decimal("2.00"), reason="scratch")
        assert wait_for(lambda: Refund.objects.get(pk=refund.pk).attempts >= 1, 60), stack.logs()
        second.kill9()  # mid-refund (the provider takes 4 s)

        third = stack.worker()
        restarted = time.monotonic()
        assert wait_for(lambda: Refund.objects.get(pk=refund.pk).status == "succeeded", 120), (
            stack.logs()
        )
        refund_recovery = time.monotonic() - restarted
        channel_sync_request(channel=channel)
        assert wait_for(lambda: shop.pages_served >= 1, 60), stack.logs()
        assert wait_for(lambda: shop.orders_asked >= 2, 10), stack.logs()
        third.kill9()  # mid-sync: page 2 of 3 is being answered (each takes 2 s)

        stack.worker()
        restarted = time.monotonic()

        def synced() -> bool:
            return ChannelSyncRun.objects.filter(channel=channel, status="succeeded").exists()

        assert wait_for(synced, 120), stack.logs()
        sync_recovery = time.monotonic() - restarted
        figure(
            capsys,
            f"worker killed: label done {label_recovery:.1f} s, refund {refund_recovery:.1f} s, "
            f"sync {sync_recovery:.1f} s after a new worker started ({CONFIGURED_BROKER_URL})",
        )
        assert max(label_recovery, refund_recovery, sync_recovery) < RECOVERY_BOUND
        assert carrier.sold == 2
        assert ShippingLabel.objects.filter(shipment=packed).count() == 2
        assert len(journal(stack)) == 1
        assert Refund.objects.filter(order=paid).count() == 1
        assert Order.objects.filter(channel=channel).count() == 6 + 2  # the shop's and ours
        runs = list(ChannelSyncRun.objects.filter(channel=channel).values("status", "error"))
        assert [r["status"] for r in runs].count("failed") == 1, runs
        assert any("was lost" in r["error"] for r in runs), runs
    finally:
        carrier.close()
        shop.close()


def test_a_worker_killed_mid_drain_records_each_event_once(network, stack_on, capsys):
    """The events drainer (webhooks.events_drain) records a transaction's events and their
    deliveries in one transaction; killed in the middle of it, nothing it did stays, and the
    next worker records each event once, with one delivery per endpoint."""
    import psycopg

    from webhooks.models import Event, WebhookDelivery, WebhookEndpoint
    from webhooks.services.endpoints import _sealed

    if connection.vendor != "postgresql":
        pytest.skip("the drainer is held mid-transaction by a PostgreSQL table lock")
    WebhookEndpoint.objects.create(
        url="https://hooks.example.com/oms",
        events=["order.created"],
        secret_encrypted=_sealed("s" * 32),
    )
    stack = stack_on(CONFIGURED_BROKER_URL)
    put(network, "BER", "A", 5)
    first = stack.worker()
    stack.beat()
    recorded = ("webhooks.event_record",)
    assert wait_for(lambda: outbox_settled(*recorded), 60), stack.logs()
    before = Event.objects.count()

    # Another session holds the deliveries table: the drainer's INSERT of the order's
    # deliveries waits inside its transaction, after it inserted the events.
    holder = psycopg.connect(database_url(), autocommit=False)
    try:
        holder.execute(f"LOCK TABLE {WebhookDelivery._meta.db_table} IN SHARE MODE")
        placed = order("HAMBURG", {"A": 1})

        def drainer_waits() -> bool:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE %s",
                    [f'INSERT INTO "{WebhookDelivery._meta.db_table}"%'],
                )
                return bool(cursor.fetchone()[0])

        assert wait_for(drainer_waits, 60), stack.logs()
        first.kill9()  # mid-drain: the events are inserted, not committed
    finally:
        holder.rollback()
        holder.close()
    assert Event.objects.count() == before  # nothing of the killed drain stayed

    stack.worker()
    restarted = time.monotonic()
    assert wait_for(lambda: outbox_settled(*recorded), RECOVERY_BOUND), stack.logs()
    recovery = time.monotonic() - restarted
    figure(capsys, f"worker killed mid-drain: events recorded {recovery:.1f} s after a restart")
    assert not OutboxMessage.objects.filter(
        task__in=recorded, state=OutboxMessage.State.FAILED
    ).exists()
    keys = list(Event.objects.values_list("type", "object_type", "object_id", "sequence"))
    assert len(keys) == len(set(keys)), keys  # each event once
    created = Event.objects.filter(type="order.created", object_id=placed.pk)
    assert created.count() == 1
    # One delivery of it to the endpoint listening, with one first attempt in the outbox (a
    # retry is a keyed message of its own).
    assert list(WebhookDelivery.objects.values_list("event_id", flat=True)) == [created.get().pk]
    assert OutboxMessage.objects.filter(task="webhooks.deliver", dedupe_key="").count() == 1


def test_a_worker_killed_while_a_renewal_is_charged_charges_once_and_orders_once(
    network, stack_on, capsys
):
    """The provider charged the renewal's key, then the worker died before the answer arrived:
    the next worker asks again with the same key, gets the same charge, and captures one paid
    order for the period."""
    from returns.models import Payment
    from subscriptions.services import subscription_create
    from subscriptions.services.renewals import subscriptions_renew_due

    stack = stack_on(CONFIGURED_BROKER_URL, OMS_FAKE_PAYMENTS_DELAY_MS="4000")
    put(network, "BER", "A", 20)
    sub = subscription_create(
        channel=network["channel"].code,
        customer={"email": "anna@example.com", "name": "Anna Schmidt"},
        shipping_address={
            "name": "Anna Schmidt",
            "line1": "Jungfernstieg 1",
            "city": "Hamburg",
            "postal_code": "20095",
            "country": "DE",
        },
        lines=[{"sku": "A", "quantity": 2, "unit_price": Decimal("12.50")}],
        currency="EUR",
        interval="month",
        interval_count=1,
        shipping_price=Decimal("4.90"),
        payment_reference="cus_1:pm_1",
        next_order_at=timezone.now() - dt.timedelta(minutes=1),
    )
    charges = stack.tmp / "payments"
    first = stack.worker()
    stack.beat()  # its outbox sweep hands the dead worker's message on
    subscriptions_renew_due()  # or beat's run claims it first: one renewal either way
    assert wait_for(lambda: any(charges.glob("charge-*.json")), 60), stack.logs()
    first.kill9()  # charged at the provider; the answer is still on its way (4 s)

    stack.worker()
    restarted = time.monotonic()
    renewals = Order.objects.filter(external_id__startswith=f"SUB-{sub.number}-")

    def ordered() -> bool:
        return renewals.filter(payment_status="paid", status="allocated").exists()

    assert wait_for(ordered, RECOVERY_BOUND), stack.logs()
    recovery = time.monotonic() - restarted
    figure(capsys, f"worker killed mid-charge: renewal ordered {recovery:.1f} s after a restart")
    calls = (charges / "charge-calls.log").read_text().split()[::2]
    assert len(calls) >= 2, calls  # asked again after the kill
    assert len(set(calls)) == 1, calls  # with the same key
    assert len(list(charges.glob("charge-*.json"))) == 1  # one charge at the provider
    assert renewals.count() == 1
    assert sub.renewals.count() == 1
    order = renewals.get()
    assert order.total == Decimal("29.90")
    payments = Payment.objects.filter(order=order)
    assert [(p.status, p.amount) for p in payments] == [("succeeded", Decimal("29.90"))]
