"""The sync API: "sync now" and the list of runs; and the channel's sync and return settings."""

from __future__ import annotations

import pytest

from channels.adapters.base import OrderPage
from channels.models import ChannelSyncRun
from channels.services import sync
from tests.channels.test_sync import FakeAdapter, record, shop
from tests.fulfilment.conftest import network
from tests.outbox import queued

__all__ = ["network", "shop"]


def test_sync_now_queues_a_manual_run(manager_api, shop):
    response = manager_api.post(f"/api/v1/channels/{shop.pk}/sync/")
    assert response.status_code == 202
    assert queued("channels.sync") == [
        ("channels.sync", {"channel_id": shop.pk, "trigger": "manual"})
    ]


def test_sync_now_on_a_channel_without_connector_is_refused(manager_api, network):
    channel = network["channel"]
    channel.kind = "api"
    channel.save()
    response = manager_api.post(f"/api/v1/channels/{channel.pk}/sync/")
    assert response.status_code == 400
    assert response.json()["detail"].endswith("has no connector.")


def test_sync_runs_are_listed_newest_first_in_constant_queries(
    manager_api, shop, django_assert_max_num_queries
):
    for minute in range(5):
        sync.channel_sync(
            channel=shop, adapter=FakeAdapter([OrderPage(orders=[record(str(minute), minute)])])
        )
    with django_assert_max_num_queries(6):
        response = manager_api.get("/api/v1/channel-sync-runs/?channel=web")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert len(rows) == 5
    assert (rows[0]["channel"], rows[0]["created"]) == ("web", 1)
    assert rows[0]["started_at"] >= rows[-1]["started_at"]
    assert manager_api.get("/api/v1/channel-sync-runs/?channel=other").json()["results"] == []
    assert manager_api.get("/api/v1/channel-sync-runs/?status=bogus").status_code == 400
    run = ChannelSyncRun.objects.first()
    assert manager_api.get(f"/api/v1/channel-sync-runs/{run.pk}/").json()["status"] == "succeeded"


def test_a_warehouse_user_cannot_trigger_a_sync(warehouse_api, shop):
    assert warehouse_api.post(f"/api/v1/channels/{shop.pk}/sync/").status_code == 403


@pytest.mark.parametrize(
    ("field", "value"),
    [("refund_basis", "never"), ("sync_interval_minutes", -1), ("location_map", {"X": "NOPE"})],
)
def test_channel_settings_are_validated(manager_api, shop, field, value):
    response = manager_api.patch(f"/api/v1/channels/{shop.pk}/", {field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_channel_settings_are_changed_through_the_api(manager_api, shop):
    response = manager_api.patch(
        f"/api/v1/channels/{shop.pk}/",
        {"return_window_days": 14, "sync_interval_minutes": 1, "location_map": {"L1": "BER"}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["return_window_days"], body["sync_interval_minutes"]) == (14, 1)
    assert body["location_map"] == {"L1": "BER"}
