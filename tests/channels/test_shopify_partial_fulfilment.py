"""Shopify orders fulfilled in part in Shopify's own admin (REST `fulfillment_status` "partial",
GraphQL `displayFulfillmentStatus` PARTIALLY_FULFILLED, with `fulfillments` naming the line items
and units shipped): those units are recorded shipped outside the OMS, never routed, reserved or
shipped again; the rest is ours to ship. A fulfilment our own push created is never taken for
the merchant's.

The orders are Shopify's published example (tests/channels/vendor_payloads, SOURCES.md) with
fulfilments in the shape of the REST Admin API's Order resource (`fulfillments[]`: `id`,
`status`, `location_id`, `line_items[]` with the line item's `id` and `quantity`) and of the
GraphQL Admin API (`Order.fulfillments`: `id`, `status`, `location { id }`,
`fulfillmentLineItems.nodes[]`: `quantity`, `lineItem { id }`); their ids and units are ours."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from channels.adapters.shopify.mapping import map_graphql_order, map_rest_order
from channels.models import ChannelPush
from channels.services.sync import channel_order_upsert
from fulfilment.models import Shipment
from inventory.models import StockLevel
from orders.models import Order
from tests.channels.test_vendor_payloads import (
    SHOPIFY_ORDER,
    _as_placed,
    _graphql_twin,
    _ours,
    _shipped_by_us,
    holds,
    payload,
)
from tests.fulfilment.conftest import network, put

__all__ = ["network"]

#: The example's line item ids: A (green), B (red), C (black) once renamed by _ours.
LINE = {"A": 466157049, "B": 518995019, "C": 703073504}
#: The example's location (mapped to Berlin).
SHOPIFY_LOCATION = 487838322


def _fulfillment(fid: int, units: dict[str, int], status: str = "success") -> dict[str, Any]:
    """A REST Order `fulfillments[]` entry."""
    return {
        "id": fid,
        "order_id": 450789469,
        "status": status,
        "location_id": SHOPIFY_LOCATION,
        "tracking_number": f"1Z{fid}",
        "line_items": [
            {"id": LINE[sku], "quantity": quantity, "sku": sku} for sku, quantity in units.items()
        ],
    }


def _placed(*, c_units: int = 1) -> dict[str, Any]:
    """The example as placed and paid, SKUs A/B/C; `c_units` of the black iPod (its price 199.00
    each: the totals follow)."""
    body = _ours(_as_placed(payload(SHOPIFY_ORDER)))
    if c_units != 1:
        raw = body["line_items"][2]
        raw["quantity"] = raw["current_quantity"] = c_units
        extra = Decimal("199.00") * (c_units - 1)
        for bag in ("total_price_set", "current_total_price_set"):
            money = body[bag]["presentment_money"]
            money["amount"] = str(Decimal(money["amount"]) + extra)
    return body


def _version(body: dict[str, Any], moment: str, fulfillments: list[dict[str, Any]]) -> dict:
    later = copy.deepcopy(body)
    later["updated_at"] = moment
    later["fulfillment_status"] = "partial"
    later["fulfillments"] = fulfillments
    return later


def _stock(network) -> None:
    channel = network["channel"]
    channel.location_map = {str(SHOPIFY_LOCATION): "BER"}
    channel.save()
    for sku in ("A", "B", "C"):
        put(network, "BER", sku, 5)


def _levels() -> list[tuple[str, int, int]]:
    levels = StockLevel.objects.filter(location__code="BER")
    return sorted(levels.values_list("sku__code", "on_hand", "reserved"))


def _lines(order: Order) -> dict[str, tuple[int, int]]:
    return {ln.sku_code: (ln.quantity_shipped, ln.quantity_allocated) for ln in order.lines.all()}


# --- mapping -------------------------------------------------------------------------------------


def test_rest_and_graphql_fulfilments_read_the_same() -> None:
    body = _version(
        _placed(c_units=2),
        "2008-01-10T12:00:00-05:00",
        [
            _fulfillment(1001, {"A": 1, "C": 1}),
            _fulfillment(1002, {"B": 1}, status="cancelled"),  # shipped nothing
        ],
    )
    rest = map_rest_order(body)
    node, lines = _graphql_twin(body)
    node["displayFulfillmentStatus"] = "PARTIALLY_FULFILLED"
    node["fulfillments"] = [
        {
            "id": f"gid://shopify/Fulfillment/{f['id']}",
            "status": f["status"].upper(),
            "location": {"id": f"gid://shopify/Location/{f['location_id']}"},
            "fulfillmentLineItems": {
                "nodes": [
                    {
                        "quantity": i["quantity"],
                        "lineItem": {"id": f"gid://shopify/LineItem/{i['id']}"},
                    }
                    for i in f["line_items"]
                ]
            },
        }
        for f in body["fulfillments"]
    ]
    graphql = map_graphql_order(node, lines)

    expected = [
        {
            "id": "1001",
            "lines": {str(LINE["A"]): 1, str(LINE["C"]): 1},
            "location": str(SHOPIFY_LOCATION),
        }
    ]
    assert rest.fulfilments == graphql.fulfilments == expected
    assert rest.fulfilled_by == graphql.fulfilled_by == ""  # partial: ours to ship, in part
    assert rest.store_location == graphql.store_location == str(SHOPIFY_LOCATION)


def test_a_fulfilment_with_a_bad_unit_count_is_a_record_failure() -> None:
    from channels.adapters.shopify.mapping import Unmappable

    body = _version(_placed(), "2008-01-10T12:00:00-05:00", [_fulfillment(1001, {"A": 1})])
    body["fulfillments"][0]["line_items"][0]["quantity"] = "one"
    with pytest.raises(Unmappable):
        map_rest_order(body)


# --- first import ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("stock", ["none", "take"])
def test_units_fulfilled_on_shopify_before_we_saw_the_order_are_never_routed(
    network, stock
) -> None:
    """First seen partially fulfilled: one of the two black iPods and the green one left from
    Shopify's location. They count shipped outside the OMS (no reservation, no shipment),
    taken from Berlin's stock only with "take"; the rest (the red one, the second black one)
    is routed as usual. No totals-mismatch or payment hold."""
    _stock(network)
    channel = network["channel"]
    channel.shipped_elsewhere_stock = stock
    channel.save()
    body = _version(
        _placed(c_units=2), "2008-01-10T11:30:00-05:00", [_fulfillment(1001, {"A": 1, "C": 1})]
    )
    record = map_rest_order(body)
    assert channel_order_upsert(channel=channel, record=record) == "created"
    order = Order.objects.get(external_id="450789469")

    assert order.status == "partially_shipped"
    assert holds(order) == set()
    assert order.total == order.channel_total == Decimal("797.94")
    assert _lines(order) == {"A": (1, 0), "B": (0, 1), "C": (1, 1)}
    (shipment,) = Shipment.objects.filter(order=order)
    assert sorted(shipment.lines.values_list("order_line__sku_code", "quantity")) == [
        ("B", 1),
        ("C", 1),
    ]
    taken = 1 if stock == "take" else 0
    assert _levels() == [("A", 5 - taken, 0), ("B", 5, 1), ("C", 5 - taken, 1)]
    (event,) = order.events.filter(kind="fulfilled_by_channel")
    assert event.data["shipped_elsewhere"] is True
    assert event.data["location"] == ("BER" if stock == "take" else "")
    assert sorted(item["quantity"] for item in event.data["lines"]) == [1, 1]

    # The same version again (a sync's overlap, a webhook retried): nothing more.
    assert channel_order_upsert(channel=channel, record=map_rest_order(body)) == "unchanged"
    later = _version(body, "2008-01-10T11:40:00-05:00", body["fulfillments"])
    later["note"] = "a later version, the same fulfilment"
    channel_order_upsert(channel=channel, record=map_rest_order(later))
    order.refresh_from_db()
    assert _lines(order) == {"A": (1, 0), "B": (0, 1), "C": (1, 1)}
    assert order.events.filter(kind="fulfilled_by_channel").count() == 1


@pytest.mark.django_db
def test_the_graphql_sync_reads_a_partially_fulfilled_order_the_same(network) -> None:
    _stock(network)
    body = _version(_placed(), "2008-01-10T11:30:00-05:00", [_fulfillment(1001, {"B": 1})])
    node, lines = _graphql_twin(body)
    node["displayFulfillmentStatus"] = "PARTIALLY_FULFILLED"
    node["fulfillments"] = [
        {
            "id": "gid://shopify/Fulfillment/1001",
            "status": "SUCCESS",
            "location": {"id": f"gid://shopify/Location/{SHOPIFY_LOCATION}"},
            "fulfillmentLineItems": {
                "nodes": [
                    {"quantity": 1, "lineItem": {"id": f"gid://shopify/LineItem/{LINE['B']}"}}
                ]
            },
        }
    ]
    record = map_graphql_order(node, lines)
    record.currency = "USD"
    channel_order_upsert(channel=network["channel"], record=record)
    order = Order.objects.get(external_id="450789469")

    # (The GraphQL twin carries no address: held for it, the units shipped are counted all
    # the same and nothing is routed.)
    assert _lines(order) == {"A": (0, 0), "B": (1, 0), "C": (0, 0)}
    assert order.status == "partially_shipped"
    assert "totals_mismatch" not in holds(order)
    assert order.total == order.channel_total


# --- later versions ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_fulfilment_added_in_shopifys_admin_later_is_recorded_once_and_the_rest_rerouted(
    network,
) -> None:
    """Captured to ship (all three allocated at Berlin, one pending shipment), then
    orders/updated lists a fulfilment of the red iPod made in Shopify's admin: the shipment is
    cancelled, the red iPod recorded shipped elsewhere (its reservation released), the other
    two routed again; later versions listing the same fulfilment change nothing."""
    _stock(network)
    channel = network["channel"]
    placed = _placed()
    channel_order_upsert(channel=channel, record=map_rest_order(placed))
    order = Order.objects.get(external_id="450789469")
    assert _lines(order) == {"A": (0, 1), "B": (0, 1), "C": (0, 1)}
    first = Shipment.objects.get(order=order)

    partial = _version(placed, "2008-01-10T12:00:00-05:00", [_fulfillment(1001, {"B": 1})])
    assert channel_order_upsert(channel=channel, record=map_rest_order(partial)) == "updated"
    order.refresh_from_db()

    first.refresh_from_db()
    assert first.status == "cancelled"
    assert _lines(order) == {"A": (0, 1), "B": (1, 0), "C": (0, 1)}
    assert order.status == "partially_shipped"
    (live,) = Shipment.objects.filter(order=order).exclude(status="cancelled")
    assert sorted(live.lines.values_list("order_line__sku_code", flat=True)) == ["A", "C"]
    assert _levels() == [("A", 5, 1), ("B", 5, 0), ("C", 5, 1)]  # "none": no stock taken

    for moment in ("2008-01-10T12:05:00-05:00", "2008-01-10T12:10:00-05:00"):
        again = _version(partial, moment, partial["fulfillments"])
        again["note"] = moment
        channel_order_upsert(channel=channel, record=map_rest_order(again))
    order.refresh_from_db()
    assert _lines(order) == {"A": (0, 1), "B": (1, 0), "C": (0, 1)}
    assert order.events.filter(kind="fulfilled_by_channel").count() == 1
    assert Shipment.objects.filter(order=order).exclude(status="cancelled").count() == 1


def _stock_short_of_c(network) -> None:
    channel = network["channel"]
    channel.location_map = {str(SHOPIFY_LOCATION): "BER"}
    channel.save()
    for sku, units in (("A", 5), ("B", 5), ("C", 1)):
        put(network, "BER", sku, units)


@pytest.mark.django_db
def test_our_own_fulfilment_reported_back_is_never_taken_for_the_merchants(network) -> None:
    """Two black iPods, one in stock: we ship what we have and push our tracking; the second
    black one stays ours to ship. Shopify's orders/updated lists the fulfilment our push
    created: first before the push's answer is stored (its id unknown here), then with its id
    kept by the push. Neither is taken for the merchant's: the open black iPod stays open.
    Then the merchant fulfils it in Shopify's admin: that unit, and only it, is recorded."""
    _stock_short_of_c(network)
    channel = network["channel"]
    placed = _placed(c_units=2)
    channel_order_upsert(channel=channel, record=map_rest_order(placed))
    order = Order.objects.get(external_id="450789469")
    _shipped_by_us(order)
    order.refresh_from_db()
    assert (order.status, _lines(order)) == (
        "partially_shipped",
        {"A": (1, 0), "B": (1, 0), "C": (1, 0)},
    )

    ours = _fulfillment(2001, {"A": 1, "B": 1, "C": 1})
    unknown = _version(placed, "2008-01-10T12:00:00-05:00", [ours])
    assert channel_order_upsert(channel=channel, record=map_rest_order(unknown)) == "unchanged"
    (shipment,) = Shipment.objects.filter(order=order)
    ChannelPush.objects.create(
        channel=channel,
        kind="fulfilment",
        reference=f"shipment-{shipment.pk}",
        order=order,
        status="succeeded",
        external_id="2001",
        detail={"fulfillment_ids": ["gid://shopify/Fulfillment/2001"]},
    )
    known = _version(unknown, "2008-01-10T12:05:00-05:00", [ours])
    known["note"] = "later"
    channel_order_upsert(channel=channel, record=map_rest_order(known))
    order.refresh_from_db()
    assert not order.events.filter(kind="fulfilled_by_channel").exists()
    assert _lines(order) == {"A": (1, 0), "B": (1, 0), "C": (1, 0)}
    assert order.lines.get(sku_code="C").quantity_open == 1

    merchants = _version(known, "2008-01-10T12:10:00-05:00", [ours, _fulfillment(1001, {"C": 1})])
    channel_order_upsert(channel=channel, record=map_rest_order(merchants))
    order.refresh_from_db()
    assert _lines(order) == {"A": (1, 0), "B": (1, 0), "C": (2, 0)}
    assert order.status == "shipped"
    (event,) = order.events.filter(kind="fulfilled_by_channel")
    assert [item["quantity"] for item in event.data["lines"]] == [1]


@pytest.mark.django_db
def test_ours_and_the_merchants_on_one_line_count_only_the_merchants(network) -> None:
    """Two black iPods, one in stock: we shipped what we had (our fulfilment 2001, its id
    kept), the merchant the other black one from Shopify's admin (1001). Only the merchant's
    unit is recorded shipped elsewhere; nothing is shipped twice, the backorder ends."""
    _stock_short_of_c(network)
    channel = network["channel"]
    placed = _placed(c_units=2)
    channel_order_upsert(channel=channel, record=map_rest_order(placed))
    order = Order.objects.get(external_id="450789469")
    assert _lines(order) == {"A": (0, 1), "B": (0, 1), "C": (0, 1)}
    _shipped_by_us(order)
    (shipment,) = Shipment.objects.filter(order=order)
    ChannelPush.objects.create(
        channel=channel,
        kind="fulfilment",
        reference=f"shipment-{shipment.pk}",
        order=order,
        status="succeeded",
        external_id="2001",
        detail={"fulfillment_ids": ["gid://shopify/Fulfillment/2001"]},
    )
    order.refresh_from_db()
    assert _lines(order) == {"A": (1, 0), "B": (1, 0), "C": (1, 0)}

    both = _version(
        placed,
        "2008-01-10T12:00:00-05:00",
        [_fulfillment(2001, {"A": 1, "B": 1, "C": 1}), _fulfillment(1001, {"C": 1})],
    )
    both["fulfillment_status"] = "fulfilled"  # every unit fulfilled on Shopify now
    channel_order_upsert(channel=channel, record=map_rest_order(both))
    order.refresh_from_db()

    assert _lines(order) == {"A": (1, 0), "B": (1, 0), "C": (2, 0)}
    assert order.status == "shipped"
    (event,) = order.events.filter(kind="fulfilled_by_channel")
    assert [item["quantity"] for item in event.data["lines"]] == [1]
    assert not Shipment.objects.filter(order=order, status="pending").exists()


@pytest.mark.django_db
def test_a_redelivered_webhook_records_the_merchants_fulfilment_once(client, network) -> None:
    """orders/create as placed, then orders/updated with a fulfilment made in Shopify's admin,
    posted signed twice (Shopify retries with the same X-Shopify-Webhook-Id, and may send the
    same body again under another one): recorded once."""
    import base64
    import hashlib
    import hmac

    from channels.services import channel_set_credentials
    from oms.inbox import inbox_process
    from oms.models import InboundWebhook

    channel = network["channel"]
    channel_set_credentials(
        channel=channel,
        credentials={"shop": "example.myshopify.com", "access_token": "t", "webhook_secret": "s"},
    )
    _stock(network)
    placed = _placed()

    def deliver(body: dict[str, Any], topic: str, delivery: str) -> None:
        raw = json.dumps(body).encode()
        signature = base64.b64encode(hmac.new(b"s", raw, hashlib.sha256).digest()).decode()
        response = client.post(
            f"/webhooks/channels/{channel.code}/",
            raw,
            content_type="application/json",
            HTTP_X_SHOPIFY_HMAC_SHA256=signature,
            HTTP_X_SHOPIFY_TOPIC=topic,
            HTTP_X_SHOPIFY_WEBHOOK_ID=delivery,
        )
        assert response.status_code == 200
        for inbound in InboundWebhook.objects.filter(delivery_id=delivery):
            inbox_process(inbox_id=inbound.pk)

    deliver(placed, "orders/create", "d-1")
    partial = _version(placed, "2008-01-10T12:00:00-05:00", [_fulfillment(1001, {"A": 1})])
    deliver(partial, "orders/updated", "d-2")
    deliver(partial, "orders/updated", "d-2")
    deliver(partial, "orders/updated", "d-3")
    order = Order.objects.get(external_id="450789469")

    assert _lines(order) == {"A": (1, 0), "B": (0, 1), "C": (0, 1)}
    assert order.events.filter(kind="fulfilled_by_channel").count() == 1
    assert holds(order) == set()
