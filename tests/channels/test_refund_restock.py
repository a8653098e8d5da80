"""Refunds of channels that do not say whether the refunded units went back to stock.

WooCommerce's order refund resource has no restock field to read (`api_restock` is write-only:
sent when a refund is made, never returned by GET /orders/<id>/refunds); eBay's LineItemRefund
carries an amount, a date and ids, no quantity and no restock flag. For both, the channel's
`refund_restock` setting decides: "none" (the default) leaves our stock as it is, "restock"
brings the shipped units a refund names back on hand where they left from, once per refund and
unit. Shopify's refunds say it themselves (restock_type) and are followed whatever the setting.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from channels.adapters.base import WebhookDelivery
from channels.adapters.woocommerce.mapping import map_orders
from channels.services.sync import channel_order_upsert
from inventory.models import StockLevel
from orders.models import Order
from tests.channels.test_vendor_payloads import (
    WOO_REFUNDS_723,
    _shipped_by_us,
    _woo_adapter,
    payload,
)
from tests.fulfilment.conftest import network, put

__all__ = ["network"]


def _on_hand(sku: str) -> int:
    return StockLevel.objects.get(location__code="BER", sku__code=sku).on_hand


def _setting(network, value: str) -> Any:
    channel = network["channel"]
    channel.refund_restock = value
    channel.save()
    return channel


def test_a_new_channel_does_not_restock_by_default(db) -> None:
    from tests.factories import ChannelFactory

    assert ChannelFactory().refund_restock == "none"


# --- WooCommerce ----------------------------------------------------------------------------------


def _woo_refund() -> dict[str, Any]:
    """The documentation's refund 724 (tests/channels/vendor_payloads/SOURCES.md) made a refund
    of one of order 727's two "Woo Single #1" (its line 315)."""
    refund = copy.deepcopy(payload(WOO_REFUNDS_723)[1])
    item = refund["line_items"][0]
    item.update(name="Woo Single #1", quantity=-1, subtotal="-3.00", total="-3.00")
    item.update(total_tax="-0.23", sku="A")
    item["meta_data"][0]["value"] = "315"
    refund.update(id=730, amount="3.23")
    return refund


@pytest.mark.django_db
@pytest.mark.parametrize("setting", ["none", "restock"])
def test_a_woocommerce_refund_after_shipment_restocks_only_when_the_channel_says_so(
    network, httpserver, setting
) -> None:
    channel = _setting(network, setting)
    for sku in ("A", "B"):
        put(network, "BER", sku, 5)
    (raw,) = [o for o in payload("woocommerce/list_orders_727_723.json") if o["id"] == 727]
    raw["line_items"][0]["sku"], raw["line_items"][1]["sku"] = "A", "B"
    channel_order_upsert(channel=channel, record=map_orders([copy.deepcopy(raw)], "USD").orders[0])
    order = Order.objects.get(external_id="727")
    _shipped_by_us(order)
    assert _on_hand("A") == 3  # two shipped

    adapter = _woo_adapter(httpserver, [], {727: [_woo_refund()]})
    raw["refunds"] = [{"id": 730, "reason": "", "total": "-3.23"}]
    for moment in ("2017-03-22T20:00:00", "2017-03-22T21:00:00"):  # a later version again
        raw["date_modified_gmt"] = moment
        raw["customer_note"] = moment
        delivery = WebhookDelivery(delivery_id=moment, topic="order.updated", payload=raw)
        (record,) = adapter.webhook_orders(delivery).orders
        assert [(r["refund"], r["quantity"], r["by_setting"]) for r in record.restocks] == [
            ("730", 1, True)
        ]
        channel_order_upsert(channel=channel, record=record)
    order.refresh_from_db()

    restocked = 1 if setting == "restock" else 0
    assert _on_hand("A") == 3 + restocked
    assert order.events.filter(kind="channel_restocked").count() == restocked
    # The shipped unit the refund names is noted on the timeline either way, once.
    assert order.events.filter(kind="channel_refunded_shipped_units").count() == 1


# --- eBay ---------------------------------------------------------------------------------------


def _ebay_refund(refund_id: str, value: str, moment: str) -> dict[str, Any]:
    from tests.channels.adapters import ebay_payloads

    return {
        "amount": ebay_payloads.amount(value),
        "refundDate": moment,
        "refundId": refund_id,
        "refundReferenceId": f"REF-{refund_id}",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("setting", ["none", "restock"])
def test_an_ebay_line_refund_after_shipment_restocks_only_when_the_channel_says_so(
    network, setting
) -> None:
    """Three mugs shipped; eBay refunds one mug's value (with its tax), then, in a later
    version, a goodwill amount below a unit's value: one unit back at Berlin with "restock",
    none with "none", never two."""
    from channels.adapters.ebay.mapping import map_order
    from tests.channels.adapters import ebay_payloads

    channel = _setting(network, setting)
    put(network, "BER", "A", 5)
    put(network, "BER", "B", 5)
    raw = ebay_payloads.ebay_order("04-55555-66666")
    raw["lineItems"][0]["sku"], raw["lineItems"][1]["sku"] = "A", "B"
    channel_order_upsert(channel=channel, record=map_order(raw, default_currency="USD"))
    order = Order.objects.get(external_id="04-55555-66666")
    _shipped_by_us(order)
    assert _on_hand("A") == 2

    raw["orderPaymentStatus"] = "PARTIALLY_REFUNDED"
    raw["lineItems"][0]["refunds"] = [_ebay_refund("1", "19.79", "2024-05-02T08:59:00.000Z")]
    raw["lastModifiedDate"] = "2024-05-02T09:00:00.000Z"
    record = map_order(raw, default_currency="USD")
    line_id = raw["lineItems"][0]["lineItemId"]
    assert record.restocks == [
        {
            "refund": f"{line_id}#1",
            "external_line_id": line_id,
            "quantity": 1,
            "location": "",
            "by_setting": True,
        }
    ]
    channel_order_upsert(channel=channel, record=record)

    raw["lineItems"][0]["refunds"].append(_ebay_refund("2", "5.00", "2024-05-03T08:59:00.000Z"))
    raw["lastModifiedDate"] = "2024-05-03T09:00:00.000Z"
    channel_order_upsert(channel=channel, record=map_order(raw, default_currency="USD"))
    order.refresh_from_db()

    restocked = 1 if setting == "restock" else 0
    assert _on_hand("A") == 2 + restocked
    assert order.events.filter(kind="channel_restocked").count() == restocked
    assert order.payment_status == "partially_refunded"
    assert order.total == Decimal("77.67")  # as captured: a refund is no edit of ours


@pytest.mark.django_db
def test_shopifys_own_restock_type_is_followed_whatever_the_setting(network) -> None:
    """A Shopify refund that says `restock_type` "return" brings its unit back even with the
    setting at "none" (the vendor said it)."""
    from channels.adapters.shopify.mapping import map_rest_order
    from tests.channels.test_vendor_payloads import SHOPIFY_ORDER, _as_placed, _ours

    channel = _setting(network, "none")
    for sku in ("A", "B", "C"):
        put(network, "BER", sku, 5)
    body = _ours(payload(SHOPIFY_ORDER))
    placed = _as_placed(body)
    channel_order_upsert(channel=channel, record=map_rest_order(placed))
    order = Order.objects.get(external_id="450789469")
    _shipped_by_us(order)
    for refund in body["refunds"]:
        for item in refund["refund_line_items"]:
            item["restock_type"] = "return"
            item["location_id"] = None
    record = map_rest_order(body)
    assert record.restocks
    assert not any(r.get("by_setting") for r in record.restocks)
    channel_order_upsert(channel=channel, record=record)

    assert order.events.filter(kind="channel_restocked").exists()
    assert _on_hand("A") + _on_hand("C") > 8  # at least one of the two shipped came back
