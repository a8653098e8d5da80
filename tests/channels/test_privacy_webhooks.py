"""Shopify's mandatory compliance webhooks on the channel webhook endpoint, signed for real."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import Client

from channels.adapters.shopify import webhook_signature
from channels.services import channel_set_credentials
from oms.inbox import inbox_process
from oms.models import InboundWebhook
from orders.models import Customer, Order, PrivacyRequest
from tests.channels.test_privacy import EMAIL, FIRST, LAST, order_of, ship
from tests.factories import ChannelFactory
from tests.fulfilment.conftest import network, put

__all__ = ["network"]

SECRET = "shpss_compliance_secret"
SHOP = "acme.myshopify.com"


@pytest.fixture
def shop(network):
    channel = network["channel"]
    channel.kind = "shopify"
    channel.save()
    channel_set_credentials(
        channel=channel,
        credentials={"shop": SHOP, "access_token": "tok", "webhook_secret": SECRET},
    )
    put(network, "BER", "A", 20)
    put(network, "BER", "B", 20)
    return channel


def deliver(channel_code: str, topic: str, body: dict[str, Any], *, secret: str = SECRET):
    raw = json.dumps(body).encode()
    response = Client().post(
        f"/webhooks/channels/{channel_code}/",
        raw,
        content_type="application/json",
        HTTP_X_SHOPIFY_TOPIC=topic,
        HTTP_X_SHOPIFY_HMAC_SHA256=webhook_signature(secret, raw),
        HTTP_X_SHOPIFY_WEBHOOK_ID=str(uuid.uuid4()),
        HTTP_X_SHOPIFY_SHOP_DOMAIN=SHOP,
    )
    return response


def process_last():
    delivery = InboundWebhook.objects.filter(kind="channel").order_by("-pk").first()
    return inbox_process(inbox_id=delivery.pk)


def test_a_bad_signature_is_401_and_stores_nothing(shop):
    body = {"shop_id": 1, "shop_domain": SHOP}
    assert deliver(shop.code, "shop/redact", body, secret="wrong").status_code == 401
    assert InboundWebhook.objects.count() == 0
    assert PrivacyRequest.objects.count() == 0


def test_data_request_records_an_export_for_staff(shop, client):
    shipped = ship(order_of(EMAIL, first_name=FIRST, last_name=LAST))
    body = {
        "shop_id": 954889,
        "shop_domain": SHOP,
        "orders_requested": [int(shipped.external_id.split("-")[1])],
        "customer": {"id": 191167, "email": EMAIL, "phone": "555-625-1199"},
        "data_request": {"id": 9999},
    }
    assert deliver(shop.code, "customers/data_request", body).status_code == 200
    assert process_last().status == "processed"
    request = PrivacyRequest.objects.get()
    assert (request.kind, request.status, request.source) == ("export", "pending", "shopify")
    assert request.channel_code == shop.code
    assert request.customer == Customer.objects.get(email=EMAIL)
    assert "9999" in request.detail
    # The delivery no longer holds the e-mail; the request does, until the export is given.
    assert EMAIL not in json.dumps(InboundWebhook.objects.get().payload)
    # Run twice: still one request.
    InboundWebhook.objects.update(status="received")
    process_last()
    assert PrivacyRequest.objects.count() == 1
    # Staff download it from the admin; it is then completed.
    from tests.channels.test_privacy import admin_client

    admin_client(client, "Manager")
    response = client.post(
        "/admin/orders/privacyrequest/",
        {"action": "download_export", "_selected_action": [request.pk]},
    )
    assert response.status_code == 200
    document = json.loads(response.content)
    assert [o["number"] for o in document["orders"]] == [shipped.number]
    request.refresh_from_db()
    assert request.status == "completed"


def test_customers_redact_erases_that_customers_orders_of_this_channel_only(shop, network):
    mine = ship(order_of(EMAIL, first_name=FIRST, last_name=LAST))
    other_channel = ChannelFactory(code="pos", currency="EUR", locations=[])
    elsewhere = Order.objects.create(
        channel=other_channel,
        external_id="POS-1",
        currency="EUR",
        base_currency="EUR",
        customer=mine.customer,
        email=EMAIL,
        status="completed",
    )
    body = {
        "shop_id": 954889,
        "shop_domain": SHOP,
        "customer": {"id": 191167, "email": EMAIL, "phone": "555-625-1199"},
        "orders_to_redact": [],
    }
    assert deliver(shop.code, "customers/redact", body).status_code == 200
    assert process_last().status == "processed"
    request = PrivacyRequest.objects.get()
    assert (request.kind, request.status, request.scope) == (
        "erase",
        "completed",
        "channel_customer",
    )
    mine.refresh_from_db()
    elsewhere.refresh_from_db()
    assert mine.personal_data_erased_at is not None
    assert mine.email == ""
    assert mine.shipping_address == {"country": "DE"}
    assert elsewhere.personal_data_erased_at is None
    assert elsewhere.email == EMAIL
    # The customer still buys through the other channel: kept, and said so.
    assert Customer.objects.get(pk=mine.customer_id).email == EMAIL
    assert request.summary["customers_kept"] == [mine.customer_id]
    assert EMAIL not in json.dumps(InboundWebhook.objects.get().payload)


def test_customers_redact_of_an_order_in_fulfilment_is_recorded_blocked(shop):
    open_order = order_of(EMAIL, first_name=FIRST)
    body = {
        "shop_domain": SHOP,
        "customer": {"id": 1, "email": EMAIL, "phone": ""},
        "orders_to_redact": [],
    }
    deliver(shop.code, "customers/redact", body)
    assert process_last().status == "processed"
    request = PrivacyRequest.objects.get()
    assert request.status == "blocked"
    assert open_order.number in request.detail
    open_order.refresh_from_db()
    assert open_order.email == EMAIL


def test_shop_redact_erases_every_shopper_of_the_channel(shop):
    first = ship(order_of(EMAIL, first_name=FIRST, last_name=LAST))
    second = ship(order_of("second.shopper@example.org", "B", first_name="Bertha"))
    InboundWebhook.objects.create(
        kind="channel",
        source=shop.code,
        channel_id=shop.pk,
        delivery_id="old-1",
        topic="orders/create",
        payload={"id": 1, "email": "second.shopper@example.org", "customer": {"id": 5}},
    )
    assert deliver(shop.code, "shop/redact", {"shop_id": 954889, "shop_domain": SHOP}).status_code
    assert process_last().status == "processed"
    request = PrivacyRequest.objects.get()
    assert (request.scope, request.status) == ("channel", "completed")
    for placed in (first, second):
        placed.refresh_from_db()
        assert placed.personal_data_erased_at is not None
        assert placed.email == ""
    assert Customer.objects.filter(erased_at__isnull=False).count() == 2
    payloads = json.dumps(list(InboundWebhook.objects.values_list("payload", flat=True)))
    assert "second.shopper@example.org" not in payloads
    assert EMAIL not in payloads


def test_another_shops_request_is_refused_and_changes_nothing(shop):
    placed = ship(order_of(EMAIL))
    deliver(shop.code, "shop/redact", {"shop_id": 1, "shop_domain": "other.myshopify.com"})
    delivery = process_last()
    assert delivery.status == "failed"
    assert "other.myshopify.com" in delivery.error
    assert PrivacyRequest.objects.count() == 0
    placed.refresh_from_db()
    assert placed.email == EMAIL


def test_order_webhooks_still_import_orders(shop):
    body = {
        "id": 820982911946154508,
        "name": "#1001",
        "email": "buyer@example.com",
        "updated_at": "2026-11-20T10:00:00Z",
        "processed_at": "2026-11-20T10:00:00Z",
        "currency": "EUR",
        "presentment_currency": "EUR",
        "financial_status": "paid",
        "total_price_set": {"presentment_money": {"amount": "10.00", "currency_code": "EUR"}},
        "line_items": [
            {
                "id": 1,
                "sku": "A",
                "quantity": 1,
                "requires_shipping": True,
                "price_set": {"presentment_money": {"amount": "10.00", "currency_code": "EUR"}},
            }
        ],
        "shipping_address": {
            "name": "Buyer",
            "address1": "Street 1",
            "city": "Berlin",
            "zip": "10117",
            "country_code": "DE",
        },
    }
    assert deliver(shop.code, "orders/create", body).status_code == 200
    assert process_last().status == "processed"
    assert Order.objects.filter(channel=shop, external_id="820982911946154508").exists()
    assert PrivacyRequest.objects.count() == 0
