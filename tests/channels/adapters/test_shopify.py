"""The Shopify adapter against a fake Shopify (pytest-httpserver answering the documented
payloads of tests/channels/adapters/shopify_payloads.py), and the fake store of the demo."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from channels.adapters import adapter_class
from channels.adapters.base import (
    AdapterContext,
    CancelPush,
    FulfilmentLine,
    FulfilmentPush,
    RateLimited,
    RateLimiter,
    RefundPush,
    SignatureInvalid,
    StockItem,
    WebhookDelivery,
)
from channels.adapters.shopify import ShopifyAdapter
from channels.fakes.shopify import FakeShopifyStore, demo_store
from oms.errors import PermanentError, TransientError
from tests.channels.adapters import shopify_payloads as p
from tests.conftest import cache_clear

PATH = "/admin/api/2026-04/graphql.json"
TOKEN = "shpat_0123456789abcdef"
SECRET = "shpss_webhook_secret"
SINCE = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_limiter() -> Any:
    cache_clear()  # the limiter's blocks live in the cache
    yield
    cache_clear()


def make_adapter(base_url: str, **credentials: Any) -> ShopifyAdapter:
    creds = {
        "shop": "acme.myshopify.com",
        "access_token": TOKEN,
        "webhook_secret": SECRET,
        "location_id": "655441491",
        "base_url": base_url,
        **credentials,
    }
    context = AdapterContext(channel_code="shop-eu", currency="EUR", credentials=creds)
    return ShopifyAdapter(context, limiter=RateLimiter(max_wait=0, sleep=lambda _s: None))


@pytest.fixture
def adapter(httpserver: HTTPServer) -> ShopifyAdapter:
    return make_adapter(httpserver.url_for("/"))


def sent(httpserver: HTTPServer) -> list[dict[str, Any]]:
    """The GraphQL bodies the adapter sent, in order."""
    return [json.loads(request.get_data()) for request, _ in httpserver.log]


def respond(httpserver: HTTPServer, *answers: dict[str, Any]) -> None:
    """Answer the next requests with `answers`, one each, in order."""
    for answer in answers:
        httpserver.expect_ordered_request(PATH, method="POST").respond_with_json(answer)


# --- orders -----------------------------------------------------------------------------------


def test_orders_page_maps_presentment_amounts_and_sends_the_documented_query(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    respond(httpserver, p.orders_answer([p.ORDER_NODE], has_next=False, cursor="c1"))

    page = adapter.orders_page(since=SINCE, page=None)

    request, _ = httpserver.log[0]
    assert request.headers["X-Shopify-Access-Token"] == TOKEN
    body = json.loads(request.get_data())
    assert "sortKey: UPDATED_AT" in body["query"]
    assert "orders(first: $first, after: $after" in body["query"]
    assert body["variables"] == {
        "first": 15,
        "after": None,
        "query": "updated_at:>='2026-03-01T08:30:00Z'",
    }
    assert page.failures == []
    assert page.next_page is None
    (order,) = page.orders
    assert order.external_id == "450789469"  # the numeric id REST webhooks carry
    assert order.external_number == "#1001"
    assert order.placed_at == dt.datetime(2026, 3, 2, 9, 14, 5, tzinfo=dt.UTC)
    assert order.updated_at == dt.datetime(2026, 3, 2, 10, 2, 41, tzinfo=dt.UTC)
    assert order.currency == "EUR"
    assert order.total == Decimal("137.70")  # presentment, not the shop's 148.72 USD
    assert order.shipping_price == Decimal("4.95")
    assert order.payment_status == "paid"
    assert order.prices_include_tax is True
    assert order.cancelled is False
    assert order.notes == "Please ring twice."
    assert order.lines == [
        {
            "sku": "TRL-JKT-BLACK-M",
            "quantity": 2,
            "name": "Trail shell jacket - black / M",
            "external_line_id": "466157049",
            "unit_price": Decimal("59.90"),
            "discount": Decimal("12.00"),
            "tax": Decimal("17.21"),
        },
        {
            "sku": "WOL-SCK-GREY-M",
            "quantity": 1,
            "name": "Wool hiking socks - grey / M",
            "external_line_id": "518995019",
            "unit_price": Decimal("24.95"),
            "discount": Decimal("0.00"),
            "tax": Decimal("3.98"),
        },
    ]  # the gift card (no SKU, nothing to ship) is left out
    assert order.shipping_address == {
        "name": "Anna Schmidt",
        "line1": "Torstraße 12",
        "line2": "Hinterhaus",
        "city": "Berlin",
        "region": "BE",
        "postal_code": "10119",
        "country": "DE",
        "phone": "+49 30 1234567",
        "latitude": 52.529,
        "longitude": 13.401,
    }
    assert "line2" not in order.billing_address
    assert order.customer == {
        "email": "anna.schmidt@example.com",
        "first_name": "Anna",
        "last_name": "Schmidt",
        "phone": "+4930987654",
    }
    assert order.raw == p.ORDER_NODE
    kwargs = order.capture_kwargs()
    assert kwargs["external_id"] == "450789469"
    assert kwargs["raw_payload"] == p.ORDER_NODE


def test_pages_follow_the_cursor_and_keep_the_since_filter(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    def answer(request: Request) -> Response:
        variables = json.loads(request.get_data())["variables"]
        if variables["after"] is None:
            data = p.orders_answer(
                [p.order_node(1001), p.order_node(1002)], has_next=True, cursor="Y3Vyc29yMQ=="
            )
        elif variables["after"] == "Y3Vyc29yMQ==":
            data = p.orders_answer([p.order_node(1003)], has_next=False, cursor="Y3Vyc29yMg==")
        else:
            return Response("unknown cursor", status=400)
        return Response(json.dumps(data), content_type="application/json")

    httpserver.expect_request(PATH, method="POST").respond_with_handler(answer)
    adapter = make_adapter(httpserver.url_for("/"), page_size=2)

    first = adapter.orders_page(since=SINCE, page=None)
    second = adapter.orders_page(since=SINCE, page=first.next_page)

    assert [o.external_id for o in first.orders] == ["1001", "1002"]
    assert first.next_page == "Y3Vyc29yMQ=="
    assert [o.external_id for o in second.orders] == ["1003"]
    assert second.next_page is None
    bodies = sent(httpserver)
    assert [b["variables"]["after"] for b in bodies] == [None, "Y3Vyc29yMQ=="]
    assert {b["variables"]["first"] for b in bodies} == {2}
    assert {b["variables"]["query"] for b in bodies} == {"updated_at:>='2026-03-01T08:30:00Z'"}


def test_an_order_with_more_lines_than_the_page_holds_reads_the_rest(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    node = p.order_node(2001)
    node["lineItems"] = {
        "nodes": [p.LINE_JACKET],
        "pageInfo": {"hasNextPage": True, "endCursor": "bGluZTE="},
    }
    more = {
        "data": {
            "order": {
                "lineItems": {
                    "nodes": [p.LINE_SOCKS],
                    "pageInfo": {"hasNextPage": False, "endCursor": "bGluZTI="},
                }
            }
        }
    }
    respond(httpserver, p.orders_answer([node], has_next=False, cursor="x"), more)

    (order,) = adapter.orders_page(since=SINCE, page=None).orders

    assert [line["sku"] for line in order.lines] == ["TRL-JKT-BLACK-M", "WOL-SCK-GREY-M"]
    follow_up = sent(httpserver)[1]
    assert follow_up["variables"] == {"id": "gid://shopify/Order/2001", "after": "bGluZTE="}
    assert "lineItems(first: 100, after: $after)" in follow_up["query"]


def test_a_record_that_cannot_be_mapped_is_a_failure_and_the_others_continue(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    no_id = p.order_node(3001)
    del no_id["id"], no_id["legacyResourceId"]
    no_sku = p.order_node(3002)
    # Without a SKU a line is kept by its title (an unknown-SKU line); with neither, it is
    # unreadable.
    no_sku["lineItems"]["nodes"] = [{**p.LINE_JACKET, "sku": "", "name": ""}]
    bad_amount = p.order_node(3003)
    bad_amount["lineItems"]["nodes"] = [
        {**p.LINE_SOCKS, "originalUnitPriceSet": p.money("twelve", "13.00")}
    ]
    wrong_currency = p.order_node(3004)
    wrong_currency["totalPriceSet"] = {"presentmentMoney": {"amount": "1", "currencyCode": "GBP"}}
    respond(
        httpserver,
        p.orders_answer(
            [no_id, p.order_node(3005), no_sku, bad_amount, wrong_currency, "junk"],
            has_next=False,
            cursor="c",
        ),
    )

    page = adapter.orders_page(since=SINCE, page=None)

    assert [o.external_id for o in page.orders] == ["3005"]
    reasons = {f.external_id: f.reason for f in page.failures}
    assert reasons["3002"] == "line 466157049: neither a SKU nor a title."
    assert "twelve" in reasons["3003"]
    assert "GBP" in reasons["3004"]
    assert reasons[""] in ("no order id.", "order node: not an object.")
    assert len(page.failures) == 5
    assert next(f for f in page.failures if f.external_id == "3002").raw == no_sku


@pytest.mark.parametrize(
    ("status", "paid"),
    [
        ("PAID", "paid"),
        ("AUTHORIZED", "authorized"),
        ("PARTIALLY_REFUNDED", "partially_refunded"),
        ("REFUNDED", "refunded"),
        ("VOIDED", "voided"),
        ("PENDING", "pending"),
        ("PARTIALLY_PAID", "pending"),
        ("EXPIRED", "pending"),
    ],
)
def test_financial_status_maps_to_payment_status(
    httpserver: HTTPServer, adapter: ShopifyAdapter, status: str, paid: str
) -> None:
    node = p.order_node(4001, displayFinancialStatus=status)
    respond(httpserver, p.orders_answer([node], has_next=False, cursor="c"))

    (order,) = adapter.orders_page(since=SINCE, page=None).orders

    assert order.payment_status == paid


def test_a_cancelled_order_keeps_its_quantities_and_reason(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    node = p.order_node(
        4101,
        cancelledAt="2026-03-03T12:00:00Z",
        cancelReason="CUSTOMER",
        displayFinancialStatus="REFUNDED",
    )
    for line in node["lineItems"]["nodes"]:
        line["currentQuantity"] = 0  # restocked on cancellation
    respond(httpserver, p.orders_answer([node], has_next=False, cursor="c"))

    (order,) = adapter.orders_page(since=SINCE, page=None).orders

    assert order.cancelled is True
    assert order.cancel_reason == "customer"
    assert [line["quantity"] for line in order.lines] == [2, 1]
    assert order.payment_status == "refunded"


def test_a_429_with_retry_after_is_rate_limited_and_blocks_the_key(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_data(
        "Exceeded 2 calls per second for api client.", status=429, headers={"Retry-After": "7"}
    )

    with pytest.raises(RateLimited) as caught:
        adapter.orders_page(since=SINCE, page=None)

    assert caught.value.retry_after == 7
    assert adapter.http.limiter.blocked_for("shopify:acme.myshopify.com:graphql") > 6
    with pytest.raises(RateLimited):  # every caller now waits, without calling Shopify
        adapter.stock_push([StockItem(sku="A", quantity=1, external_id="1")])
    assert len(httpserver.log) == 1


@pytest.mark.parametrize("message", ["Throttled", "Rate limit exceeded"])
def test_a_throttled_graphql_answer_is_rate_limited_for_the_bucket_to_refill(
    httpserver: HTTPServer, adapter: ShopifyAdapter, message: str
) -> None:
    answer = copy.deepcopy(p.THROTTLED)
    answer["errors"][0]["message"] = message  # the code decides, whatever the wording
    respond(httpserver, answer)

    with pytest.raises(RateLimited) as caught:
        adapter.orders_page(since=SINCE, page=None)

    assert caught.value.retry_after == pytest.approx((843 - 243) / 100)
    assert adapter.http.limiter.blocked_for("shopify:acme.myshopify.com:graphql") > 5


def test_a_nearly_empty_cost_bucket_makes_everyone_wait(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    answer = p.orders_answer([p.ORDER_NODE], has_next=True, cursor="c")
    answer["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] = 43
    respond(httpserver, answer)

    page = adapter.orders_page(since=SINCE, page=None)

    assert len(page.orders) == 1  # this page is fine ...
    blocked = adapter.http.limiter.blocked_for("shopify:acme.myshopify.com:graphql")
    assert blocked == pytest.approx(8.0, abs=0.5)  # ... the next one waits (843 - 43) / 100 s


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, TransientError), (502, TransientError), (503, TransientError), (401, PermanentError)],
)
def test_http_failures_map_to_transient_or_permanent(
    httpserver: HTTPServer, adapter: ShopifyAdapter, status: int, error: type[Exception]
) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_json(
        {"errors": "[API] Invalid API key or access token"}, status=status
    )

    with pytest.raises(error) as caught:
        adapter.orders_page(since=SINCE, page=None)

    assert not isinstance(caught.value, RateLimited)
    assert len(httpserver.log) == 1  # a 401 is not retried: Admin API tokens do not refresh


@pytest.mark.parametrize(
    "answer",
    [
        "<html>Bad gateway page</html>",
        json.dumps([1, 2, 3]),
        json.dumps({"data": {}}),
        json.dumps({"data": {"orders": {"nodes": "x", "pageInfo": {}}}}),
        json.dumps({"data": {"orders": {"nodes": []}}}),
        json.dumps(p.ACCESS_DENIED),
    ],
)
def test_garbage_is_a_permanent_error(
    httpserver: HTTPServer, adapter: ShopifyAdapter, answer: str
) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_data(
        answer, content_type="application/json"
    )

    with pytest.raises(PermanentError):
        adapter.orders_page(since=SINCE, page=None)


def test_a_graphql_internal_error_is_transient(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    respond(
        httpserver,
        {
            "errors": [
                {"message": "Internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
            ]
        },
    )

    with pytest.raises(TransientError):
        adapter.orders_page(since=SINCE, page=None)


def test_the_real_shop_url_is_used_without_base_url() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=p.orders_answer([], has_next=False, cursor=None))

    context = AdapterContext(
        channel_code="shop-eu",
        currency="EUR",
        credentials={"shop": "acme.myshopify.com", "access_token": TOKEN},
        transport=httpx.MockTransport(handler),
    )
    adapter = adapter_class("shopify")(context)

    assert adapter.orders_page(since=SINCE, page=None).orders == []
    assert seen == ["https://acme.myshopify.com/admin/api/2026-04/graphql.json"]


# --- webhooks ---------------------------------------------------------------------------------


def signed(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_a_webhook_with_the_right_signature_is_a_delivery(adapter: ShopifyAdapter) -> None:
    body = json.dumps(p.REST_ORDER).encode()
    headers = {
        "x-shopify-hmac-sha256": signed(body),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
    }

    delivery = adapter.webhook_verify(headers=headers, body=body, url="https://oms/hooks/shopify")

    assert delivery.delivery_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert delivery.topic == "orders/create"
    assert delivery.payload == p.REST_ORDER


@pytest.mark.parametrize(
    "signature",
    ["", signed(b"another body"), signed(b"{}", secret="wrong"), "not base64 at all"],
)
def test_a_webhook_with_a_wrong_signature_is_refused(
    adapter: ShopifyAdapter, signature: str
) -> None:
    body = json.dumps(p.REST_ORDER).encode()
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "1"}
    if signature:
        headers["X-Shopify-Hmac-Sha256"] = signature

    with pytest.raises(SignatureInvalid):
        adapter.webhook_verify(headers=headers, body=body, url="https://oms/hooks/shopify")


def test_a_tampered_body_is_refused(adapter: ShopifyAdapter) -> None:
    body = json.dumps(p.REST_ORDER).encode()
    headers = {"X-Shopify-Hmac-Sha256": signed(body), "X-Shopify-Topic": "orders/create"}

    with pytest.raises(SignatureInvalid):
        adapter.webhook_verify(
            headers=headers, body=body.replace(b"137.70", b"1.70"), url="https://oms/hook"
        )


def test_the_event_id_stands_in_for_a_missing_webhook_id(adapter: ShopifyAdapter) -> None:
    body = b'{"id": 1}'
    headers = {
        "X-Shopify-Hmac-Sha256": signed(body),
        "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Event-Id": "evt-7",
    }

    assert adapter.webhook_verify(headers=headers, body=body, url="u").delivery_id == "evt-7"


def test_a_rest_webhook_maps_like_its_graphql_twin(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    respond(httpserver, p.orders_answer([p.ORDER_NODE], has_next=False, cursor="c"))
    (from_graphql,) = adapter.orders_page(since=SINCE, page=None).orders
    delivery = WebhookDelivery(delivery_id="d1", topic="orders/updated", payload=p.REST_ORDER)

    page = adapter.webhook_orders(delivery)

    (order,) = page.orders
    assert order.external_id == "450789469"
    assert order.total == Decimal("137.70")
    assert order.currency == "EUR"
    assert order.updated_at == dt.datetime(2026, 3, 2, 10, 2, 41, tzinfo=dt.UTC)
    assert order.raw == p.REST_ORDER
    for name in ("external_number", "placed_at", "shipping_price", "payment_status", "lines"):
        assert getattr(order, name) == getattr(from_graphql, name), name
    assert order.prices_include_tax is True
    assert order.shipping_address == from_graphql.shipping_address
    assert order.customer == from_graphql.customer


def test_a_cancelled_webhook_order_is_cancelled(adapter: ShopifyAdapter) -> None:
    body = copy.deepcopy(p.REST_ORDER)
    body.update(
        cancelled_at="2026-03-03T13:00:00+01:00",
        cancel_reason="inventory",
        financial_status="voided",
    )
    for line in body["line_items"]:
        line["current_quantity"] = 0

    (order,) = adapter.webhook_orders(WebhookDelivery("d2", "orders/cancelled", body)).orders

    assert order.cancelled
    assert order.cancel_reason == "inventory"
    assert order.payment_status == "voided"
    assert [line["quantity"] for line in order.lines] == [2, 1]


def test_other_topics_carry_no_orders_and_bad_bodies_are_failures(
    adapter: ShopifyAdapter,
) -> None:
    ignored = adapter.webhook_orders(WebhookDelivery("d3", "products/update", {"id": 9}))
    broken = adapter.webhook_orders(
        WebhookDelivery("d4", "orders/create", {**p.REST_ORDER, "line_items": []})
    )

    assert ignored.orders == []
    assert ignored.failures == []
    assert broken.orders == []
    assert [(f.external_id, f.reason) for f in broken.failures] == [
        ("450789469", "no line left on the order.")
    ]


# --- stock ------------------------------------------------------------------------------------


def stock_ok(group: int = 1) -> dict[str, Any]:
    return {
        "data": {
            "inventorySetQuantities": {
                "inventoryAdjustmentGroup": {
                    "id": f"gid://shopify/InventoryAdjustmentGroup/{group}"
                },
                "userErrors": [],
            }
        }
    }


def test_stock_push_sets_absolute_available_quantities_with_gids(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    respond(httpserver, stock_ok())

    results = adapter.stock_push(
        [
            StockItem(sku="TRL-JKT-BLACK-M", quantity=12, external_id="30322695"),
            StockItem(
                sku="WOL-SCK-GREY-M", quantity=0, external_id="gid://shopify/InventoryItem/7"
            ),
        ]
    )

    assert [(r.sku, r.ok, r.error) for r in results] == [
        ("TRL-JKT-BLACK-M", True, ""),
        ("WOL-SCK-GREY-M", True, ""),
    ]
    (body,) = sent(httpserver)
    assert (
        "inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey)" in body["query"]
    )
    assert body["variables"]["idempotencyKey"]
    assert body["variables"]["input"] == {
        "name": "available",
        "reason": "correction",
        "quantities": [
            {
                "inventoryItemId": "gid://shopify/InventoryItem/30322695",
                "locationId": "gid://shopify/Location/655441491",
                "quantity": 12,
                "changeFromQuantity": None,
            },
            {
                "inventoryItemId": "gid://shopify/InventoryItem/7",
                "locationId": "gid://shopify/Location/655441491",
                "quantity": 0,
                "changeFromQuantity": None,
            },
        ],
    }
    assert "changeFromQuantity" in body["variables"]["input"]["quantities"][0]  # null, not absent


def test_stock_push_sends_batches_of_250(httpserver: HTTPServer, adapter: ShopifyAdapter) -> None:
    respond(httpserver, stock_ok(1), stock_ok(2))
    items = [StockItem(sku=f"SKU-{n}", quantity=n, external_id=str(1000 + n)) for n in range(300)]

    results = adapter.stock_push(items)

    assert all(r.ok for r in results)
    assert len(results) == 300
    batches = [b["variables"]["input"]["quantities"] for b in sent(httpserver)]
    assert [len(b) for b in batches] == [250, 50]
    assert batches[1][0]["inventoryItemId"] == "gid://shopify/InventoryItem/1250"
    keys = [b["variables"]["idempotencyKey"] for b in sent(httpserver)]
    assert keys[0] != keys[1]


def test_stock_push_finds_inventory_items_by_sku_and_reports_unknown_ones(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    variants = {
        "data": {
            "productVariants": {
                "nodes": [
                    {
                        "sku": "TRL-JKT-BLACK-M",
                        "inventoryItem": {"id": "gid://shopify/InventoryItem/11"},
                    },
                    # Shopify's search is not exact: a longer SKU may come back too
                    {
                        "sku": "TRL-JKT-BLACK-M-2",
                        "inventoryItem": {"id": "gid://shopify/InventoryItem/12"},
                    },
                ]
            }
        }
    }
    respond(httpserver, variants, stock_ok())

    results = adapter.stock_push(
        [StockItem(sku="TRL-JKT-BLACK-M", quantity=4), StockItem(sku='NO"SUCH', quantity=1)]
    )

    assert [(r.sku, r.ok, r.error) for r in results] == [
        ("TRL-JKT-BLACK-M", True, ""),
        ('NO"SUCH', False, "not listed on Shopify"),
    ]
    lookup, push = sent(httpserver)
    assert "productVariants(first: $first, query: $query)" in lookup["query"]
    assert lookup["variables"]["query"] == 'sku:"NO\\"SUCH" OR sku:"TRL-JKT-BLACK-M"'
    assert push["variables"]["input"]["quantities"] == [
        {
            "inventoryItemId": "gid://shopify/InventoryItem/11",
            "locationId": "gid://shopify/Location/655441491",
            "quantity": 4,
            "changeFromQuantity": None,
        }
    ]


def test_user_errors_fail_the_items_they_name_and_the_others_are_sent_again(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    refused = {
        "data": {
            "inventorySetQuantities": {
                "inventoryAdjustmentGroup": None,
                "userErrors": [
                    {
                        "code": "INVALID_INVENTORY_ITEM",
                        "field": ["input", "quantities", "1", "inventoryItemId"],
                        "message": "The specified inventory item could not be found.",
                    }
                ],
            }
        }
    }
    respond(httpserver, refused, stock_ok())

    results = adapter.stock_push(
        [
            StockItem(sku="A", quantity=1, external_id="1"),
            StockItem(sku="B", quantity=2, external_id="2"),
            StockItem(sku="C", quantity=3, external_id="3"),
        ]
    )

    assert [(r.sku, r.ok) for r in results] == [("A", True), ("B", False), ("C", True)]
    assert "could not be found" in results[1].error
    retry = sent(httpserver)[1]["variables"]["input"]["quantities"]
    assert [q["inventoryItemId"] for q in retry] == [
        "gid://shopify/InventoryItem/1",
        "gid://shopify/InventoryItem/3",
    ]


def test_stock_push_needs_a_location(httpserver: HTTPServer) -> None:
    adapter = make_adapter(httpserver.url_for("/"), location_id="")

    with pytest.raises(PermanentError, match="location_id"):
        adapter.stock_push([StockItem(sku="A", quantity=1, external_id="1")])
    assert httpserver.log == []


# --- fulfilments, cancellations, refunds ------------------------------------------------------


def push(**changes: Any) -> FulfilmentPush:
    values: dict[str, Any] = {
        "order_external_id": "450789469",
        "reference": "SH-000123",
        "lines": [
            FulfilmentLine(external_line_id="466157049", sku="TRL-JKT-BLACK-M", quantity=2),
            FulfilmentLine(external_line_id="", sku="WOL-SCK-GREY-M", quantity=1),
        ],
        "carrier": "DHL Express",
        "service": "express",
        "tracking_number": "JD014600006281230702",
        "tracking_url": "https://www.dhl.com/track?id=JD014600006281230702",
        "shipped_at": dt.datetime(2026, 3, 4, 15, 0, tzinfo=dt.UTC),
    }
    values.update(changes)
    return FulfilmentPush(**values)


def test_fulfilment_push_fulfils_our_lines_on_the_open_fulfillment_order(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    respond(httpserver, p.FULFILLMENT_ORDERS, p.FULFILLMENT_CREATED)

    result = adapter.fulfilment_push(push())

    assert result.external_id == "255858046"
    query, create = sent(httpserver)
    assert query["variables"] == {"id": "gid://shopify/Order/450789469"}
    assert "fulfillmentOrders(first: 5)" in query["query"]
    assert "fulfillmentCreate(fulfillment: $fulfillment)" in create["query"]
    assert create["variables"]["fulfillment"] == {
        "lineItemsByFulfillmentOrder": [
            {
                "fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1046000779",
                "fulfillmentOrderLineItems": [
                    {"id": "gid://shopify/FulfillmentOrderLineItem/1058737482", "quantity": 2},
                    {"id": "gid://shopify/FulfillmentOrderLineItem/1058737483", "quantity": 1},
                ],
            }
        ],
        "trackingInfo": {
            "company": "DHL Express",
            "number": "JD014600006281230702",
            "url": "https://www.dhl.com/track?id=JD014600006281230702",
        },
        "notifyCustomer": True,
    }


def test_a_fulfilment_already_reported_is_not_created_again(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    answer = copy.deepcopy(p.FULFILLMENT_ORDERS)
    answer["data"]["order"]["fulfillments"] = [
        {
            "id": "gid://shopify/Fulfillment/255858046",
            "trackingInfo": [{"number": "JD014600006281230702"}],
        }
    ]
    respond(httpserver, answer)

    result = adapter.fulfilment_push(push())

    assert result.external_id == "255858046"
    assert result.detail["already_reported"]
    assert len(httpserver.log) == 1


def test_fulfilment_user_errors_and_missing_quantities_are_permanent(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    refused = {
        "data": {
            "fulfillmentCreate": {
                "fulfillment": None,
                "userErrors": [
                    {"field": ["fulfillment"], "message": "Fulfillment order is not open."}
                ],
            }
        }
    }
    respond(httpserver, p.FULFILLMENT_ORDERS, refused, p.FULFILLMENT_ORDERS)

    with pytest.raises(PermanentError, match="Fulfillment order is not open"):
        adapter.fulfilment_push(push())
    too_many = push(lines=[FulfilmentLine(external_line_id="518995019", sku="X", quantity=3)])
    with pytest.raises(PermanentError, match="2 of 3"):
        adapter.fulfilment_push(too_many)
    assert len(httpserver.log) == 3  # no fulfillmentCreate for what is not open


def test_cancel_push_cancels_the_order_without_refunding(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    respond(
        httpserver,
        {
            "data": {
                "orderCancel": {
                    "job": {"id": "gid://shopify/Job/1e6a2a6e", "done": False},
                    "orderCancelUserErrors": [],
                }
            }
        },
    )

    result = adapter.cancel_push(
        CancelPush(order_external_id="450789469", reference="CX-9", reason="Out of stock")
    )

    assert result.external_id == "gid://shopify/Job/1e6a2a6e"
    (body,) = sent(httpserver)
    assert "orderCancel(" in body["query"]
    assert body["variables"] == {
        "orderId": "gid://shopify/Order/450789469",
        "reason": "INVENTORY",
        "refundMethod": {"originalPaymentMethodsRefund": False},
        "restock": True,
        "notifyCustomer": True,
        "staffNote": "CX-9: Out of stock",
    }


def test_cancel_user_errors_are_permanent(httpserver: HTTPServer, adapter: ShopifyAdapter) -> None:
    respond(
        httpserver,
        {
            "data": {
                "orderCancel": {
                    "job": None,
                    "orderCancelUserErrors": [
                        {"code": "INVALID", "field": ["orderId"], "message": "Already cancelled"}
                    ],
                }
            }
        },
    )

    with pytest.raises(PermanentError, match="Already cancelled"):
        adapter.cancel_push(CancelPush(order_external_id="1", reference="CX-1", reason="x"))


def refund_created(number: str) -> dict[str, Any]:
    refund = {"id": f"gid://shopify/Refund/{number}"}
    return {"data": {"refundCreate": {"refund": refund, "userErrors": []}}}


def test_cancelling_some_lines_is_a_refund_that_cancels_them(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    respond(
        httpserver,
        {
            "data": {
                "refundCreate": {
                    "refund": {"id": "gid://shopify/Refund/929361464"},
                    "userErrors": [],
                }
            }
        },
    )

    result = adapter.cancel_push(
        CancelPush(
            order_external_id="450789469",
            reference="CX-10",
            reason="Customer asked",
            lines=[FulfilmentLine(external_line_id="518995019", sku="WOL-SCK-GREY-M", quantity=1)],
        )
    )

    assert result.external_id == "929361464"
    (body,) = sent(httpserver)
    assert "@idempotent(key: $idempotencyKey)" in body["query"]
    assert body["variables"]["idempotencyKey"] == "CX-10"
    assert body["variables"]["input"]["refundLineItems"] == [
        {"lineItemId": "gid://shopify/LineItem/518995019", "quantity": 1, "restockType": "CANCEL"}
    ]


def test_refund_push_refunds_the_captured_payment(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    respond(
        httpserver,
        p.ORDER_TRANSACTIONS,
        {
            "data": {
                "refundCreate": {
                    "refund": {"id": "gid://shopify/Refund/929361465"},
                    "userErrors": [],
                }
            }
        },
    )

    result = adapter.refund_push(
        RefundPush(
            order_external_id="450789469",
            reference="RF-77",
            amount=Decimal("24.95"),
            currency="EUR",
            reason="Returned socks",
            move_money=True,  # the channel is the order's payment provider
        )
    )

    assert result.external_id == "929361465"
    lookup, create = sent(httpserver)
    assert lookup["variables"] == {"id": "gid://shopify/Order/450789469"}
    assert "refundCreate(input: $input) @idempotent(key: $idempotencyKey)" in create["query"]
    assert create["variables"] == {
        "idempotencyKey": "RF-77",
        "input": {
            "orderId": "gid://shopify/Order/450789469",
            "note": "RF-77: Returned socks",
            "notify": True,
            "currency": "EUR",
            "transactions": [
                {
                    "orderId": "gid://shopify/Order/450789469",
                    "parentId": "gid://shopify/OrderTransaction/801038806",
                    "gateway": "shopify_payments",
                    "kind": "REFUND",
                    "amount": "24.95",
                }
            ],
        },
    }


def test_refund_push_refuses_more_than_captured_or_another_currency(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    respond(httpserver, p.ORDER_TRANSACTIONS, p.ORDER_TRANSACTIONS)
    refund = RefundPush("450789469", "RF-78", Decimal("200.00"), "EUR", "x", move_money=True)

    with pytest.raises(PermanentError, match="has not captured"):
        adapter.refund_push(refund)
    with pytest.raises(PermanentError, match="in GBP"):
        adapter.refund_push(RefundPush("450789469", "RF-79", Decimal("1"), "GBP", "x"))
    assert len(httpserver.log) == 2  # no refundCreate was sent


def test_a_refund_paid_elsewhere_is_recorded_without_moving_money(
    httpserver: HTTPServer, adapter: ShopifyAdapter
) -> None:
    """The order's payment provider (Stripe, staff) paid it: Shopify records the refund and
    no transaction of its own refunds the shopper a second time."""
    respond(
        httpserver,
        p.ORDER_TRANSACTIONS,
        {"data": {"refundCreate": {"refund": {"id": "gid://shopify/Refund/9"}, "userErrors": []}}},
    )
    adapter.refund_push(RefundPush("450789469", "RF-80", Decimal("24.95"), "EUR", "paid"))
    _, create = sent(httpserver)
    assert create["variables"]["input"]["transactions"] == []


# --- the fake store ---------------------------------------------------------------------------


SKUS = ["TRL-JKT-BLACK-M", "WOL-SCK-GREY-M", "DAY-PCK-TEAL-22L", "HDL-400-BLACK-OS"]


def store_adapter(store: FakeShopifyStore, **credentials: Any) -> ShopifyAdapter:
    context = AdapterContext(
        channel_code="shop-eu",
        currency=store.currency,
        credentials={
            "shop": "fake.myshopify.com",
            "access_token": TOKEN,
            "location_id": str(store.location_id),
            **credentials,
        },
        transport=httpx.MockTransport(store.handler),
    )
    return ShopifyAdapter(context, limiter=RateLimiter(max_wait=0, sleep=lambda _s: None))


def pull_all(adapter: ShopifyAdapter, since: dt.datetime) -> list[Any]:
    orders: list[Any] = []
    page = None
    for _ in range(1000):  # a cursor that does not move must fail, not hang
        result = adapter.orders_page(since=since, page=page)
        assert result.failures == []
        orders += result.orders
        page = result.next_page
        if page is None:
            return orders
    raise AssertionError("the pages never end")


def test_the_fake_store_pages_feed_the_adapter_end_to_end() -> None:
    store = FakeShopifyStore(SKUS, seed=7, shop_currency="USD")
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    store.add_orders(40, updated_at=start, step=dt.timedelta(0))  # all in the same second
    later = store.add_orders(25, updated_at=start + dt.timedelta(hours=1))
    adapter = store_adapter(store, page_size=7)

    everything = pull_all(adapter, start - dt.timedelta(days=1))
    recent = pull_all(adapter, start + dt.timedelta(minutes=30))

    assert len(everything) == 65
    assert len({o.external_id for o in everything}) == 65
    assert [o.external_id for o in recent] == [str(i) for i in later]
    stamps = [o.updated_at for o in everything]
    assert stamps == sorted(stamps)
    for order in everything:
        assert 1 <= len(order.lines) <= 3
        assert order.payment_status == "paid"
        assert {line["sku"] for line in order.lines} <= set(SKUS)
        assert order.shipping_address["postal_code"]
        assert order.shipping_address["country"]
        lines = sum(ln["unit_price"] * ln["quantity"] - ln["discount"] for ln in order.lines)
        taxes = 0 if order.prices_include_tax else sum(ln["tax"] for ln in order.lines)
        assert order.total == lines + Decimal(order.shipping_price) + taxes
    assert store.requests == 10 + 4  # ceil(65 / 7) + ceil(25 / 7)


def test_the_fake_store_is_deterministic_and_answers_like_shopify() -> None:
    one, two = FakeShopifyStore(SKUS, seed=3), FakeShopifyStore(SKUS, seed=3)
    at = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    one.add_orders(3, updated_at=at)
    two.add_orders(3, updated_at=at)
    since = at - dt.timedelta(days=1)

    assert [o.raw for o in pull_all(store_adapter(one), since)] == [
        o.raw for o in pull_all(store_adapter(two), since)
    ]
    anonymous = one.handler(httpx.Request("POST", f"https://x{PATH}", json={"query": "{}"}))
    assert anonymous.status_code == 401
    one.throttle_next = 1
    with pytest.raises(RateLimited):
        store_adapter(one).orders_page(since=since, page=None)


def test_the_fake_store_records_stock_fulfilments_cancels_and_refunds() -> None:
    store = FakeShopifyStore(SKUS, seed=5, currency="USD", countries=("US",))
    (order_id,) = store.add_orders(1, updated_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    adapter = store_adapter(store)
    (order,) = pull_all(adapter, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))

    stock = adapter.stock_push(
        [StockItem(sku=SKUS[0], quantity=5), StockItem(sku="UNKNOWN", quantity=1)]
    )
    lines = [
        FulfilmentLine(line["external_line_id"], line["sku"], line["quantity"])
        for line in order.lines
    ]
    shipped = adapter.fulfilment_push(push(order_external_id=str(order_id), lines=lines))
    again = adapter.fulfilment_push(push(order_external_id=str(order_id), lines=lines))
    refund = adapter.refund_push(RefundPush(str(order_id), "RF-1", Decimal("1.00"), "USD", "x"))
    adapter.cancel_push(CancelPush(str(order_id), "CX-1", "customer changed their mind"))

    assert [r.ok for r in stock] == [True, False]
    assert store.inventory == {(store.inventory_item_id(SKUS[0]), store.location_gid()): 5}
    assert store.stock_calls[0]["quantities"][0]["changeFromQuantity"] is None
    assert shipped.external_id
    assert again.external_id == shipped.external_id
    assert len(store.fulfillments) == 1
    assert store.fulfillments[0]["tracking"]["number"] == "JD014600006281230702"
    assert sum(store.fulfillments[0]["lines"].values()) == sum(ln.quantity for ln in lines)
    assert refund.external_id
    assert store.refunds[0]["key"] == "RF-1"
    assert store.cancellations[0]["reason"] == "CUSTOMER"
    (cancelled,) = pull_all(adapter, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert cancelled.cancelled
    assert cancelled.updated_at > order.updated_at


def test_the_fake_store_signs_webhooks_the_adapter_accepts() -> None:
    store = FakeShopifyStore(SKUS, seed=9, shop_currency="USD")
    (order_id,) = store.add_orders(1)
    adapter = store_adapter(store, webhook_secret=SECRET)
    headers, body = store.webhook(order_id, topic="orders/updated", secret=SECRET)

    delivery = adapter.webhook_verify(headers=headers, body=body, url="https://oms/hook")
    (from_webhook,) = adapter.webhook_orders(delivery).orders
    (from_pull,) = pull_all(adapter, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))

    assert from_webhook.external_id == str(order_id)
    for name in ("total", "currency", "lines", "shipping_price", "shipping_address", "customer"):
        assert getattr(from_webhook, name) == getattr(from_pull, name), name


def test_the_demo_store_grows_with_wall_clock_time() -> None:
    store = FakeShopifyStore(SKUS, seed=11)
    start = dt.datetime(2026, 3, 1, 12, 0, 30, tzinfo=dt.UTC)

    initial = store.tick(start, backfill_minutes=10)
    nothing = store.tick(start + dt.timedelta(seconds=20))
    later = store.tick(start + dt.timedelta(minutes=5))
    twin = FakeShopifyStore(SKUS, seed=11)
    twin.tick(start + dt.timedelta(minutes=5), backfill_minutes=15)

    assert 10 <= initial <= 20
    assert nothing == 0
    assert 5 <= later <= 10
    assert set(store.order_ids) == set(twin.order_ids)  # another process sees the same orders
    orders = pull_all(store_adapter(store, page_size=250), start - dt.timedelta(days=1))
    assert len(orders) == len(store)
    assert max(o.updated_at for o in orders) < start + dt.timedelta(minutes=5)  # none ahead
    assert demo_store("USD", skus=SKUS) is demo_store("USD")
    assert len(demo_store("USD")) > 0


def test_a_ticking_store_adds_the_orders_of_the_last_minutes_when_asked() -> None:
    store = FakeShopifyStore(SKUS, seed=12, auto_tick=True)
    assert len(store) == 0

    orders = pull_all(store_adapter(store, page_size=250), dt.datetime(2000, 1, 1, tzinfo=dt.UTC))

    assert 60 <= len(orders) == len(store) <= 120  # one or two per minute of the last hour
    assert max(o.updated_at for o in orders) < dt.datetime.now(dt.UTC)


def test_refund_on_cancel_typed_as_text_is_read_as_meant(httpserver: HTTPServer) -> None:
    base = httpserver.url_for("")
    assert make_adapter(base, refund_on_cancel="false").refund_on_cancel is False
    assert make_adapter(base, refund_on_cancel="true").refund_on_cancel is True
    assert make_adapter(base).refund_on_cancel is False
