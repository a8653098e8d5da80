"""WooCommerceAdapter against a local fake store (pytest-httpserver) with documented payloads."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from channels.adapters import adapter_class
from channels.adapters.base import (
    AdapterContext,
    CancelPush,
    FulfilmentLine,
    FulfilmentPush,
    NotSupported,
    RateLimited,
    RateLimiter,
    RefundPush,
    SignatureInvalid,
    StockItem,
    WebhookDelivery,
)
from channels.adapters.woocommerce import WooCommerceAdapter
from oms.errors import PermanentError, TransientError
from oms.money import unit_and_discount
from tests.channels.adapters import woo_payloads as woo
from tests.conftest import cache_clear

API = "/wp-json/wc/v3"
SECRET = "whsec-woo-test"
SINCE = dt.datetime(2025, 3, 22, 15, 0, tzinfo=dt.UTC)


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"the adapter tried to sleep {seconds}s")


@pytest.fixture(autouse=True)
def _fresh_limits() -> Iterator[None]:
    cache_clear()  # a 429 of one test must not block the next one
    yield
    cache_clear()


def make_adapter(httpserver: HTTPServer, **credentials: Any) -> WooCommerceAdapter:
    creds = {
        "base_url": httpserver.url_for(""),
        "consumer_key": "ck_test",
        "consumer_secret": "cs_test",
        "webhook_secret": SECRET,
        **credentials,
    }
    context = AdapterContext(channel_code="woo-eu", currency="EUR", credentials=creds)
    adapter = WooCommerceAdapter(context, limiter=RateLimiter(max_wait=0, sleep=_no_sleep))
    adapter.http.limits = {}  # no per-second budget in tests: only 429 blocks
    return adapter


@pytest.fixture
def adapter(httpserver: HTTPServer) -> WooCommerceAdapter:
    return make_adapter(httpserver)


def sent_json(httpserver: HTTPServer, index: int = -1) -> Any:
    request, _ = httpserver.log[index]
    return json.loads(request.get_data())


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def canonical_total(order: Any) -> Decimal:
    """What orders.services.order_capture computes from the canonical lines."""
    total = Decimal(order.shipping_price)
    for line in order.lines:
        total += line["unit_price"] * line["quantity"] - line["discount"]
        if not order.prices_include_tax:
            total += line["tax"]
    return total


# --- wiring and credentials --------------------------------------------------------------------


def test_adapter_is_registered_for_the_woocommerce_kind() -> None:
    assert adapter_class("woocommerce") is WooCommerceAdapter
    assert WooCommerceAdapter.vendor == "woocommerce"


def test_keys_are_never_sent_over_plain_http_to_a_remote_store() -> None:
    context = AdapterContext(
        channel_code="woo",
        currency="EUR",
        credentials={
            "base_url": "http://shop.example",
            "consumer_key": "k",
            "consumer_secret": "s",
        },
    )
    with pytest.raises(PermanentError, match="HTTPS"):
        WooCommerceAdapter(context)


def test_missing_keys_are_a_permanent_error(httpserver: HTTPServer) -> None:
    with pytest.raises(PermanentError, match="consumer_key"):
        make_adapter(httpserver, consumer_key="")


# --- pulling orders ----------------------------------------------------------------------------


def test_orders_page_sends_the_since_filter_and_basic_auth(
    httpserver: HTTPServer, adapter: WooCommerceAdapter
) -> None:
    httpserver.expect_request(f"{API}/orders", method="GET").respond_with_json(
        [woo.order()], headers={"X-WP-TotalPages": "3", "X-WP-Total": "250"}
    )
    page = adapter.orders_page(since=SINCE, page=None)

    request, _ = httpserver.log[0]
    assert request.args.to_dict() == {
        "modified_after": "2025-03-22T15:00:00",
        "dates_are_gmt": "true",
        "orderby": "modified",
        "order": "asc",
        "per_page": "100",
        "page": "1",
    }
    expected = base64.b64encode(b"ck_test:cs_test").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert page.next_page == "2"
    assert len(page.orders) == 1
    assert page.failures == []


def test_a_since_in_another_zone_is_sent_as_gmt(
    httpserver: HTTPServer, adapter: WooCommerceAdapter
) -> None:
    httpserver.expect_request(f"{API}/orders").respond_with_json(
        [], headers={"X-WP-TotalPages": "0"}
    )
    paris = dt.timezone(dt.timedelta(hours=2))
    page = adapter.orders_page(since=dt.datetime(2025, 6, 1, 12, 30, tzinfo=paris), page=None)
    assert httpserver.log[0][0].args["modified_after"] == "2025-06-01T10:30:00"
    assert page.orders == []
    assert page.next_page is None


def test_pages_follow_x_wp_totalpages(httpserver: HTTPServer, adapter: WooCommerceAdapter) -> None:
    headers = {"X-WP-TotalPages": "2", "X-WP-Total": "101"}
    httpserver.expect_oneshot_request(f"{API}/orders").respond_with_json(
        [woo.order(id=1, number="1")], headers=headers
    )
    httpserver.expect_oneshot_request(f"{API}/orders").respond_with_json(
        [woo.order(id=2, number="2")], headers=headers
    )

    first = adapter.orders_page(since=SINCE, page=None)
    second = adapter.orders_page(since=SINCE, page=first.next_page)

    assert first.next_page == "2"
    assert [o.external_id for o in first.orders] == ["1"]
    assert second.next_page is None
    assert [o.external_id for o in second.orders] == ["2"]
    assert [r.args["page"] for r, _ in httpserver.log] == ["1", "2"]


def test_order_maps_to_the_canonical_record(
    httpserver: HTTPServer, adapter: WooCommerceAdapter
) -> None:
    httpserver.expect_request(f"{API}/orders").respond_with_json(
        [woo.order()], headers={"X-WP-TotalPages": "1"}
    )
    order = adapter.orders_page(since=SINCE, page=None).orders[0]

    assert order.external_id == "727"
    assert order.external_number == "727"
    assert order.currency == "EUR"
    assert order.payment_status == "paid"
    assert order.cancelled is False
    assert order.fulfilled_by == ""
    assert order.updated_at == dt.datetime(2025, 3, 22, 15, 30, tzinfo=dt.UTC)
    assert order.placed_at == dt.datetime(2025, 3, 22, 15, 28, 2, tzinfo=dt.UTC)
    assert order.customer == {
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+44 20 7946 0000",
    }
    assert order.shipping_address == {
        "name": "Ada Lovelace",
        "line1": "12 Analytical Row",
        "line2": "Flat 3",
        "city": "London",
        "postal_code": "SW1A 1AA",
        "country": "GB",
        "phone": "+44 20 7946 0000",
    }
    assert order.billing_address["name"] == "Ada Lovelace"
    assert order.notes == "Leave with the neighbour"
    assert order.lines == [
        {
            "sku": "SHIRT-BLUE-M",
            "quantity": 2,
            "name": "Linen shirt - Blue",
            "external_line_id": "315",
            "unit_price": Decimal("20.00"),
            "discount": Decimal("4.00"),
            "tax": Decimal("7.20"),
        },
        {
            "sku": "MUG-1",
            "quantity": 1,
            "name": "Enamel mug",
            "external_line_id": "316",
            "unit_price": Decimal("10.00"),
            "discount": Decimal("0.00"),
            "tax": Decimal("2.00"),
        },
    ]
    # Shipping tax goes with the shipping price: the canonical record has no field for it.
    assert order.shipping_price == Decimal("6.00")
    assert order.total == Decimal("61.20")
    assert canonical_total(order) == order.total
    assert order.raw["order_key"] == "wc_order_58d2d042d1d"


def test_prices_with_tax_keep_the_capture_total_equal_to_woo_total(
    httpserver: HTTPServer, adapter: WooCommerceAdapter
) -> None:
    httpserver.expect_request(f"{API}/orders").respond_with_json(
        [woo.order(prices_include_tax=True)], headers={"X-WP-TotalPages": "1"}
    )
    order = adapter.orders_page(since=SINCE, page=None).orders[0]

    assert order.prices_include_tax is True
    shirt = order.lines[0]
    assert (shirt["unit_price"], shirt["discount"], shirt["tax"]) == (
        Decimal("24.00"),
        Decimal("4.80"),
        Decimal("7.20"),
    )
    assert canonical_total(order) == Decimal("61.20") == order.total


def test_jpy_amounts_have_no_decimals(httpserver: HTTPServer, adapter: WooCommerceAdapter) -> None:
    jpy = woo.order(
        currency="JPY",
        shipping_total="500",
        shipping_tax="0",
        total="3500",
        line_items=[
            woo.line_item(
                quantity=3, subtotal="3000", subtotal_tax="0", total="3000", total_tax="0"
            )
        ],
    )
    httpserver.expect_request(f"{API}/orders").respond_with_json(
        [jpy], headers={"X-WP-TotalPages": "1"}
    )
    order = adapter.orders_page(since=SINCE, page=None).orders[0]
    assert order.currency == "JPY"
    assert order.lines[0]["unit_price"] == Decimal("1000")
    assert order.lines[0]["unit_price"].as_tuple().exponent == 0
    assert canonical_total(order) == Decimal("3500") == order.total


def test_an_uneven_unit_price_is_rounded_up_and_the_discount_keeps_the_line_exact() -> None:
    unit, discount = unit_and_discount(Decimal("10.00"), Decimal("10.00"), 3, 2)
    assert (unit, discount) == (Decimal("3.34"), Decimal("0.02"))
    assert unit * 3 - discount == Decimal("10.00")
    # a net above the gross (a plugin's surcharge) never gives a negative discount
    assert unit_and_discount(Decimal("5"), Decimal("6"), 1, 2) == (Decimal("6.00"), Decimal("0"))


@pytest.mark.parametrize(
    ("status", "payment", "cancelled"),
    [
        ("pending", "pending", False),
        ("on-hold", "pending", False),
        ("processing", "paid", False),
        ("completed", "paid", False),
        ("refunded", "refunded", False),
        ("cancelled", "voided", True),
        ("failed", "voided", True),
    ],
)
def test_status_maps_to_payment_and_cancellation(
    httpserver: HTTPServer,
    adapter: WooCommerceAdapter,
    status: str,
    payment: str,
    cancelled: bool,
) -> None:
    httpserver.expect_request(f"{API}/orders").respond_with_json(
        [woo.order(status=status)], headers={"X-WP-TotalPages": "1"}
    )
    order = adapter.orders_page(since=SINCE, page=None).orders[0]
    assert (order.payment_status, order.cancelled) == (payment, cancelled)


def test_a_bad_record_is_a_failure_and_the_others_still_map(
    httpserver: HTTPServer, adapter: WooCommerceAdapter
) -> None:
    # Without a SKU a line is kept by its name; with neither it cannot be read.
    no_sku = woo.order(id=801, line_items=[woo.line_item(sku="", name="")])
    bad_amount = woo.order(id=802, line_items=[woo.line_item(total="lots")])
    custom_status = woo.order(id=803, status="awaiting-shipment")
    draft = woo.order(id=804, status="checkout-draft")
    httpserver.expect_request(f"{API}/orders").respond_with_json(
        [no_sku, "garbage", woo.order(id=800), bad_amount, custom_status, draft],
        headers={"X-WP-TotalPages": "1"},
    )
    page = adapter.orders_page(since=SINCE, page=None)

    assert [o.external_id for o in page.orders] == ["800"]
    reasons = {f.external_id: f.reason for f in page.failures}
    assert "neither a SKU nor a name" in reasons["801"]
    assert "'lots' is not an amount" in reasons["802"]
    assert "awaiting-shipment" in reasons["803"]
    assert "not a JSON object" in reasons[""]
    assert "804" not in reasons  # a cart in progress is not an order yet
    assert next(f for f in page.failures if f.external_id == "801").raw["id"] == 801


def test_a_decimal_quantity_is_a_failure(
    httpserver: HTTPServer, adapter: WooCommerceAdapter
) -> None:
    httpserver.expect_request(f"{API}/orders").respond_with_json(
        [woo.order(line_items=[woo.line_item(quantity=1.5)])], headers={"X-WP-TotalPages": "1"}
    )
    page = adapter.orders_page(since=SINCE, page=None)
    assert page.orders == []
    assert "positive whole number" in page.failures[0].reason


def test_429_raises_rate_limited_and_blocks_the_next_call(
    httpserver: HTTPServer, adapter: WooCommerceAdapter
) -> None:
    httpserver.expect_request(f"{API}/orders").respond_with_json(
        {"code": "too_many_requests"}, status=429, headers={"Retry-After": "30"}
    )
    with pytest.raises(RateLimited) as caught:
        adapter.orders_page(since=SINCE, page=None)
    assert caught.value.retry_after == 30
    with pytest.raises(RateLimited):
        adapter.orders_page(since=SINCE, page=None)
    assert len(httpserver.log) == 1  # the second call never left


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient(httpserver: HTTPServer, adapter: WooCommerceAdapter, status: int) -> None:
    httpserver.expect_request(f"{API}/orders").respond_with_data("down", status=status)
    with pytest.raises(TransientError):
        adapter.orders_page(since=SINCE, page=None)


def test_401_is_permanent(httpserver: HTTPServer, adapter: WooCommerceAdapter) -> None:
    httpserver.expect_request(f"{API}/orders").respond_with_json(woo.ERROR_401, status=401)
    with pytest.raises(PermanentError, match="401") as caught:
        adapter.orders_page(since=SINCE, page=None)
    assert not isinstance(caught.value, TransientError)


@pytest.mark.parametrize(
    "body",
    ["<html>Maintenance</html>", json.dumps({"orders": []}), json.dumps("nope")],
)
def test_an_answer_that_is_not_a_list_of_orders_is_permanent(
    httpserver: HTTPServer, adapter: WooCommerceAdapter, body: str
) -> None:
    httpserver.expect_request(f"{API}/orders").respond_with_data(
        body, content_type="application/json"
    )
    with pytest.raises(PermanentError):
        adapter.orders_page(since=SINCE, page=None)


def test_a_page_token_that_is_not_a_number_is_permanent(adapter: WooCommerceAdapter) -> None:
    with pytest.raises(PermanentError, match="page token"):
        adapter.orders_page(since=SINCE, page="abc")


# --- webhooks ----------------------------------------------------------------------------------


def webhook_headers(body: bytes, topic: str = "order.updated", **extra: str) -> dict[str, str]:
    return {
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[-1],
        "X-WC-Webhook-Signature": sign(body),
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": "d41d8cd98f00b204e9800998ecf8427e",
        **extra,
    }


def test_a_signed_order_webhook_is_verified_and_mapped(adapter: WooCommerceAdapter) -> None:
    body = json.dumps(woo.order(status="completed")).encode()
    delivery = adapter.webhook_verify(
        headers=webhook_headers(body), body=body, url="https://oms.example/hooks/woo"
    )
    assert delivery.delivery_id == "d41d8cd98f00b204e9800998ecf8427e"
    assert delivery.topic == "order.updated"
    assert delivery.payload["id"] == 727

    page = adapter.webhook_orders(delivery)
    assert [o.external_id for o in page.orders] == ["727"]
    assert page.orders[0].payment_status == "paid"


def test_header_names_are_matched_whatever_their_case(adapter: WooCommerceAdapter) -> None:
    body = json.dumps(woo.order()).encode()
    headers = {k.lower(): v for k, v in webhook_headers(body, "order.created").items()}
    delivery = adapter.webhook_verify(headers=headers, body=body, url="")
    assert (delivery.topic, len(adapter.webhook_orders(delivery).orders)) == ("order.created", 1)


@pytest.mark.parametrize(
    "signature",
    ["", "not-base64", sign(b"another body"), sign(b'{"id": 727}', secret="other-secret")],
)
def test_a_bad_signature_is_refused(adapter: WooCommerceAdapter, signature: str) -> None:
    body = b'{"id": 727}'
    headers = webhook_headers(body, **{"X-WC-Webhook-Signature": signature})
    with pytest.raises(SignatureInvalid):
        adapter.webhook_verify(headers=headers, body=body, url="")


def test_a_tampered_body_is_refused(adapter: WooCommerceAdapter) -> None:
    body = json.dumps(woo.order()).encode()
    headers = webhook_headers(body)
    with pytest.raises(SignatureInvalid):
        adapter.webhook_verify(headers=headers, body=body.replace(b"61.20", b"1.20"), url="")


def test_the_unsigned_ping_is_refused(adapter: WooCommerceAdapter) -> None:
    body = b"webhook_id=12"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    with pytest.raises(SignatureInvalid):
        adapter.webhook_verify(headers=headers, body=body, url="")


def test_a_signed_ping_is_accepted_and_carries_no_order(adapter: WooCommerceAdapter) -> None:
    body = b"webhook_id=12\n"
    delivery = adapter.webhook_verify(
        headers={"X-WC-Webhook-Signature": sign(body)}, body=body, url=""
    )
    assert (delivery.topic, delivery.delivery_id, delivery.payload) == (
        "ping",
        "ping-12",
        {"webhook_id": "12"},
    )
    assert adapter.webhook_orders(delivery).orders == []


def test_without_a_secret_every_webhook_is_refused(httpserver: HTTPServer) -> None:
    adapter = make_adapter(httpserver, webhook_secret="")
    body = b"{}"
    with pytest.raises(SignatureInvalid, match="no webhook secret"):
        adapter.webhook_verify(headers=webhook_headers(body), body=body, url="")


def test_other_topics_give_an_empty_page(adapter: WooCommerceAdapter) -> None:
    delivery = WebhookDelivery("d1", "product.updated", woo.product())
    assert adapter.webhook_orders(delivery).orders == []
    assert adapter.webhook_orders(delivery).failures == []


def test_an_unreadable_webhook_order_is_a_failure(adapter: WooCommerceAdapter) -> None:
    delivery = WebhookDelivery("d2", "order.created", woo.order(line_items=[]))
    page = adapter.webhook_orders(delivery)
    assert page.orders == []
    assert page.failures[0].external_id == "727"


# --- stock -------------------------------------------------------------------------------------


def test_stock_goes_in_batches_of_100(httpserver: HTTPServer, adapter: WooCommerceAdapter) -> None:
    def answer(request: Any) -> Any:
        from werkzeug import Response

        updates = json.loads(request.get_data())["update"]
        body = {
            "update": [woo.product(id=u["id"], stock_quantity=u["stock_quantity"]) for u in updates]
        }
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request(f"{API}/products/batch", method="POST").respond_with_handler(answer)
    items = [StockItem(sku=f"SKU-{n}", quantity=n, external_id=str(1000 + n)) for n in range(150)]
    items[0] = StockItem(sku="SKU-0", quantity=-4, external_id="1000")

    results = adapter.stock_push(items)

    assert [len(sent_json(httpserver, i)["update"]) for i in range(2)] == [100, 50]
    assert sent_json(httpserver, 0)["update"][:2] == [
        {"id": 1000, "stock_quantity": 0, "manage_stock": True},  # never negative
        {"id": 1001, "stock_quantity": 1, "manage_stock": True},
    ]
    assert sent_json(httpserver, 1)["update"][-1] == {
        "id": 1149,
        "stock_quantity": 149,
        "manage_stock": True,
    }
    assert all(r.ok for r in results)
    assert [r.sku for r in results] == [i.sku for i in items]


def test_stock_item_errors_of_the_batch_answer_are_failed_results(
    httpserver: HTTPServer, adapter: WooCommerceAdapter
) -> None:
    httpserver.expect_request(f"{API}/products/batch", method="POST").respond_with_json(
        {"update": [woo.product(id=93), woo.batch_error(94)]}
    )
    results = adapter.stock_push(
        [
            StockItem("A", 5, external_id="93"),
            StockItem("B", 6, external_id="94"),
            StockItem("C", 7, external_id="95"),
            StockItem("D", 8, external_id="abc"),
        ]
    )
    assert [(r.sku, r.ok) for r in results] == [
        ("A", True),
        ("B", False),
        ("C", False),
        ("D", False),
    ]
    assert results[1].error == "woocommerce_rest_product_invalid_id: Invalid ID."
    assert "missing" in results[2].error
    assert "not <id>" in results[3].error
    assert [u["id"] for u in sent_json(httpserver)["update"]] == [93, 94, 95]


def test_variations_go_to_their_parent_batch(
    httpserver: HTTPServer, adapter: WooCommerceAdapter
) -> None:
    httpserver.expect_request(
        f"{API}/products/50/variations/batch", method="POST"
    ).respond_with_json({"update": [woo.product(id=51, parent_id=50, type="variation")]})
    results = adapter.stock_push([StockItem("SHIRT-RED-S", 9, external_id="50/51")])
    assert results[0].ok
    assert sent_json(httpserver) == {
        "update": [{"id": 51, "stock_quantity": 9, "manage_stock": True}]
    }


def test_items_without_an_id_are_looked_up_by_sku(
    httpserver: HTTPServer, adapter: WooCommerceAdapter
) -> None:
    httpserver.expect_request(f"{API}/products", method="GET").respond_with_json(
        [
            woo.product(id=93, sku="SHIRT-BLUE-M"),
            woo.product(id=60, sku="HOODIE", type="variable", variations=[61, 62]),
        ]
    )
    httpserver.expect_request(f"{API}/products/batch", method="POST").respond_with_json(
        {"update": [woo.product(id=93, stock_quantity=4)]}
    )
    results = adapter.stock_push(
        [
            StockItem("SHIRT-BLUE-M", 4),
            StockItem("HOODIE", 2),
            StockItem("GHOST", 1),
            StockItem("A,B", 1),
        ]
    )
    lookup, _ = httpserver.log[0]
    assert lookup.args["sku"] == "SHIRT-BLUE-M,HOODIE,GHOST"
    assert sent_json(httpserver) == {
        "update": [{"id": 93, "stock_quantity": 4, "manage_stock": True}]
    }
    assert [r.ok for r in results] == [True, False, False, False]
    assert "variable product" in results[1].error
    assert "no WooCommerce product" in results[2].error
    assert "comma" in results[3].error


# --- fulfilment, cancel, refund ----------------------------------------------------------------


def push(**overrides: Any) -> FulfilmentPush:
    values: dict[str, Any] = {
        "order_external_id": "727",
        "reference": "SH-1001",
        "lines": [FulfilmentLine("315", "SHIRT-BLUE-M", 2)],
        "carrier": "DHL",
        "service": "Paket",
        "tracking_number": "00340434161094042557",
        "tracking_url": "https://www.dhl.de/track?n=00340434161094042557",
        "shipped_at": dt.datetime(2025, 3, 23, 9, 0, tzinfo=dt.UTC),
    }
    values.update(overrides)
    return FulfilmentPush(**values)


def test_fulfilment_adds_a_customer_note_and_completes_the_order(
    httpserver: HTTPServer, adapter: WooCommerceAdapter
) -> None:
    notes = f"{API}/orders/727/notes"
    httpserver.expect_request(notes, method="GET").respond_with_json([woo.order_note()])
    httpserver.expect_request(notes, method="POST").respond_with_json(
        woo.order_note(id=290, customer_note=True), status=201
    )
    httpserver.expect_request(f"{API}/orders/727", method="PUT").respond_with_json(
        woo.order(status="completed")
    )
    result = adapter.fulfilment_push(push())

    methods = [(r.method, r.path) for r, _ in httpserver.log]
    assert methods == [("GET", notes), ("POST", notes), ("PUT", f"{API}/orders/727")]
    assert httpserver.log[0][0].args["type"] == "customer"
    assert sent_json(httpserver, 1) == {
        "note": "Shipped with DHL: 00340434161094042557 "
        "https://www.dhl.de/track?n=00340434161094042557",
        "customer_note": True,
    }
    assert sent_json(httpserver, 2) == {"status": "completed"}
    assert result.external_id == "290"
    assert result.detail["status"] == "completed"


def test_a_retried_fulfilment_does_not_add_the_note_twice(
    httpserver: HTTPServer, adapter: WooCommerceAdapter
) -> None:
    earlier = woo.order_note(
        id=290, customer_note=True, note="Shipped with DHL: 00340434161094042557"
    )
    httpserver.expect_request(f"{API}/orders/727/notes", method="GET").respond_with_json([earlier])
    httpserver.expect_request(f"{API}/orders/727", method="PUT").respond_with_json(
        woo.order(status="completed")
    )
    result = adapter.fulfilment_push(push())
    assert [r.method for r, _ in httpserver.log] == ["GET", "PUT"]
    assert result.external_id == "290"


def test_fulfilment_of_an_unknown_order_is_permanent(
    httpserver: HTTPServer, adapter: WooCommerceAdapter
) -> None:
    httpserver.expect_request(f"{API}/orders/999/notes").respond_with_json(
        {"code": "woocommerce_rest_order_invalid_id", "message": "Invalid order ID."}, status=404
    )
    with pytest.raises(PermanentError, match="404"):
        adapter.fulfilment_push(push(order_external_id="999"))


def test_cancel_sets_the_status(httpserver: HTTPServer, adapter: WooCommerceAdapter) -> None:
    httpserver.expect_request(f"{API}/orders/727", method="PUT").respond_with_json(
        woo.order(status="cancelled")
    )
    result = adapter.cancel_push(CancelPush("727", "CX-1", "customer asked"))
    assert sent_json(httpserver) == {"status": "cancelled"}
    assert (result.external_id, result.detail) == ("727", {"status": "cancelled"})


def test_cancelling_lines_is_not_supported(adapter: WooCommerceAdapter) -> None:
    with pytest.raises(NotSupported):
        adapter.cancel_push(CancelPush("727", "CX-2", "", lines=[FulfilmentLine("315", "S", 1)]))


@pytest.mark.parametrize(
    ("currency", "amount", "sent"),
    [("EUR", Decimal("12.5"), "12.50"), ("JPY", Decimal("1500"), "1500")],
)
def test_refund_records_the_amount_and_our_reference(
    httpserver: HTTPServer,
    adapter: WooCommerceAdapter,
    currency: str,
    amount: Decimal,
    sent: str,
) -> None:
    refunds = f"{API}/orders/727/refunds"
    httpserver.expect_request(refunds, method="GET").respond_with_json(
        [woo.refund(id=700, reason="Goodwill (ref RF-0)")]
    )
    httpserver.expect_request(refunds, method="POST").respond_with_json(
        woo.refund(id=726, amount=sent, reason="Damaged in transit (ref RF-1)"), status=201
    )
    result = adapter.refund_push(RefundPush("727", "RF-1", amount, currency, "Damaged in transit"))
    assert sent_json(httpserver) == {
        "amount": sent,
        "reason": "Damaged in transit (ref RF-1)",
        "api_refund": False,
    }
    assert result.external_id == "726"


def test_a_refund_the_channel_pays_back_goes_through_the_gateway(
    httpserver: HTTPServer, adapter: WooCommerceAdapter
) -> None:
    """payment_provider "channel": WooCommerce's gateway moves the money (api_refund)."""
    refunds = f"{API}/orders/727/refunds"
    httpserver.expect_request(refunds, method="GET").respond_with_json([])
    httpserver.expect_request(refunds, method="POST").respond_with_json(
        woo.refund(id=727, amount="12.50", reason="Late (ref RF-3)"), status=201
    )
    push = RefundPush("727", "RF-3", Decimal("12.50"), "EUR", "Late", move_money=True)
    assert adapter.refund_push(push).external_id == "727"
    assert sent_json(httpserver)["api_refund"] is True


def test_a_retried_refund_returns_the_first_one(
    httpserver: HTTPServer, adapter: WooCommerceAdapter
) -> None:
    httpserver.expect_request(f"{API}/orders/727/refunds", method="GET").respond_with_json(
        [woo.refund(id=726, reason="Damaged in transit (ref RF-1)")]
    )
    result = adapter.refund_push(
        RefundPush("727", "RF-1", Decimal("12.50"), "EUR", "Damaged in transit")
    )
    assert result.external_id == "726"
    assert [r.method for r, _ in httpserver.log] == ["GET"]


def test_a_refund_of_nothing_is_refused_before_any_call(
    httpserver: HTTPServer, adapter: WooCommerceAdapter
) -> None:
    with pytest.raises(PermanentError, match="not positive"):
        adapter.refund_push(RefundPush("727", "RF-2", Decimal("0"), "EUR", ""))
    assert httpserver.log == []
