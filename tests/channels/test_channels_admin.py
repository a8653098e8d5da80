"""The channels back office: channel settings, sync runs, failures, webhooks, pushes, listings,
and the "sync now" / "push stock" / "reconcile" actions."""

from __future__ import annotations

import pytest
from django.test import Client

from channels.adapters.base import OrderPage, RecordFailure
from channels.models import ChannelPush, ChannelStockChange
from channels.services import sync
from oms.roles import MANAGER, WAREHOUSE
from tests.channels.test_sync import FakeAdapter, record, shop
from tests.factories import UserFactory
from tests.fulfilment.conftest import network
from tests.outbox import queued

__all__ = ["network", "shop"]


def staff_client(*roles: str, superuser: bool = False) -> Client:
    client = Client()
    client.force_login(UserFactory(roles=list(roles), is_staff=True, is_superuser=superuser))
    return client


@pytest.fixture
def history(shop):
    page = OrderPage(
        orders=[record("1"), record("2", 1)],
        failures=[RecordFailure(external_id="9", reason="line without SKU", raw={"id": 9})],
    )
    return sync.channel_sync(channel=shop, adapter=FakeAdapter([page]))


@pytest.mark.parametrize(
    "url",
    [
        "/admin/channels/channelsyncrun/",
        "/admin/channels/channelsyncfailure/",
        "/admin/oms/inboundwebhook/",
        "/admin/channels/channelpush/",
        "/admin/channels/channellisting/",
        "/admin/inventory/channel/",
    ],
)
def test_the_channel_pages_render(history, url):
    response = staff_client(superuser=True).get(url)
    assert response.status_code == 200


def test_a_run_shows_its_counts_and_failed_records(history):
    client = staff_client(MANAGER)
    page = client.get("/admin/channels/channelsyncrun/").content.decode()
    assert "Succeeded with failed records" in page
    detail = client.get(f"/admin/channels/channelsyncrun/{history.pk}/change/").content.decode()
    assert "line without SKU" in detail
    channel_page = client.get(f"/admin/inventory/channel/{history.channel_id}/change/").content
    assert b"Recent syncs" in channel_page
    assert b"Import orders from CSV" in channel_page


def test_sync_now_and_push_actions_queue_tasks(shop):
    client = staff_client(MANAGER)
    for action in ("sync_now", "push_stock_now", "reconcile_stock"):
        response = client.post(
            "/admin/inventory/channel/",
            {"action": action, "_selected_action": [shop.pk]},
            follow=True,
        )
        assert response.status_code == 200
    # The second push request finds the first one still pending: one push sends both.
    assert queued("channels.sync", "channels.stock_push") == [
        ("channels.sync", {"channel_id": shop.pk, "trigger": "manual"}),
        ("channels.stock_push", {"channel_id": shop.pk}),
    ]
    assert ChannelStockChange.objects.filter(channel=shop).count() == 3  # every SKU marked


def test_logs_cannot_be_edited_and_warehouse_staff_only_look(history):
    client = staff_client(MANAGER)
    assert client.get("/admin/channels/channelpush/add/").status_code == 403
    ChannelPush.objects.create(channel=history.channel, kind="stock", reference="r1")
    assert client.post(f"/admin/channels/channelsyncrun/{history.pk}/delete/").status_code == 403
    warehouse = staff_client(WAREHOUSE)
    assert warehouse.get("/admin/channels/channelsyncrun/").status_code == 200
    channels_page = warehouse.get("/admin/inventory/channel/").content.decode()
    assert "sync_now" not in channels_page  # the actions need the change permission


def test_the_former_webhook_page_leads_to_the_kernels_inbox(history):
    client = staff_client(WAREHOUSE)
    response = client.get("/admin/channels/channelwebhookdelivery/")
    assert (response.status_code, response["Location"]) == (
        301,
        "/admin/oms/inboundwebhook/?kind__exact=channel",
    )
    assert client.get(response["Location"]).status_code == 200  # the warehouse looks
