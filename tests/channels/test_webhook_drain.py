"""A burst of channel webhooks is drained in bulk (oms.inbox with channels'
webhooks_process_many): the first task claims the deliveries of its channel waiting with it and
stores their orders as one page (captured and routed together), exactly once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels.models import ChannelSyncRun
from channels.services import webhooks
from oms import inbox
from oms.errors import PermanentError, TransientError
from oms.models import InboundWebhook, OutboxMessage
from orders.models import Order
from tests.channels.test_sync import fake_adapter, record, shop
from tests.fulfilment.conftest import network

__all__ = ["fake_adapter", "network", "shop"]


def burst(shop, ids: list[str]) -> list[InboundWebhook]:
    stored = []
    for n, external_id in enumerate(ids):
        delivery, created = inbox.inbox_store(
            kind="channel",
            source=shop.code,
            channel_id=shop.pk,
            delivery_id=f"d-{external_id}-{n}",
            topic="orders/create",
            payload={"id": external_id, "m": n},
        )
        assert created
        stored.append(delivery)
    return stored


def statuses() -> list[tuple[str, int]]:
    return list(InboundWebhook.objects.order_by("pk").values_list("status", "attempts"))


def test_the_first_task_drains_the_burst_as_one_page_and_the_others_do_nothing(shop, fake_adapter):
    deliveries = burst(shop, ["B1", "B2", "B3", "B4", "B5"])
    assert OutboxMessage.objects.filter(task=inbox.PROCESS_TASK).count() == 5
    inbox.inbox_process(inbox_id=deliveries[2].pk)
    assert statuses() == [("processed", 1)] * 5
    assert Order.objects.filter(external_id__startswith="B").count() == 5
    run = ChannelSyncRun.objects.get()
    assert (run.trigger, run.created, run.failed, run.status) == ("webhook", 5, 0, "succeeded")
    for delivery in deliveries:  # their own tasks, delivered later: nothing more happens
        inbox.inbox_process(inbox_id=delivery.pk)
    assert statuses() == [("processed", 1)] * 5
    assert Order.objects.filter(external_id__startswith="B").count() == 5
    assert ChannelSyncRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)  # reference data is cached outside a test's transaction
def test_a_burst_costs_the_same_statements_whatever_its_size(shop, fake_adapter):
    from orders.services.capture import channel_by_code

    counted = []
    for prefix, size in (("W", 2), ("S", 5), ("L", 20)):
        channel_by_code(shop.code)  # outside a transaction: the reference data is current again
        deliveries = burst(shop, [f"{prefix}{n}" for n in range(size)])
        with CaptureQueriesContext(connection) as queries:
            inbox.inbox_process(inbox_id=deliveries[0].pk)
        assert Order.objects.filter(external_id__startswith=prefix).count() == size
        counted.append(len(queries.captured_queries))
    # SQLite's INSERTs are cut at 999 parameters: larger bursts take a few more there.
    assert counted[1] == counted[2], counted


def test_the_same_order_twice_in_a_burst_is_one_order_updated_in_received_order(shop, fake_adapter):
    burst(shop, ["R1", "R1"])
    inbox.inbox_process(inbox_id=InboundWebhook.objects.order_by("pk").first().pk)
    assert Order.objects.filter(external_id="R1").count() == 1
    run = ChannelSyncRun.objects.get()
    assert (run.created, run.updated + run.unchanged, run.failed) == (1, 1, 0)
    assert statuses() == [("processed", 1)] * 2


def test_a_delivery_the_connector_refuses_fails_alone_and_the_rest_are_stored(shop, fake_adapter):
    def orders_of(delivery):
        if delivery.payload["id"] == "BAD":
            raise PermanentError("The payload carries no order.")
        return webhooks.OrderPage(orders=[record(delivery.payload["id"])])

    fake_adapter.webhook_orders = orders_of
    deliveries = burst(shop, ["G1", "BAD", "G2"])
    inbox.inbox_process(inbox_id=deliveries[0].pk)
    assert [d[0] for d in statuses()] == ["processed", "failed", "processed"]
    assert InboundWebhook.objects.get(pk=deliveries[1].pk).error == "The payload carries no order."
    assert set(Order.objects.values_list("external_id", flat=True)) == {"G1", "G2"}


def test_a_delivery_another_live_worker_holds_is_left_to_it(shop, fake_adapter):
    deliveries = burst(shop, ["H1", "H2", "H3"])
    assert inbox.inbox_claim(deliveries[1].pk, holder="elsewhere")
    # elsewhere is alive as far as the claim knows: its lease runs.
    inbox.inbox_process(inbox_id=deliveries[0].pk)
    assert [d[0] for d in statuses()] == ["processed", "received", "processed"]
    assert set(Order.objects.values_list("external_id", flat=True)) == {"H1", "H3"}


def test_a_transient_error_gives_every_claim_back(shop, fake_adapter):
    def unavailable(delivery):
        raise TransientError("The store is down.")

    fake_adapter.webhook_orders = unavailable
    deliveries = burst(shop, ["T1", "T2", "T3"])
    with pytest.raises(TransientError):
        inbox.inbox_process(inbox_id=deliveries[0].pk)
    left = InboundWebhook.objects.order_by("pk")
    assert [(d.status, d.claimed_by, d.claimed_until) for d in left] == [("received", "", None)] * 3
    assert Order.objects.count() == 0


@pytest.mark.postgres  # SQLite runs one writer at a time
@pytest.mark.django_db(transaction=True)
def test_workers_draining_one_burst_at_once_take_each_delivery_once(shop, fake_adapter):
    import threading

    from django.db import connections

    deliveries = burst(shop, [f"C{n}" for n in range(30)])
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def worker(pk: int) -> None:
        try:
            barrier.wait(timeout=30)
            inbox.inbox_process(inbox_id=pk)
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(d.pk,)) for d in deliveries[::10]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    for delivery in deliveries:  # their own tasks, delivered later
        inbox.inbox_process(inbox_id=delivery.pk)
    assert statuses() == [("processed", 1)] * 30
    assert Order.objects.filter(external_id__startswith="C").count() == 30
    assert sum(ChannelSyncRun.objects.values_list("created", flat=True)) == 30
