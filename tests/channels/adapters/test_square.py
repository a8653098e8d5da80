"""SquareAdapter (the POS channel) against a local fake Square (pytest-httpserver)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from channels.adapters import adapter_class
from channels.adapters.base import (
    FULFILLED_BY_STORE,
    AdapterContext,
    CancelPush,
    FulfilmentPush,
    NotSupported,
    RateLimited,
    RateLimiter,
    RefundPush,
    SignatureInvalid,
    StockItem,
    WebhookDelivery,
)
from channels.adapters.square import SQUARE_VERSION, SquareAdapter
from oms.errors import PermanentError, TransientError
from tests.channels.adapters import square_payloads as sq
from tests.conftest import cache_clear

SIGNATURE_KEY = "sq-signature-key"
NOTIFICATION_URL = "https://oms.example/webhooks/channels/pos-berlin/"
SINCE = dt.datetime(2025, 3, 22, 15, 0, tzinfo=dt.UTC)


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"the adapter tried to sleep {seconds}s")


@pytest.fixture(autouse=True)
def _fresh_limits() -> Iterator[None]:
    cache_clear()  # a 429 of one test must not block the next one
    yield
    cache_clear()


def make_adapter(httpserver: HTTPServer, **credentials: Any) -> SquareAdapter:
    creds = {
        "base_url": httpserver.url_for(""),
        "access_token": "EAAAl-test-token",
        "signature_key": SIGNATURE_KEY,
        "location_ids": [sq.LOCATION],
        **credentials,
    }
    context = AdapterContext(channel_code="pos-berlin", currency="EUR", credentials=creds)
    adapter = SquareAdapter(context, limiter=RateLimiter(max_wait=0, sleep=_no_sleep))
    adapter.http.limits = {}  # no per-second budget in tests: only 429 blocks
    return adapter


@pytest.fixture
def adapter(httpserver: HTTPServer) -> SquareAdapter:
    return make_adapter(httpserver)


def sent(httpserver: HTTPServer, path: str) -> list[Any]:
    """The JSON bodies sent to `path`, in order."""
    return [json.loads(r.get_data()) for r, _ in httpserver.log if r.path == path]


def sign(body: bytes, url: str = NOTIFICATION_URL, key: str = SIGNATURE_KEY) -> str:
    digest = hmac.new(key.encode(), url.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def serve_catalog(httpserver: HTTPServer, answer: dict[str, Any] | None = None) -> None:
    httpserver.expect_request("/v2/catalog/batch-retrieve", method="POST").respond_with_json(
        sq.CATALOG if answer is None else answer
    )


def canonical_total(order: Any) -> Decimal:
    """What orders.services.order_capture computes from the canonical lines."""
    total = Decimal(order.shipping_price)
    for line in order.lines:
        total += line["unit_price"] * line["quantity"] - line["discount"]
        if not order.prices_include_tax:
            total += line["tax"]
    return total


# --- wiring ------------------------------------------------------------------------------------


def test_adapter_is_registered_for_the_pos_kind() -> None:
    assert adapter_class("pos") is SquareAdapter
    assert SquareAdapter.vendor == "square"


def test_the_real_square_is_the_default(httpserver: HTTPServer) -> None:
    context = AdapterContext("pos", "EUR", {"access_token": "t", "location_ids": ["L1"]})
    assert str(SquareAdapter(context).http.client.base_url) == "https://connect.squareup.com"


def test_an_access_token_is_required() -> None:
    with pytest.raises(PermanentError, match="access_token"):
        SquareAdapter(AdapterContext("pos", "EUR", {"location_ids": ["L1"]}))


# --- pulling orders ----------------------------------------------------------------------------


def test_search_sends_the_documented_query_and_headers(
    httpserver: HTTPServer, adapter: SquareAdapter
) -> None:
    httpserver.expect_request("/v2/orders/search", method="POST").respond_with_json(
        {"orders": [sq.order()], "cursor": "CURSOR-2"}
    )
    serve_catalog(httpserver)

    page = adapter.orders_page(since=SINCE, page=None)

    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == "Bearer EAAAl-test-token"
    assert request.headers["Square-Version"] == SQUARE_VERSION
    assert json.loads(request.get_data()) == {
        "location_ids": [sq.LOCATION],
        "limit": 500,
        "return_entries": False,
        "query": {
            "filter": {
                "date_time_filter": {"updated_at": {"start_at": "2025-03-22T15:00:00.000Z"}},
                "state_filter": {"states": ["CANCELED", "COMPLETED"]},
            },
            "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"},
        },
    }
    assert page.next_page == "CURSOR-2"
    assert len(page.orders) == 1


def test_pages_follow_the_cursor(httpserver: HTTPServer, adapter: SquareAdapter) -> None:
    httpserver.expect_oneshot_request("/v2/orders/search").respond_with_json(
        {"orders": [sq.order(id="A")], "cursor": "CURSOR-2"}
    )
    httpserver.expect_oneshot_request("/v2/orders/search").respond_with_json(
        {"orders": [sq.order(id="B")]}
    )
    serve_catalog(httpserver)

    first = adapter.orders_page(since=SINCE, page=None)
    second = adapter.orders_page(since=SINCE, page=first.next_page)

    bodies = sent(httpserver, "/v2/orders/search")
    assert "cursor" not in bodies[0]
    assert bodies[1]["cursor"] == "CURSOR-2"
    assert bodies[1]["query"] == bodies[0]["query"]  # Square wants the same query with a cursor
    assert [o.external_id for o in first.orders + second.orders] == ["A", "B"]
    assert second.next_page is None
    # The SKUs were resolved once, then served from the cache.
    assert len(sent(httpserver, "/v2/catalog/batch-retrieve")) == 1


def test_an_empty_search_answer_is_an_empty_last_page(
    httpserver: HTTPServer, adapter: SquareAdapter
) -> None:
    httpserver.expect_request("/v2/orders/search").respond_with_json({})
    page = adapter.orders_page(since=SINCE, page=None)
    assert (page.orders, page.failures, page.next_page) == ([], [], None)
    assert sent(httpserver, "/v2/catalog/batch-retrieve") == []


def test_a_store_sale_maps_to_the_canonical_record(
    httpserver: HTTPServer, adapter: SquareAdapter
) -> None:
    httpserver.expect_request("/v2/orders/search").respond_with_json({"orders": [sq.order()]})
    serve_catalog(httpserver)

    order = adapter.orders_page(since=SINCE, page=None).orders[0]

    assert sent(httpserver, "/v2/catalog/batch-retrieve") == [
        {
            "object_ids": sorted([sq.COLD_BREW, sq.CROISSANT]),
            "include_related_objects": False,
            "include_deleted_objects": True,
        }
    ]
    assert order.external_id == "CAISENgvlJ6jLWAzERDzjyHVybY"
    assert order.external_number == "T-0042"
    assert order.fulfilled_by == FULFILLED_BY_STORE
    assert order.store_location == sq.LOCATION
    assert (order.payment_status, order.cancelled) == ("paid", False)
    assert order.currency == "EUR"
    assert order.updated_at == dt.datetime(2025, 3, 22, 15, 31, 5, tzinfo=dt.UTC)
    assert order.placed_at == dt.datetime(2025, 3, 22, 15, 31, 4, tzinfo=dt.UTC)
    assert order.shipping_address == {}
    assert order.lines == [
        {
            "sku": "CB-L",
            "quantity": 2,
            "name": "Cold brew (Large)",
            "external_line_id": "8A3A2A5E-9E4B-4A53-A5B0-5F7C1C1E0A01",
            "unit_price": Decimal("4.50"),
            "discount": Decimal("0.00"),
            "tax": Decimal("1.71"),
        },
        {
            "sku": "CROISSANT",
            "quantity": 3,
            "name": "Croissant (Regular)",
            "external_line_id": "8A3A2A5E-9E4B-4A53-A5B0-5F7C1C1E0A02",
            "unit_price": Decimal("2.50"),
            "discount": Decimal("0.50"),
            "tax": Decimal("1.33"),
        },
    ]
    assert order.prices_include_tax is False
    assert order.total == Decimal("19.04")
    assert canonical_total(order) == order.total
    assert order.raw["version"] == 4


def test_yen_have_no_minor_unit(httpserver: HTTPServer, adapter: SquareAdapter) -> None:
    httpserver.expect_request("/v2/orders/search").respond_with_json({"orders": [sq.jpy_order()]})
    serve_catalog(httpserver)

    order = adapter.orders_page(since=SINCE, page=None).orders[0]

    assert order.currency == "JPY"
    line = order.lines[0]
    assert (line["unit_price"], line["tax"]) == (Decimal("450"), Decimal("82"))
    assert order.total == Decimal("900")  # 900 yen, not 9.00
    assert order.prices_include_tax is True  # the consumption tax is INCLUSIVE
    assert canonical_total(order) == order.total


def test_modifiers_are_in_the_unit_price_and_the_line_stays_exact(
    httpserver: HTTPServer, adapter: SquareAdapter
) -> None:
    # 3 x 4.50 plus an oat-milk modifier of 0.35 each = 14.55 gross, a 0.55 discount
    with_modifier = sq.order(
        line_items=[
            sq.line_item(
                quantity="3",
                gross_sales_money=sq.money(1455),
                total_discount_money=sq.money(55),
                total_tax_money=sq.money(266),
                total_money=sq.money(1666),
                modifiers=[{"uid": "m1", "name": "Oat milk", "base_price_money": sq.money(35)}],
            )
        ],
        total_money=sq.money(1666),
    )
    httpserver.expect_request("/v2/orders/search").respond_with_json({"orders": [with_modifier]})
    serve_catalog(httpserver)

    order = adapter.orders_page(since=SINCE, page=None).orders[0]
    assert (order.lines[0]["unit_price"], order.lines[0]["discount"]) == (
        Decimal("4.85"),
        Decimal("0.55"),
    )
    assert canonical_total(order) == Decimal("16.66") == order.total


def test_a_canceled_sale_is_cancelled(httpserver: HTTPServer, adapter: SquareAdapter) -> None:
    httpserver.expect_request("/v2/orders/search").respond_with_json(
        {"orders": [sq.order(state="CANCELED")]}
    )
    serve_catalog(httpserver)
    order = adapter.orders_page(since=SINCE, page=None).orders[0]
    assert (order.cancelled, order.payment_status) == (True, "voided")


def test_bad_records_are_failures_and_the_others_still_map(
    httpserver: HTTPServer, adapter: SquareAdapter
) -> None:
    weighed = sq.order(
        id="WEIGHED", line_items=[sq.line_item(catalog_object_id=sq.BEANS, quantity="0.250")]
    )
    custom_amount = sq.order(
        id="CUSTOM",
        line_items=[sq.line_item(catalog_object_id=None, name="Custom Amount", variation_name="")],
    )
    no_sku = sq.order(id="NOSKU", line_items=[sq.line_item(catalog_object_id="GONE")])
    float_money = sq.order(id="FLOAT", total_money={"amount": 19.04, "currency": "EUR"})
    dollars = sq.order(id="USD", line_items=[sq.line_item(currency="USD")])
    over_discount = sq.order(
        id="OVER", line_items=[sq.line_item(total_discount_money=sq.money(901))]
    )
    httpserver.expect_request("/v2/orders/search").respond_with_json(
        {
            "orders": [
                weighed,
                custom_amount,
                sq.order(id="GOOD"),
                no_sku,
                42,
                float_money,
                dollars,
                over_discount,
            ]
        }
    )
    serve_catalog(
        httpserver,
        sq.catalog_answer(
            sq.variation(sq.COLD_BREW, "CB-L"),
            sq.variation(sq.CROISSANT, "CROISSANT"),
            sq.variation(sq.BEANS, "BEANS-1KG"),
        ),
    )

    page = adapter.orders_page(since=SINCE, page=None)

    # A custom amount (no catalog item) is a sale too: its line has no SKU, only its name.
    assert [o.external_id for o in page.orders] == ["CUSTOM", "GOOD"]
    assert [(ln["sku"], ln["name"]) for ln in page.orders[0].lines] == [("", "Custom Amount")]
    reasons = {f.external_id: f.reason for f in page.failures}
    assert "'0.250' is not a positive whole number" in reasons["WEIGHED"]
    assert "CUSTOM" not in reasons
    assert "no SKU found for catalog object GONE" in reasons["NOSKU"]
    assert "not an integer" in reasons["FLOAT"]
    assert "in USD" in reasons["USD"]
    assert "discount above" in reasons["OVER"]
    assert "not a JSON object" in reasons[""]
    assert next(f for f in page.failures if f.external_id == "WEIGHED").raw["id"] == "WEIGHED"
    # One catalog call for the whole page, GONE included (Square simply leaves it out).
    (catalog,) = sent(httpserver, "/v2/catalog/batch-retrieve")
    assert set(catalog["object_ids"]) == {sq.COLD_BREW, sq.CROISSANT, sq.BEANS, "GONE"}


def test_a_variation_without_sku_is_a_failure(
    httpserver: HTTPServer, adapter: SquareAdapter
) -> None:
    httpserver.expect_request("/v2/orders/search").respond_with_json({"orders": [sq.order()]})
    serve_catalog(
        httpserver,
        sq.catalog_answer(sq.variation(sq.COLD_BREW, ""), sq.variation(sq.CROISSANT, "CROISSANT")),
    )
    page = adapter.orders_page(since=SINCE, page=None)
    assert page.orders == []
    assert sq.COLD_BREW in page.failures[0].reason


def test_locations_are_required_and_at_most_ten(httpserver: HTTPServer) -> None:
    with pytest.raises(PermanentError, match="location_ids"):
        make_adapter(httpserver, location_ids=[]).orders_page(since=SINCE, page=None)
    eleven = [f"L{n}" for n in range(11)]
    with pytest.raises(PermanentError, match="at most 10"):
        make_adapter(httpserver, location_ids=eleven).orders_page(since=SINCE, page=None)
    assert httpserver.log == []


def test_429_raises_rate_limited_and_blocks_the_next_call(
    httpserver: HTTPServer, adapter: SquareAdapter
) -> None:
    httpserver.expect_request("/v2/orders/search").respond_with_json(
        {"errors": [{"category": "RATE_LIMIT_ERROR", "code": "RATE_LIMITED"}]},
        status=429,
        headers={"Retry-After": "12"},
    )
    with pytest.raises(RateLimited) as caught:
        adapter.orders_page(since=SINCE, page=None)
    assert caught.value.retry_after == 12
    with pytest.raises(RateLimited):
        adapter.orders_page(since=SINCE, page=None)
    assert len(httpserver.log) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_transient(httpserver: HTTPServer, adapter: SquareAdapter, status: int) -> None:
    httpserver.expect_request("/v2/orders/search").respond_with_json(
        {"errors": [{"category": "API_ERROR", "code": "INTERNAL_SERVER_ERROR"}]}, status=status
    )
    with pytest.raises(TransientError):
        adapter.orders_page(since=SINCE, page=None)


def test_401_is_permanent(httpserver: HTTPServer, adapter: SquareAdapter) -> None:
    httpserver.expect_request("/v2/orders/search").respond_with_json(sq.ERROR_401, status=401)
    with pytest.raises(PermanentError, match="UNAUTHORIZED") as caught:
        adapter.orders_page(since=SINCE, page=None)
    assert not isinstance(caught.value, TransientError)


@pytest.mark.parametrize(
    "body", ["<html>oops</html>", json.dumps([1, 2]), json.dumps({"orders": "none"})]
)
def test_garbage_is_permanent(httpserver: HTTPServer, adapter: SquareAdapter, body: str) -> None:
    httpserver.expect_request("/v2/orders/search").respond_with_data(
        body, content_type="application/json"
    )
    with pytest.raises(PermanentError):
        adapter.orders_page(since=SINCE, page=None)


def test_a_catalog_failure_fails_the_page(httpserver: HTTPServer, adapter: SquareAdapter) -> None:
    httpserver.expect_request("/v2/orders/search").respond_with_json({"orders": [sq.order()]})
    httpserver.expect_request("/v2/catalog/batch-retrieve").respond_with_data("busy", status=503)
    with pytest.raises(TransientError):
        adapter.orders_page(since=SINCE, page=None)


# --- webhooks ----------------------------------------------------------------------------------


def test_a_signed_webhook_is_verified_over_url_and_body(adapter: SquareAdapter) -> None:
    body = json.dumps(sq.order_event()).encode()
    delivery = adapter.webhook_verify(
        headers={"x-square-hmacsha256-signature": sign(body)}, body=body, url=NOTIFICATION_URL
    )
    assert delivery.delivery_id == "4b8e5c91-9f17-4cf1-900a-4a0629f81add"
    assert delivery.topic == "order.updated"
    assert delivery.payload["data"]["id"] == "CAISENgvlJ6jLWAzERDzjyHVybY"


def test_the_signature_covers_the_notification_url(adapter: SquareAdapter) -> None:
    body = json.dumps(sq.order_event()).encode()
    headers = {"X-Square-HmacSha256-Signature": sign(body)}
    with pytest.raises(SignatureInvalid):
        adapter.webhook_verify(headers=headers, body=body, url=NOTIFICATION_URL + "other/")


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "garbage",
        sign(b"{}"),
        sign(json.dumps(sq.order_event()).encode(), key="another-key"),
        # the body alone, without the URL, is not Square's signature
        base64.b64encode(
            hmac.new(
                SIGNATURE_KEY.encode(), json.dumps(sq.order_event()).encode(), hashlib.sha256
            ).digest()
        ).decode(),
    ],
)
def test_a_bad_signature_is_refused(adapter: SquareAdapter, signature: str) -> None:
    body = json.dumps(sq.order_event()).encode()
    with pytest.raises(SignatureInvalid):
        adapter.webhook_verify(
            headers={"x-square-hmacsha256-signature": signature}, body=body, url=NOTIFICATION_URL
        )


def test_without_a_signature_key_every_webhook_is_refused(httpserver: HTTPServer) -> None:
    adapter = make_adapter(httpserver, signature_key="")
    body = b"{}"
    with pytest.raises(SignatureInvalid):
        adapter.webhook_verify(
            headers={"x-square-hmacsha256-signature": sign(body, key="")},
            body=body,
            url=NOTIFICATION_URL,
        )


def test_a_signed_event_without_id_is_permanent(adapter: SquareAdapter) -> None:
    body = b'{"type": "order.updated"}'
    with pytest.raises(PermanentError, match="event_id"):
        adapter.webhook_verify(
            headers={"x-square-hmacsha256-signature": sign(body)}, body=body, url=NOTIFICATION_URL
        )


@pytest.mark.parametrize("kind", ["order.created", "order.updated"])
def test_order_events_fetch_their_order(
    httpserver: HTTPServer, adapter: SquareAdapter, kind: str
) -> None:
    httpserver.expect_request("/v2/orders/batch-retrieve", method="POST").respond_with_json(
        {"orders": [sq.order()]}
    )
    serve_catalog(httpserver)
    event = sq.order_event(kind)

    page = adapter.webhook_orders(WebhookDelivery(event["event_id"], kind, event))

    assert sent(httpserver, "/v2/orders/batch-retrieve") == [
        {"order_ids": ["CAISENgvlJ6jLWAzERDzjyHVybY"], "location_id": sq.LOCATION}
    ]
    assert [o.external_id for o in page.orders] == ["CAISENgvlJ6jLWAzERDzjyHVybY"]
    assert page.orders[0].lines[0]["sku"] == "CB-L"


def test_open_orders_and_other_stores_are_left_out(
    httpserver: HTTPServer, adapter: SquareAdapter
) -> None:
    httpserver.expect_request("/v2/orders/batch-retrieve").respond_with_json(
        {
            "orders": [
                sq.order(id="OPEN", state="OPEN"),
                sq.order(id="ELSEWHERE", location_id=sq.OTHER_LOCATION),
            ]
        }
    )
    event = sq.order_event()
    page = adapter.webhook_orders(WebhookDelivery("e1", "order.updated", event))
    assert (page.orders, page.failures) == ([], [])
    assert sent(httpserver, "/v2/catalog/batch-retrieve") == []


def test_an_event_of_an_open_order_fetches_nothing(
    httpserver: HTTPServer, adapter: SquareAdapter
) -> None:
    event = sq.order_event("order.created")
    event["data"]["object"]["order_created"]["state"] = "OPEN"
    page = adapter.webhook_orders(WebhookDelivery("e3", "order.created", event))
    assert page.orders == []
    assert httpserver.log == []


def test_other_topics_give_an_empty_page(httpserver: HTTPServer, adapter: SquareAdapter) -> None:
    event = {"type": "inventory.count.updated", "event_id": "e2", "data": {}}
    page = adapter.webhook_orders(WebhookDelivery("e2", "inventory.count.updated", event))
    assert page.orders == []
    assert httpserver.log == []


# --- stock -------------------------------------------------------------------------------------


def _inventory_handler(request: Request) -> Response:
    changes = json.loads(request.get_data())["changes"]
    return Response(json.dumps(sq.inventory_answer(changes)), content_type="application/json")


def test_stock_is_set_as_physical_counts_in_batches_of_100(
    httpserver: HTTPServer, adapter: SquareAdapter
) -> None:
    path = "/v2/inventory/changes/batch-create"
    httpserver.expect_request(path, method="POST").respond_with_handler(_inventory_handler)
    items = [StockItem(f"SKU-{n}", n, external_id=f"VAR{n:03d}") for n in range(120)]
    items[1] = StockItem("SKU-1", -3, external_id="VAR001")
    items.append(StockItem("UNMAPPED", 5))

    results = adapter.stock_push(items)

    first, second = sent(httpserver, path)
    assert (len(first["changes"]), len(second["changes"])) == (100, 20)
    assert uuid.UUID(first["idempotency_key"]) != uuid.UUID(second["idempotency_key"])
    change = first["changes"][1]
    assert change["type"] == "PHYSICAL_COUNT"
    count = change["physical_count"]
    occurred_at = count.pop("occurred_at")
    assert count == {
        "catalog_object_id": "VAR001",
        "location_id": sq.LOCATION,
        "quantity": "0",  # never negative, and a string as Square wants
        "state": "IN_STOCK",
    }
    assert occurred_at.endswith("Z")
    assert dt.datetime.fromisoformat(occurred_at.replace("Z", "+00:00")).tzinfo is not None
    assert second["changes"][-1]["physical_count"]["quantity"] == "119"
    assert [r.ok for r in results] == [True] * 120 + [False]
    assert results[-1].sku == "UNMAPPED"
    assert "not mapped" in results[-1].error


def test_stock_goes_to_the_first_location(httpserver: HTTPServer) -> None:
    adapter = make_adapter(httpserver, location_ids=[sq.OTHER_LOCATION, sq.LOCATION])
    path = "/v2/inventory/changes/batch-create"
    httpserver.expect_request(path).respond_with_handler(_inventory_handler)
    adapter.stock_push([StockItem("CB-L", 12, external_id=sq.COLD_BREW)])
    (body,) = sent(httpserver, path)
    assert body["changes"][0]["physical_count"]["location_id"] == sq.OTHER_LOCATION
    assert body["changes"][0]["physical_count"]["quantity"] == "12"


def test_a_refused_stock_batch_raises(httpserver: HTTPServer, adapter: SquareAdapter) -> None:
    httpserver.expect_request("/v2/inventory/changes/batch-create").respond_with_json(
        {
            "errors": [
                {
                    "category": "INVALID_REQUEST_ERROR",
                    "code": "NOT_FOUND",
                    "detail": "Catalog object not found.",
                    "field": "catalog_object_id",
                }
            ]
        },
        status=400,
    )
    with pytest.raises(PermanentError, match="NOT_FOUND"):
        adapter.stock_push([StockItem("CB-L", 1, external_id="NOPE")])


def test_nothing_mapped_sends_nothing(httpserver: HTTPServer, adapter: SquareAdapter) -> None:
    results = adapter.stock_push([StockItem("A", 1), StockItem("B", 2)])
    assert [r.ok for r in results] == [False, False]
    assert httpserver.log == []


# --- pushes the till already did ---------------------------------------------------------------


def test_pushes_are_not_supported(adapter: SquareAdapter) -> None:
    shipped = dt.datetime(2025, 3, 22, tzinfo=dt.UTC)
    with pytest.raises(NotSupported):
        adapter.fulfilment_push(FulfilmentPush("O", "R", [], "c", "s", "t", "u", shipped))
    with pytest.raises(NotSupported):
        adapter.cancel_push(CancelPush("O", "R", "why"))
    with pytest.raises(NotSupported):
        adapter.refund_push(RefundPush("O", "R", Decimal("1.00"), "EUR", "why"))


def test_locations_typed_as_text_in_the_admin_are_split(httpserver: HTTPServer) -> None:
    adapter = make_adapter(httpserver, location_ids=f"{sq.LOCATION}, {sq.OTHER_LOCATION}")
    assert adapter.location_ids == [sq.LOCATION, sq.OTHER_LOCATION]
