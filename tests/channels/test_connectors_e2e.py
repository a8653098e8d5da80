"""Connectors end to end: a channel's stored credentials lead its adapter to a fake vendor
(pytest-httpserver), and the sync engine, the webhook view and the pushes do the rest."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from channels.models import ChannelSyncRun
from channels.services import channel_set_credentials, push, sync
from inventory.models import Channel, StockLevel, StockMovement
from oms.inbox import inbox_process
from oms.models import InboundWebhook
from orders.models import Order
from tests.channels.adapters import square_payloads as sq
from tests.channels.adapters import woo_payloads as woo
from tests.conftest import cache_clear
from tests.factories import SkuFactory
from tests.fulfilment.conftest import network, put
from tests.outbox import queued, run_outbox

__all__ = ["network"]

WOO_SECRET = "whsec-e2e"


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache_clear()
    yield
    cache_clear()


@pytest.fixture
def woo_channel(network, httpserver):
    channel = network["channel"]
    channel.kind = "woocommerce"
    channel.currency = "EUR"
    channel.save()
    channel_set_credentials(
        channel=channel,
        credentials={
            "base_url": httpserver.url_for(""),
            "consumer_key": "ck",
            "consumer_secret": "cs",
            "webhook_secret": WOO_SECRET,
        },
    )
    SkuFactory(code="SHIRT-BLUE-M")
    SkuFactory(code="MUG-1")
    for sku in ("SHIRT-BLUE-M", "MUG-1"):
        network["skus"][sku] = type(network["skus"]["A"]).objects.get(code=sku)
        put(network, "BER", sku, 10)
    return channel


def _woo_signature(body: bytes) -> str:
    return base64.b64encode(hmac.new(WOO_SECRET.encode(), body, hashlib.sha256).digest()).decode()


def test_a_webhook_and_a_sync_bring_a_woocommerce_order_in_once(client, woo_channel, httpserver):
    payload = woo.order()
    assert {ln["sku"] for ln in payload["line_items"]} == {"SHIRT-BLUE-M", "MUG-1"}
    body = json.dumps(payload).encode()
    headers = {
        "HTTP_X_WC_WEBHOOK_SIGNATURE": _woo_signature(body),
        "HTTP_X_WC_WEBHOOK_DELIVERY_ID": "555",
        "HTTP_X_WC_WEBHOOK_TOPIC": "order.created",
    }
    response = client.post(
        f"/webhooks/channels/{woo_channel.code}/", body, content_type="application/json", **headers
    )
    assert response.status_code == 200
    inbox_process(inbox_id=InboundWebhook.objects.get(kind="channel").pk)
    order = Order.objects.get(channel=woo_channel)
    assert (order.external_id, order.status) == ("727", "allocated")

    # The scheduled pull sees the same order: nothing new.
    httpserver.expect_request("/wp-json/wc/v3/orders").respond_with_json(
        [payload], headers={"X-WP-TotalPages": "1", "X-WP-Total": "1"}
    )
    run = sync.channel_sync(channel=woo_channel)
    assert (run.status, run.created, run.unchanged) == ("succeeded", 0, 1)
    assert Order.objects.filter(channel=woo_channel).count() == 1

    # A forged delivery is refused and stores nothing.
    response = client.post(
        f"/webhooks/channels/{woo_channel.code}/",
        body,
        content_type="application/json",
        **{
            **headers,
            "HTTP_X_WC_WEBHOOK_SIGNATURE": "bm9wZQ==",
            "HTTP_X_WC_WEBHOOK_DELIVERY_ID": "556",
        },
    )
    assert response.status_code == 401
    assert InboundWebhook.objects.count() == 1


def test_woocommerce_garbage_is_a_failed_run_and_imports_nothing(woo_channel, httpserver):
    httpserver.expect_request("/wp-json/wc/v3/orders").respond_with_data(
        "<html>maintenance</html>", content_type="text/html"
    )
    run = sync.channel_sync(channel=woo_channel)
    assert run.status == "failed"
    assert not Order.objects.exists()
    woo_channel.refresh_from_db()
    assert woo_channel.sync_cursor is None


def test_stock_reaches_woocommerce_through_its_batch_endpoint(woo_channel, httpserver):
    from channels.models import ChannelListing, ChannelStockChange

    ChannelStockChange.objects.filter(channel=woo_channel).exclude(sku__code="MUG-1").delete()
    ChannelListing.objects.create(
        channel=woo_channel, sku=woo_channel.stock_changes.get().sku, external_id="94"
    )
    httpserver.expect_request("/wp-json/wc/v3/products/batch", method="POST").respond_with_json(
        {"update": [{"id": 94, "sku": "MUG-1", "stock_quantity": 10}]}
    )
    [batch] = push.channel_stock_push(channel=woo_channel)
    assert batch.status == "succeeded"
    sent = json.loads(httpserver.log[-1][0].get_data())
    assert sent["update"][0]["id"] == 94
    assert sent["update"][0]["stock_quantity"] == 10


def test_a_square_till_sale_takes_the_store_stock(network, httpserver):
    store = network["locations"]["MUC"]
    pos = Channel.objects.create(
        code="till",
        name="Munich store",
        kind="pos",
        currency="EUR",
        location_map={sq.LOCATION: "MUC"},
        send_emails=False,
    )
    pos.locations.set([store])
    channel_set_credentials(
        channel=pos,
        credentials={
            "base_url": httpserver.url_for(""),
            "access_token": "sq",
            "signature_key": "k",
            "location_ids": [sq.LOCATION],
        },
    )
    for code in ("CB-L", "CROISSANT"):
        network["skus"][code] = SkuFactory(code=code)
        put(network, "MUC", code, 10)
    httpserver.expect_request("/v2/orders/search", method="POST").respond_with_json(
        {"orders": [sq.order()]}
    )
    httpserver.expect_request("/v2/catalog/batch-retrieve", method="POST").respond_with_json(
        sq.CATALOG
    )
    run = sync.channel_sync(channel=pos)
    assert (run.status, run.created) == ("succeeded", 1), run.error
    order = Order.objects.get(channel=pos)
    assert order.status == "completed"
    levels = dict(
        StockLevel.objects.filter(location=store, sku__code__in=["CB-L", "CROISSANT"]).values_list(
            "sku__code", "on_hand"
        )
    )
    assert levels == {"CB-L": 8, "CROISSANT": 7}
    assert StockMovement.objects.filter(order_id=order.pk, reason="sold in store").count() == 2
    assert sync.channel_sync(channel=pos).unchanged == 1  # replayed: stock taken once
    assert StockLevel.objects.get(location=store, sku__code="CB-L").on_hand == 8
    assert ChannelSyncRun.objects.filter(channel=pos).count() == 2


# --- Shopify: beat -> sync task -> adapter -> fake store, and the pushes back ------------------


@pytest.fixture
def shopify(network, monkeypatch):
    import httpx

    from channels.fakes.shopify import FakeShopifyStore

    store = FakeShopifyStore(skus=["A", "B"], seed=3, countries=("DE",))
    monkeypatch.setattr(
        sync, "demo_transport", lambda kind, creds: httpx.MockTransport(store.handler)
    )
    channel = network["channel"]
    channel.kind = "shopify"
    channel.save()
    channel_set_credentials(
        channel=channel,
        credentials={
            "shop": "e2e.myshopify.com",
            "access_token": "tok",
            "webhook_secret": "shpss_demo",
            "location_id": str(store.location_id),
        },
    )
    for sku in ("A", "B"):
        put(network, "BER", sku, 100)
    return channel, store


def test_a_scheduled_shopify_sync_imports_each_order_once(shopify):
    from channels import tasks

    channel, store = shopify
    store.add_orders(20)
    assert tasks.sync_due_task() == 1
    assert queued("channels.sync") == [
        ("channels.sync", {"channel_id": channel.pk, "trigger": "schedule", "deep": False})
    ]
    assert run_outbox("channels.sync") == 1
    run = ChannelSyncRun.objects.get(channel=channel)
    assert (run.status, run.created, run.failed) == ("succeeded", 20, 0), run.error
    assert Order.objects.filter(channel=channel, status="allocated").count() == 20
    assert tasks.sync_due_task() == 0  # not due again before its interval

    # A webhook for one of them, and the next pull, change nothing.
    from django.test import Client

    headers, body = store.webhook(store.order_ids[0])
    response = Client().post(
        f"/webhooks/channels/{channel.code}/",
        body,
        content_type="application/json",
        **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()},
    )
    assert response.status_code == 200
    delivery = InboundWebhook.objects.get(kind="channel")
    assert inbox_process(inbox_id=delivery.pk).status == "processed"
    again = sync.channel_sync(channel=channel)
    assert again.created == 0
    assert Order.objects.filter(channel=channel).count() == 20

    # Cancelled on Shopify: cancelled here, its stock released.
    first = store.order_ids[0]
    store.cancel_order(first)
    assert sync.channel_sync(channel=channel).updated == 1
    cancelled = Order.objects.get(channel=channel, external_id=str(first))
    assert cancelled.status == "cancelled"
    assert Order.objects.filter(channel=channel, status="cancelled").count() == 1


def test_stock_and_a_shipment_reach_the_fake_shopify_store(shopify):
    from channels.models import ChannelListing
    from tests.channels.test_sync import _ship

    channel, store = shopify
    store.add_orders(1)
    sync.channel_sync(channel=channel)
    order = Order.objects.get(channel=channel)
    pushed = push.channel_stock_push(channel=channel)
    assert pushed
    assert all(p.status == "succeeded" for p in pushed)
    item = store.inventory_item_id("A")
    available_a = StockLevel.objects.get(sku__code="A", location__code="BER")
    expected = available_a.on_hand - available_a.reserved - channel.stock_buffer
    assert store.inventory[(item, store.location_gid())] == expected
    assert ChannelListing.objects.get(channel=channel, sku__code="A").last_quantity == expected

    shipment = _ship(order)
    assert run_outbox("channels.shipment_push") == 1
    assert len(store.fulfillments) == 1
    assert shipment.tracking_number in json.dumps(store.fulfillments[0])
    assert order.events.filter(kind="channel_fulfilment_pushed").exists()


def test_the_fake_shopify_store_s_code_discounts_import_without_a_totals_hold(shopify):
    """The store of `make run` spreads its WELCOME10 code over the lines' discount allocations,
    as Shopify does (leaving it out of each line's totalDiscountSet): synced and by webhook,
    those orders come in with Shopify's totals and no totals-mismatch hold."""
    from django.test import Client

    from orders.models import OrderHold

    channel, store = shopify
    store.add_orders(40)
    run = sync.channel_sync(channel=channel)
    assert (run.created, run.failed) == (40, 0), run.error
    coded = [
        order_id
        for order_id in store.order_ids
        if any(line["code"] for line in store._data(store._orders[order_id])["lines"])
    ]
    assert coded, "no order of the sample used the code"
    assert not OrderHold.objects.filter(order__channel=channel, reason="totals_mismatch").exists()
    for order_id in coded:
        order = Order.objects.get(channel=channel, external_id=str(order_id))
        data = store._data(store._orders[order_id])
        assert order.total == data["total"]
        assert sum(ln.discount for ln in order.lines.all()) == sum(
            ln["discount"] + ln["code"] for ln in data["lines"]
        )
    # The same order by webhook (REST shapes): updated, still no hold.
    headers, body = store.webhook(coded[0])
    response = Client().post(
        f"/webhooks/channels/{channel.code}/",
        body,
        content_type="application/json",
        **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()},
    )
    assert response.status_code == 200
    assert inbox_process(inbox_id=InboundWebhook.objects.get(kind="channel").pk).status == (
        "processed"
    )
    assert not OrderHold.objects.filter(order__channel=channel, reason="totals_mismatch").exists()
