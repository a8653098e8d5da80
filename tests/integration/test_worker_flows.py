"""Real Celery workers on the configured broker run the flows of the returns and channels:
a refund is executed by the worker and shows on the order; a scheduled channel sync pulls
orders from the fake Shopify store, routes them, and the stock push reaches the store."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
import pytest

from channels import tasks as channel_tasks
from channels.fakes.shopify import FakeShopifyStore
from channels.models import ChannelPush, ChannelSyncRun
from channels.services import channel_set_credentials, sync
from oms.models import OutboxMessage
from oms.outbox import outbox_sweep
from orders.models import Order
from returns.models import Refund
from returns.services import refund_create
from tests.conftest import in_process_worker
from tests.fulfilment.conftest import network, order, put
from tests.integration.test_worker import isolated_broker

__all__ = ["isolated_broker", "network"]


def wait_for(condition, seconds: float = 60) -> bool:
    """Poll `condition`, sweeping the outbox every few seconds as beat does in production (no
    beat runs here): a message the relay could not hand over right after commit still goes."""
    deadline = time.monotonic() + seconds
    next_sweep = time.monotonic() + 3
    while time.monotonic() < deadline:
        if condition():
            return True
        if time.monotonic() >= next_sweep:
            outbox_sweep()
            next_sweep = time.monotonic() + 3
        time.sleep(0.2)
    return False


def outbox_rows() -> str:
    """What the outbox holds, for a failure message."""
    return "\n".join(
        f"{m.pk} {m.task} {m.state} attempts={m.attempts} published={m.publish_count} "
        f"{m.last_error[:200]}"
        for m in OutboxMessage.objects.order_by("pk")
    )


def worker(app, queues):
    return in_process_worker(app, queues)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_refund_is_executed_by_a_worker_and_shows_on_the_order(isolated_broker, network):
    put(network, "BER", "A", 5)
    paid = order("HAMBURG", {"A": 2})
    with worker(isolated_broker, ["default"]):
        refund = refund_create(order=paid, amount=Decimal("5.00"), reason="late parcel")
        assert wait_for(lambda: Refund.objects.get(pk=refund.pk).status != "pending"), outbox_rows()
    refund.refresh_from_db()
    paid.refresh_from_db()
    assert refund.status == "succeeded"
    assert paid.payment_status == "partially_refunded"
    assert paid.events.filter(kind="refund_succeeded").exists()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_scheduled_sync_and_a_stock_push_run_on_a_worker(isolated_broker, network, monkeypatch):
    store = FakeShopifyStore(skus=["A", "B"], seed=11, countries=("DE",))
    store.add_orders(5)
    monkeypatch.setattr(
        sync, "demo_transport", lambda kind, creds: httpx.MockTransport(store.handler)
    )
    channel = network["channel"]
    channel.kind = "shopify"
    channel.save()
    channel_set_credentials(
        channel=channel,
        credentials={"shop": "w.myshopify.com", "access_token": "t", "location_id": "7001"},
    )
    put(network, "BER", "A", 50)
    put(network, "BER", "B", 50)
    with worker(isolated_broker, ["channels", "default"]):
        channel_tasks.sync_due_task.delay()
        assert wait_for(
            lambda: Order.objects.filter(channel=channel, status="allocated").count() == 5
        ), outbox_rows()
        channel_tasks.stock_push_due_task.delay()
        assert wait_for(
            lambda: ChannelPush.objects.filter(kind="stock", status="succeeded").exists()
        ), outbox_rows()
    assert ChannelSyncRun.objects.get().status == "succeeded"
    assert store.inventory  # the store was told its quantities


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_worker_records_an_orders_events_in_bulk_from_one_nudge(isolated_broker, network):
    from webhooks.models import Event

    put(network, "BER", "A", 5)
    with worker(isolated_broker, ["default"]):
        placed = order("HAMBURG", {"A": 2})
        records = OutboxMessage.objects.filter(task="webhooks.event_record")
        assert wait_for(lambda: not records.exclude(state=OutboxMessage.State.DONE).exists()), (
            outbox_rows()
        )
    # The drainer ran them (a nudge per committed transaction): the sweep never had to
    # publish one of them by itself.
    assert set(records.values_list("publish_count", flat=True)) == {0}
    kinds = set(Event.objects.filter(object_id=placed.pk).values_list("type", flat=True))
    assert {"order.created", "order.status_changed"} <= kinds
    assert Event.objects.filter(type="stock.changed").exists()
