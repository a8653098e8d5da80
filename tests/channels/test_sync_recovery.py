"""Channels after a crash: sync leases, webhook deliveries and pushes held by a worker that died
are taken over, and spent retries fail them with the reason."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from channels.adapters.base import OrderPage
from channels.models import ChannelPush, ChannelSyncRun
from channels.services import push, sync
from inventory.models import Channel
from oms.errors import TransientError
from oms.inbox import inbox_gave_up, inbox_process, inbox_requeue, inbox_unprocessed
from oms.models import InboundWebhook, OutboxMessage
from oms.outbox import outbox_enqueue
from orders.models import Order
from tests.channels.test_sync import FakeAdapter, fake_adapter, record, shop
from tests.fulfilment.conftest import network
from tests.holders import dead_holder, live_holder
from tests.outbox import queued, run_outbox

__all__ = ["fake_adapter", "network", "shop"]


def leased(channel: Channel, *, holder: str, minutes: float = 10) -> ChannelSyncRun:
    """A sync of the channel in progress (or lost): its lease and its running run."""
    Channel.objects.filter(pk=channel.pk).update(
        sync_lease_until=timezone.now() + dt.timedelta(minutes=minutes),
        sync_lease_holder=holder,
    )
    return ChannelSyncRun.objects.create(channel=channel, trigger="schedule")


def refreshed(obj):
    obj.refresh_from_db()
    return obj


# --- sync leases --------------------------------------------------------------------------------


def test_a_lease_held_by_a_dead_worker_is_taken_over_and_its_run_closed(shop):
    holder = dead_holder()
    lost = leased(shop, holder=holder)
    run = sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[record("1")])]))
    assert run is not None
    assert (run.status, run.created) == ("succeeded", 1)
    lost = refreshed(lost)
    assert lost.status == "failed"
    assert lost.finished_at is not None
    assert holder in lost.error
    assert "lost" in lost.error
    shop = refreshed(shop)
    assert (shop.sync_lease_until, shop.sync_lease_holder) == (None, "")  # released after
    assert Order.objects.filter(channel=shop, external_id="1").exists()


def test_a_live_workers_lease_is_respected(shop):
    running = leased(shop, holder=live_holder())
    adapter = FakeAdapter([OrderPage(orders=[record("1")])])
    assert sync.channel_sync(channel=shop, adapter=adapter) is None
    assert adapter.calls == []
    assert refreshed(running).status == "running"
    assert ChannelSyncRun.objects.count() == 1
    assert refreshed(shop).sync_lease_holder == live_holder()


def test_the_lease_a_run_takes_names_its_process(shop):
    seen = []

    class Watching(FakeAdapter):
        def orders_page(self, *, since, page):
            seen.append(Channel.objects.values_list("sync_lease_holder", flat=True).get())
            return super().orders_page(since=since, page=page)

    sync.channel_sync(channel=shop, adapter=Watching([OrderPage(orders=[])]))
    assert seen == [live_holder()]


def test_recover_frees_dead_and_expired_leases_closes_their_runs_and_makes_them_due(shop, network):
    dead = shop
    expired = Channel.objects.create(code="exp", name="Expired", kind="shopify", currency="EUR")
    alive = Channel.objects.create(code="alive", name="Alive", kind="shopify", currency="EUR")
    holder = dead_holder()
    dead_run = leased(dead, holder=holder)
    expired_run = leased(expired, holder=live_holder(), minutes=-1)
    alive_run = leased(alive, holder=live_holder())
    Channel.objects.filter(pk__in=[dead.pk, expired.pk, alive.pk]).update(
        sync_next_at=timezone.now() + dt.timedelta(hours=1)
    )

    assert sorted(sync.sync_leases_recover()) == sorted([dead.pk, expired.pk])
    for channel, run in ((dead, dead_run), (expired, expired_run)):
        channel = refreshed(channel)
        assert (channel.sync_lease_until, channel.sync_lease_holder) == (None, "")
        assert channel.sync_next_at <= timezone.now()
        run = refreshed(run)
        assert run.status == "failed"
        assert run.finished_at is not None
    assert holder in refreshed(dead_run).error
    alive = refreshed(alive)
    assert alive.sync_lease_holder == live_holder()
    assert alive.sync_next_at > timezone.now()
    assert refreshed(alive_run).status == "running"
    assert dead.pk in sync.channels_due()
    assert sync.sync_leases_recover() == []


def test_a_sync_does_not_close_the_run_of_a_webhook_being_processed(shop):
    webhook_run = ChannelSyncRun.objects.create(channel=shop, trigger="webhook", pages=1)
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[])]))
    assert refreshed(webhook_run).status == "running"


# --- webhook deliveries -------------------------------------------------------------------------


def delivery(channel: Channel, *, holder: str = "", minutes: float = 5) -> InboundWebhook:
    """A stored delivery of order W1 received an hour ago, claimed by `holder` if given."""
    stored = InboundWebhook.objects.create(
        kind="channel",
        source=channel.code,
        channel_id=channel.pk,
        delivery_id="d-1",
        topic="orders/create",
        payload={"id": "W1"},
    )
    changes = {"received_at": timezone.now() - dt.timedelta(hours=1)}
    if holder:
        changes |= {
            "claimed_by": holder,
            "claimed_until": timezone.now() + dt.timedelta(minutes=minutes),
            "attempts": 1,
        }
    InboundWebhook.objects.filter(pk=stored.pk).update(**changes)
    return refreshed(stored)


def test_a_delivery_claimed_by_a_dead_worker_is_taken_over(fake_adapter, shop):
    stored = delivery(shop, holder=dead_holder())
    assert inbox_unprocessed() == [stored.pk]  # the sweep sends it again
    processed = inbox_process(inbox_id=stored.pk)
    assert processed.status == "processed"
    assert refreshed(stored).attempts == 2
    assert Order.objects.filter(channel=shop, external_id="W1").count() == 1
    assert inbox_unprocessed() == []


def test_requeue_sends_again_the_deliveries_nobody_processes_once(fake_adapter, shop):
    stored = delivery(shop, holder=dead_holder())
    assert inbox_requeue() == 1
    inbox_requeue()  # the beat runs again before a worker took it
    assert queued("oms.inbox_process") == [("oms.inbox_process", {"inbox_id": stored.pk})]
    [message] = OutboxMessage.objects.filter(task="oms.inbox_process")
    assert message.queue == "channels"  # a channel's delivery stays on the channels' queue
    assert run_outbox("oms.inbox_process") == 1
    assert refreshed(stored).status == "processed"
    assert inbox_requeue() == 0


def test_a_delivery_claimed_by_a_live_worker_is_left_to_it(fake_adapter, shop):
    stored = delivery(shop, holder=live_holder())
    assert inbox_unprocessed() == []
    assert inbox_process(inbox_id=stored.pk).status == "received"
    stored = refreshed(stored)
    assert (stored.attempts, stored.claimed_by) == (1, live_holder())
    assert not Order.objects.filter(external_id="W1").exists()


def test_a_delivery_whose_claim_expired_is_taken_over(fake_adapter, shop):
    stored = delivery(shop, holder=live_holder(), minutes=-1)
    assert inbox_process(inbox_id=stored.pk).status == "processed"


def test_a_delivery_whose_retries_are_spent_is_failed_with_the_reason(fake_adapter, shop):
    stored = delivery(shop, holder=dead_holder())
    inbox_gave_up(inbox_id=stored.pk, reason="TransientError: HTTP 503")
    stored = refreshed(stored)
    assert stored.status == "failed"
    assert stored.error == "gave up: TransientError: HTTP 503"
    assert stored.processed_at is not None
    assert (stored.claimed_by, stored.claimed_until) == ("", None)
    assert inbox_unprocessed() == []
    assert inbox_process(inbox_id=stored.pk).status == "failed"  # final
    assert not Order.objects.filter(external_id="W1").exists()


def test_the_give_up_hook_leaves_a_processed_delivery_alone(fake_adapter, shop):
    stored = delivery(shop)
    inbox_process(inbox_id=stored.pk)
    inbox_gave_up(inbox_id=stored.pk, reason="late")
    stored = refreshed(stored)
    assert (stored.status, stored.error) == ("processed", "")


@pytest.mark.parametrize(
    ("task", "key"),
    [
        ("oms.inbox_process", "inbox_id"),
        # The former name: messages written before the inbox moved to the kernel.
        ("channels.webhook_process", "delivery_id"),
    ],
)
def test_a_webhook_task_whose_retries_are_spent_fails_the_delivery(fake_adapter, shop, task, key):
    stored = delivery(shop)

    def unavailable(_delivery):
        raise TransientError("HTTP 503")

    fake_adapter.webhook_orders = unavailable
    outbox_enqueue(task, **{key: stored.pk})
    assert run_outbox(task) >= 2
    [message] = OutboxMessage.objects.filter(task=task)
    assert message.state == "failed"
    stored = refreshed(stored)
    assert stored.status == "failed"
    assert stored.error == "gave up: TransientError: HTTP 503"


# --- pushes -------------------------------------------------------------------------------------


@pytest.fixture
def synced_order(shop):
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[record("1")])]))
    return Order.objects.get(channel=shop, external_id="1")


def open_push(order: Order, reference: str, **fields) -> ChannelPush:
    return ChannelPush.objects.create(
        channel=order.channel, kind="refund", reference=reference, order=order, **fields
    )


def test_push_gave_up_fails_an_open_push_with_the_reason_on_the_timeline(synced_order):
    pending = open_push(synced_order, "rk-1", attempts=9, error="HTTP 503")
    done = open_push(synced_order, "rk-2", status="succeeded", external_id="R")
    push.push_gave_up(reference="rk-1", reason="TransientError: HTTP 503")
    push.push_gave_up(reference="rk-2", reason="late")
    pending = refreshed(pending)
    assert pending.status == "failed"
    assert pending.error == "gave up: TransientError: HTTP 503"
    assert pending.finished_at is not None
    assert refreshed(done).status == "succeeded"
    [event] = synced_order.events.filter(kind="channel_refund_failed")
    assert event.data["reference"] == "rk-1"
    assert event.data["error"] == "gave up: TransientError: HTTP 503"
    assert not synced_order.events.filter(kind="channel_refund_pushed").exists()


def test_a_push_claimed_by_a_dead_worker_is_taken_over(fake_adapter, synced_order):
    claimed = open_push(
        synced_order,
        "rk-3",
        claimed_by=dead_holder(),
        claimed_until=timezone.now() + dt.timedelta(minutes=5),
        attempts=1,
    )
    sent = push.refund_push(
        order_id=synced_order.pk, reference="rk-3", amount="1.00", currency="EUR", reason=""
    )
    assert sent.status == "succeeded"
    assert refreshed(claimed).attempts == 2


def test_a_push_claimed_by_a_live_worker_is_not_sent_twice(fake_adapter, synced_order):
    open_push(
        synced_order,
        "rk-4",
        claimed_by=live_holder(),
        claimed_until=timezone.now() + dt.timedelta(minutes=5),
    )
    with pytest.raises(TransientError):
        push.refund_push(
            order_id=synced_order.pk, reference="rk-4", amount="1.00", currency="EUR", reason=""
        )
    assert ChannelPush.objects.get(reference="rk-4").status == "pending"


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("refund", {"amount": "1.00", "currency": "EUR"}),
        ("cancel", {"lines": []}),
    ],
)
def test_a_push_whose_retries_are_spent_fails_the_push(fake_adapter, synced_order, kind, extra):
    def unavailable(_push):
        raise TransientError("HTTP 503")

    setattr(fake_adapter, f"{kind}_push", unavailable)
    task = f"channels.{kind}_push"
    message = outbox_enqueue(
        task, order_id=synced_order.pk, reference=f"{kind}-5", reason="goodwill", **extra
    )
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=message.max_attempts - 1)
    assert run_outbox(task) == 1  # its last attempt
    message.refresh_from_db()
    assert message.state == "failed"
    the_push = ChannelPush.objects.get(reference=f"{kind}-5")
    assert the_push.kind == kind
    assert the_push.status == "failed"
    assert the_push.error.startswith("gave up")
    assert synced_order.events.filter(kind=f"channel_{kind}_failed").exists()
