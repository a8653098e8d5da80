"""Two workers syncing one channel at once (real threads; run on PostgreSQL too): only one pulls,
and each channel order is captured exactly once."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from channels.adapters.base import OrderPage
from channels.models import ChannelSyncRun
from channels.services import sync
from orders.models import Order
from tests.channels.test_sync import FakeAdapter, record
from tests.fulfilment.conftest import network, put

__all__ = ["network"]


class SlowAdapter(FakeAdapter):
    def orders_page(self, *, since, page):
        time.sleep(0.3)  # long enough for the other worker to try meanwhile
        return super().orders_page(since=since, page=page)


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_sync_one_channel_at_once(network):
    channel = network["channel"]
    channel.kind = "shopify"
    channel.save()
    put(network, "BER", "A", 20)
    pages = [OrderPage(orders=[record(str(n), n) for n in range(5)])]
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def worker() -> None:
        try:
            barrier.wait()
            run = sync.channel_sync(channel=channel.pk, adapter=SlowAdapter(pages))
            outcomes.append("skipped" if run is None else run.status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["skipped", "skipped", "succeeded"]
    assert ChannelSyncRun.objects.count() == 1
    assert Order.objects.filter(channel=channel).count() == 5


@pytest.mark.django_db(transaction=True)
def test_a_webhook_and_a_sync_racing_for_one_order_capture_it_once(network):
    channel = network["channel"]
    channel.kind = "shopify"
    channel.save()
    put(network, "BER", "A", 20)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def worker() -> None:
        try:
            barrier.wait()
            outcomes.append(sync.channel_order_upsert(channel=channel, record=record("77")))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("created") == 1
    assert Order.objects.filter(channel=channel, external_id="77").count() == 1
