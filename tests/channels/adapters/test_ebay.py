"""The eBay adapter against a local fake eBay (pytest-httpserver) answering documented payloads."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request

from channels.adapters import adapter_class
from channels.adapters.base import (
    FULFILLED_BY_CHANNEL,
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
from channels.adapters.ebay import EbayAdapter, challenge_response
from oms.errors import PermanentError, TransientError
from tests.channels.adapters import ebay_payloads as P
from tests.conftest import cache_clear

ORDERS = "/sell/fulfillment/v1/order"
TOKEN = "/identity/v1/oauth2/token"
STOCK = "/sell/inventory/v1/bulk_update_price_quantity"
SCOPE = (
    "https://api.ebay.com/oauth/api_scope/sell.fulfillment "
    "https://api.ebay.com/oauth/api_scope/sell.inventory"
)
SINCE = dt.datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=dt.UTC)


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"the adapter tried to sleep {seconds}s")


@pytest.fixture(autouse=True)
def _empty_cache():
    # Rate-limit blocks, the application token and public keys live in the cache.
    cache_clear()
    yield
    cache_clear()


def in_an_hour() -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()


def make_adapter(
    httpserver: HTTPServer, saved: list[dict[str, Any]] | None = None, **credentials: Any
) -> EbayAdapter:
    creds = {
        "base_url": httpserver.url_for(""),
        "client_id": "OmsApp-PRD-1234",
        "client_secret": "PRD-secret-5678",
        "refresh_token": "v^1.1#i^1#r^1#refresh",
        "scope": SCOPE,
        "access_token": "v^1.1#valid-token",
        "access_token_expires_at": in_an_hour(),
        **credentials,
    }
    context = AdapterContext(
        channel_code="ebay-us",
        currency="USD",
        credentials={k: v for k, v in creds.items() if v is not None},
        save_credentials=(saved if saved is not None else []).append,
    )
    return EbayAdapter(context, limiter=RateLimiter(max_wait=0, sleep=_no_sleep), limits={})


def requests_to(httpserver: HTTPServer, path: str) -> list[Request]:
    return [request for request, _ in httpserver.log if request.path == path]


# --- orders ---------------------------------------------------------------------------------


def test_the_registry_finds_the_ebay_adapter():
    assert adapter_class("ebay") is EbayAdapter
    assert EbayAdapter.vendor == "ebay"


def test_orders_page_sends_the_filter_and_maps_an_order(httpserver):
    httpserver.expect_request(ORDERS, method="GET").respond_with_json(
        P.orders_page([P.ebay_order()])
    )
    page = make_adapter(httpserver).orders_page(since=SINCE, page=None)

    (sent,) = requests_to(httpserver, ORDERS)
    assert sent.args["filter"] == "lastmodifieddate:[2024-05-01T10:00:00.250Z..]"
    assert sent.args["limit"] == "200"
    assert sent.args["offset"] == "0"
    assert sent.args["fieldGroups"] == "TAX_BREAKDOWN"
    assert sent.headers["Authorization"] == "Bearer v^1.1#valid-token"

    assert page.failures == []
    assert page.next_page is None
    (order,) = page.orders
    assert order.external_id == "04-11111-22222"
    assert order.external_number == "1042"
    assert order.updated_at == dt.datetime(2024, 5, 1, 12, 30, 45, 678000, tzinfo=dt.UTC)
    assert order.placed_at == dt.datetime(2024, 5, 1, 12, 0, 1, tzinfo=dt.UTC)
    assert order.currency == "USD"
    assert order.payment_status == "paid"
    assert order.cancelled is False
    assert order.shipping_price == "7.50"
    assert order.total == "77.67"
    assert order.notes == "Please leave at the door"
    mug, tee = order.lines
    # lineItemCost is the line total: 59.97 for 3 mugs is 19.99 each.
    assert mug == {
        "sku": "MUG-BLUE",
        "quantity": 3,
        "name": "Blue enamel mug",
        "external_line_id": "10000000001001",
        "unit_price": "19.99",
        "discount": "5.00",
        "tax": "4.40",
    }
    assert (tee["sku"], tee["quantity"], tee["unit_price"], tee["discount"], tee["tax"]) == (
        "TEE-M",
        1,
        "10.00",
        "0.00",
        "0.80",
    )
    # The lines, shipping and tax add up to eBay's total.
    computed = sum(
        Decimal(line["unit_price"]) * line["quantity"]
        - Decimal(line["discount"])
        + Decimal(line["tax"])
        for line in order.lines
    ) + Decimal(order.shipping_price)
    assert computed == Decimal(order.total)
    assert order.shipping_address == {
        "name": "Alice Buyer",
        "line1": "2145 Hamilton Ave",
        "line2": "Apt 4",
        "city": "San Jose",
        "region": "CA",
        "postal_code": "95125",
        "country": "US",
        "phone": "4085551234",
    }
    assert order.customer == {
        "email": "alice.ship@example.com",
        "first_name": "Alice",
        "last_name": "Buyer",
        "phone": "4085551234",
    }
    assert order.raw["orderId"] == "04-11111-22222"
    assert order.capture_kwargs()["raw_payload"]["lineItems"][0]["lineItemCost"] == {
        "value": "59.97",
        "currency": "USD",
    }


def test_a_line_total_that_does_not_divide_keeps_its_exact_total(httpserver):
    order = P.ebay_order(
        line_items=[P.line_item(quantity=3, line_item_cost="10.00", promotions=["1.00"])]
    )
    httpserver.expect_request(ORDERS).respond_with_json(P.orders_page([order]))
    (line,) = make_adapter(httpserver).orders_page(since=SINCE, page=None).orders[0].lines
    # 10.00 / 3: 3.34 a unit, and the 0.02 that adds is given back with the 1.00 promotion.
    assert line["unit_price"] == "3.34"
    assert line["discount"] == "1.02"
    assert Decimal(line["unit_price"]) * 3 - Decimal(line["discount"]) == Decimal("9.00")


def test_discounted_line_item_cost_is_the_discount_when_no_promotion_is_listed(httpserver):
    item = P.line_item(quantity=2, line_item_cost="40.00")
    item["discountedLineItemCost"] = P.amount("34.50")
    httpserver.expect_request(ORDERS).respond_with_json(
        P.orders_page([P.ebay_order(line_items=[item])])
    )
    (line,) = make_adapter(httpserver).orders_page(since=SINCE, page=None).orders[0].lines
    assert (line["unit_price"], line["discount"]) == ("20.00", "5.50")


def test_offset_pagination_follows_next(httpserver):
    first = [P.ebay_order(f"04-00000-{n:05d}") for n in range(3)]
    httpserver.expect_request(
        ORDERS,
        query_string={
            "filter": "lastmodifieddate:[2024-05-01T10:00:00.250Z..]",
            "limit": "200",
            "offset": "0",
            "fieldGroups": "TAX_BREAKDOWN",
        },
    ).respond_with_json(P.orders_page(first, total=203))
    httpserver.expect_request(
        ORDERS,
        query_string={
            "filter": "lastmodifieddate:[2024-05-01T10:00:00.250Z..]",
            "limit": "200",
            "offset": "200",
            "fieldGroups": "TAX_BREAKDOWN",
        },
    ).respond_with_json(P.orders_page([P.ebay_order("04-99999-00001")], offset=200, total=203))
    adapter = make_adapter(httpserver)

    one = adapter.orders_page(since=SINCE, page=None)
    assert [o.external_id for o in one.orders] == [o["orderId"] for o in first]
    assert one.next_page == "200"  # the offset of eBay's `next` link

    two = adapter.orders_page(since=SINCE, page=one.next_page)
    assert [o.external_id for o in two.orders] == ["04-99999-00001"]
    assert two.next_page is None
    assert [r.args["offset"] for r in requests_to(httpserver, ORDERS)] == ["0", "200"]


def test_statuses_cancellation_and_the_buyer_email(httpserver):
    cancelled = P.ebay_order(
        "04-22222-33333", payment="FULLY_REFUNDED", cancel_state="CANCELED", ship_to_email=None
    )
    cancelled["cancelStatus"]["cancelRequests"] = [
        {"cancelReason": "BUYER_ASKED_CANCEL", "cancelRequestState": "COMPLETED"}
    ]
    pending = P.ebay_order("04-33333-44444", payment="PENDING")
    partly = P.ebay_order("04-44444-55555", payment="PARTIALLY_REFUNDED")
    by_ebay = P.ebay_order("04-55555-66666")
    by_ebay["program"] = {"fulfillmentProgram": {"fulfilledBy": "EBAY"}}
    httpserver.expect_request(ORDERS).respond_with_json(
        P.orders_page([cancelled, pending, partly, by_ebay])
    )
    one, two, three, four = make_adapter(httpserver).orders_page(since=SINCE, page=None).orders
    assert (one.cancelled, one.cancel_reason, one.payment_status) == (
        True,
        "BUYER_ASKED_CANCEL",
        "refunded",
    )
    assert one.customer["email"] == "alice.registered@example.com"  # no shipTo.email
    assert (two.cancelled, two.payment_status) == (False, "pending")
    assert three.payment_status == "partially_refunded"
    assert four.fulfilled_by == FULFILLED_BY_CHANNEL
    assert one.fulfilled_by == ""


def test_a_record_that_cannot_be_read_is_a_record_failure(httpserver):
    # Without a SKU a line is kept by its title; with neither it cannot be read.
    no_sku = P.ebay_order("04-00000-00002", line_items=[P.line_item(sku=None, title="")])
    bad_amount = P.ebay_order(
        "04-00000-00003", line_items=[P.line_item(line_item_cost="twelve dollars")]
    )
    bad_quantity = P.ebay_order("04-00000-00004", line_items=[P.line_item(quantity=0)])
    no_date = P.ebay_order("04-00000-00005", modified="yesterday")
    mixed = P.ebay_order("04-00000-00006", line_items=[P.line_item(currency="EUR")])
    records = [P.ebay_order("04-00000-00001"), no_sku, bad_amount, bad_quantity, no_date]
    records += [mixed, "not an order", {"lineItems": []}]
    httpserver.expect_request(ORDERS).respond_with_json(P.orders_page(records))

    page = make_adapter(httpserver).orders_page(since=SINCE, page=None)

    assert [o.external_id for o in page.orders] == ["04-00000-00001"]
    failures = {f.external_id or f"#{n}": f.reason for n, f in enumerate(page.failures)}
    assert "neither a SKU nor a title" in failures["04-00000-00002"]
    assert "twelve dollars" in failures["04-00000-00003"]
    assert "quantity" in failures["04-00000-00004"]
    assert "lastModifiedDate" in failures["04-00000-00005"]
    assert "EUR" in failures["04-00000-00006"]
    assert "not an object" in failures["#5"]
    assert "no orderId" in failures["#6"]
    assert page.failures[0].raw["orderId"] == "04-00000-00002"


@pytest.mark.parametrize(
    "answer",
    [
        {"response_data": "<html>eBay is down for maintenance</html>"},
        {"response_data": json.dumps([1, 2, 3]), "content_type": "application/json"},
        {"response_data": json.dumps({"orders": "none"}), "content_type": "application/json"},
        {"response_data": json.dumps({"hello": "world"}), "content_type": "application/json"},
    ],
)
def test_a_page_that_is_garbage_raises_permanent(httpserver, answer):
    httpserver.expect_request(ORDERS).respond_with_data(**answer)
    with pytest.raises(PermanentError):
        make_adapter(httpserver).orders_page(since=SINCE, page=None)


def test_429_raises_rate_limited_with_retry_after(httpserver):
    httpserver.expect_request(ORDERS).respond_with_json(
        {"errors": [{"errorId": 2001, "message": "Too many requests"}]},
        status=429,
        headers={"Retry-After": "7"},
    )
    with pytest.raises(RateLimited) as caught:
        make_adapter(httpserver).orders_page(since=SINCE, page=None)
    assert caught.value.retry_after == 7


def test_5xx_raises_transient(httpserver):
    httpserver.expect_request(ORDERS).respond_with_json(
        {"errors": [{"errorId": 30500, "message": "System error"}]}, status=503
    )
    with pytest.raises(TransientError) as caught:
        make_adapter(httpserver).orders_page(since=SINCE, page=None)
    assert not isinstance(caught.value, RateLimited)
    assert "503" in str(caught.value)


# --- OAuth ----------------------------------------------------------------------------------


def test_a_401_refreshes_the_token_once_then_succeeds(httpserver):
    httpserver.expect_oneshot_request(
        ORDERS, headers={"Authorization": "Bearer v^1.1#valid-token"}
    ).respond_with_json({"errors": [{"errorId": 1001, "message": "Invalid access token"}]}, 401)
    httpserver.expect_request(TOKEN, method="POST").respond_with_json(
        P.token_answer("v^1.1#fresh-token")
    )
    httpserver.expect_request(
        ORDERS, headers={"Authorization": "Bearer v^1.1#fresh-token"}
    ).respond_with_json(P.orders_page([P.ebay_order()]))
    saved: list[dict[str, Any]] = []

    page = make_adapter(httpserver, saved).orders_page(since=SINCE, page=None)

    assert [o.external_id for o in page.orders] == ["04-11111-22222"]
    assert [request.path for request, _ in httpserver.log] == [ORDERS, TOKEN, ORDERS]
    (grant,) = requests_to(httpserver, TOKEN)
    expected = base64.b64encode(b"OmsApp-PRD-1234:PRD-secret-5678").decode()
    assert grant.headers["Authorization"] == f"Basic {expected}"
    assert grant.form.to_dict() == {
        "grant_type": "refresh_token",
        "refresh_token": "v^1.1#i^1#r^1#refresh",
        "scope": SCOPE,
    }
    (stored,) = saved
    assert stored["access_token"] == "v^1.1#fresh-token"
    assert stored["refresh_token"] == "v^1.1#i^1#r^1#refresh"  # the rest is kept
    expires = dt.datetime.fromisoformat(stored["access_token_expires_at"].replace("Z", "+00:00"))
    lifetime = (expires - dt.datetime.now(dt.UTC)).total_seconds()
    assert 7100 < lifetime <= 7200


def test_a_second_401_after_the_refresh_is_permanent(httpserver):
    httpserver.expect_request(ORDERS).respond_with_json({"errors": []}, status=401)
    httpserver.expect_request(TOKEN, method="POST").respond_with_json(P.token_answer("new"))
    with pytest.raises(PermanentError):
        make_adapter(httpserver).orders_page(since=SINCE, page=None)
    assert len(requests_to(httpserver, TOKEN)) == 1
    assert len(requests_to(httpserver, ORDERS)) == 2


def test_the_token_is_reused_while_it_is_valid(httpserver):
    httpserver.expect_request(ORDERS).respond_with_json(P.orders_page([]))
    saved: list[dict[str, Any]] = []
    adapter = make_adapter(httpserver, saved)
    adapter.orders_page(since=SINCE, page=None)
    adapter.orders_page(since=SINCE, page=None)
    assert requests_to(httpserver, TOKEN) == []
    assert saved == []
    assert {r.headers["Authorization"] for r in requests_to(httpserver, ORDERS)} == {
        "Bearer v^1.1#valid-token"
    }


def test_an_expired_or_missing_token_is_refreshed_before_the_call(httpserver):
    httpserver.expect_request(TOKEN, method="POST").respond_with_json(
        P.token_answer("v^1.1#fresh-token")
    )
    httpserver.expect_request(
        ORDERS, headers={"Authorization": "Bearer v^1.1#fresh-token"}
    ).respond_with_json(P.orders_page([]))
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)).isoformat()
    saved: list[dict[str, Any]] = []
    adapter = make_adapter(httpserver, saved, access_token_expires_at=past)
    adapter.orders_page(since=SINCE, page=None)
    adapter.orders_page(since=SINCE, page=None)  # the fresh token is kept for the next call
    assert [request.path for request, _ in httpserver.log] == [TOKEN, ORDERS, ORDERS]
    assert saved[0]["access_token"] == "v^1.1#fresh-token"

    httpserver.clear_log()
    make_adapter(httpserver, access_token=None, scope=None).orders_page(since=SINCE, page=None)
    (grant,) = requests_to(httpserver, TOKEN)
    assert "scope" not in grant.form  # optional: the refresh token's own scopes apply


def test_a_refused_refresh_token_is_permanent(httpserver):
    httpserver.expect_request(TOKEN, method="POST").respond_with_json(
        {"error": "invalid_grant", "error_description": "the refresh token is invalid"}, 400
    )
    with pytest.raises(PermanentError, match="invalid_grant"):
        make_adapter(httpserver, access_token=None).orders_page(since=SINCE, page=None)
    assert requests_to(httpserver, ORDERS) == []


# --- webhooks -------------------------------------------------------------------------------


@pytest.fixture
def signer(httpserver) -> P.Signer:
    signer = P.Signer()
    httpserver.expect_request(
        f"/commerce/notification/v1/public_key/{signer.kid}", method="GET"
    ).respond_with_json(signer.public_key_answer())
    httpserver.expect_request(TOKEN, method="POST").respond_with_json(
        P.token_answer("v^1.1#application-token", user=False)
    )
    return signer


def _body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def test_a_good_signature_gives_the_delivery_and_the_key_is_cached(httpserver, signer):
    body = _body(P.notification())
    adapter = make_adapter(httpserver)
    headers = {"x-ebay-signature": signer.header(body), "Content-Type": "application/json"}

    delivery = adapter.webhook_verify(headers=headers, body=body, url="https://oms.test/hooks/ebay")
    again = adapter.webhook_verify(headers=headers, body=body, url="https://oms.test/hooks/ebay")

    assert delivery.delivery_id == "5f6a8c1e-6ab2-4d2b-9b8e-2e1c5a7d9f00_2a1b3c4d"
    assert delivery.topic == "ORDER_CONFIRMATION"
    assert delivery.payload["notification"]["data"] == {"orderId": "04-11111-22222"}
    assert again.delivery_id == delivery.delivery_id
    (key_call,) = requests_to(httpserver, f"/commerce/notification/v1/public_key/{signer.kid}")
    assert key_call.headers["Authorization"] == "Bearer v^1.1#application-token"
    (grant,) = requests_to(httpserver, TOKEN)
    assert grant.form.to_dict() == {
        "grant_type": "client_credentials",
        "scope": "https://api.ebay.com/oauth/api_scope",
    }


def test_a_bad_signature_is_refused(httpserver, signer):
    body = _body(P.notification())
    adapter = make_adapter(httpserver)
    stranger = P.Signer(kid=signer.kid)  # another key under the same kid
    tampered = body.replace(b"04-11111-22222", b"04-66666-77777")
    cases = {
        "tampered body": ({"X-EBAY-SIGNATURE": signer.header(body)}, tampered),
        "other key": ({"X-EBAY-SIGNATURE": stranger.header(body)}, body),
        "no header": ({}, body),
        "not base64": ({"X-EBAY-SIGNATURE": "%%%not-base64%%%"}, body),
        "not json": ({"X-EBAY-SIGNATURE": base64.b64encode(b"ecdsa").decode()}, body),
        "no kid": (
            {"X-EBAY-SIGNATURE": base64.b64encode(b'{"signature": "AAAA"}').decode()},
            body,
        ),
    }
    accepted = []
    for name, (headers, raw) in cases.items():
        try:
            adapter.webhook_verify(headers=headers, body=raw, url="")
        except SignatureInvalid:
            continue
        accepted.append(name)
    assert accepted == []


def test_an_unknown_key_id_is_a_bad_signature(httpserver, signer):
    httpserver.expect_request("/commerce/notification/v1/public_key/unknown-kid").respond_with_json(
        {"errors": [{"errorId": 195001, "message": "Public key not found"}]}, status=404
    )
    body = _body(P.notification())
    with pytest.raises(SignatureInvalid):
        make_adapter(httpserver).webhook_verify(
            headers={"X-EBAY-SIGNATURE": signer.header(body, kid="unknown-kid")}, body=body, url=""
        )


def test_webhook_orders_fetches_the_order_of_an_order_topic(httpserver):
    httpserver.expect_request(f"{ORDERS}/04-11111-22222", method="GET").respond_with_json(
        P.ebay_order()
    )
    adapter = make_adapter(httpserver)
    payload = P.notification()
    page = adapter.webhook_orders(WebhookDelivery("n-1", "ORDER_CONFIRMATION", payload))
    assert [o.external_id for o in page.orders] == ["04-11111-22222"]
    (fetch,) = requests_to(httpserver, f"{ORDERS}/04-11111-22222")
    assert fetch.args["fieldGroups"] == "TAX_BREAKDOWN"
    assert fetch.headers["Authorization"] == "Bearer v^1.1#valid-token"

    other = P.notification("MARKETPLACE_ACCOUNT_DELETION", data={"username": "buyer_one"})
    ignored = adapter.webhook_orders(WebhookDelivery("n-2", "MARKETPLACE_ACCOUNT_DELETION", other))
    assert ignored.orders == []
    no_id = P.notification(data={})
    empty = adapter.webhook_orders(WebhookDelivery("n-3", "ORDER_CONFIRMATION", no_id))
    assert empty.orders == []
    assert "no orderId" in empty.failures[0].reason
    assert len(httpserver.log) == 1


def test_the_endpoint_challenge_response():
    expected = hashlib.sha256(b"a8628072-3d33-45ee-9004-bee86830a22dtok-123https://oms.test/e")
    assert (
        challenge_response("a8628072-3d33-45ee-9004-bee86830a22d", "tok-123", "https://oms.test/e")
        == expected.hexdigest()
    )
    assert EbayAdapter.challenge_response("a", "b", "c") == hashlib.sha256(b"abc").hexdigest()


# --- stock ----------------------------------------------------------------------------------


def _stock_handler(request: Request):
    from werkzeug import Response

    answers = []
    for entry in request.get_json()["requests"]:
        sku = entry["sku"]
        if sku == "SKU-03":
            answers.append(P.sku_error(sku, 25702, "SKU SKU-03 is not available in the system"))
        elif sku == "SKU-07":
            continue  # eBay says nothing of it
        else:
            answers.append(P.sku_ok(sku))
            if "offers" in entry:
                answers.append(P.sku_ok(sku, entry["offers"][0]["offerId"]))
    status = 207 if len(answers) != len(request.get_json()["requests"]) else 200
    return Response(json.dumps(P.bulk_answer(answers)), status, content_type="application/json")


def test_stock_is_pushed_25_skus_a_call_with_per_sku_errors(httpserver):
    httpserver.expect_request(STOCK, method="POST").respond_with_handler(_stock_handler)
    items = [StockItem(sku=f"SKU-{n:02d}", quantity=n) for n in range(30)]
    items[1] = StockItem(sku="SKU-01", quantity=-4)  # never negative
    items[2] = StockItem(sku="SKU-02", quantity=9, external_id="5005317010")

    results = make_adapter(httpserver).stock_push(items)

    calls = requests_to(httpserver, STOCK)
    assert [len(call.get_json()["requests"]) for call in calls] == [25, 5]
    sent = calls[0].get_json()["requests"]
    assert sent[0] == {"sku": "SKU-00", "shipToLocationAvailability": {"quantity": 0}}
    assert sent[1] == {"sku": "SKU-01", "shipToLocationAvailability": {"quantity": 0}}
    assert sent[2] == {
        "sku": "SKU-02",
        "shipToLocationAvailability": {"quantity": 9},
        "offers": [{"offerId": "5005317010", "availableQuantity": 9}],
    }
    assert calls[1].get_json()["requests"][-1]["sku"] == "SKU-29"
    assert calls[0].headers["Authorization"] == "Bearer v^1.1#valid-token"
    by_sku = {r.sku: r for r in results}
    assert len(results) == 30
    assert by_sku["SKU-03"].ok is False
    assert "25702" in by_sku["SKU-03"].error
    assert by_sku["SKU-07"].ok is False
    assert all(r.ok for sku, r in by_sku.items() if sku not in ("SKU-03", "SKU-07"))


def test_a_stock_call_refused_whole_fails_only_its_skus(httpserver):
    httpserver.expect_ordered_request(STOCK, method="POST").respond_with_json(
        P.bulk_answer([P.sku_ok(f"A-{n:02d}") for n in range(25)])
    )
    httpserver.expect_ordered_request(STOCK, method="POST").respond_with_json(
        {"errors": [{"errorId": 25001, "message": "A system error has occurred"}]}, status=400
    )
    items = [StockItem(sku=f"A-{n:02d}", quantity=1) for n in range(27)]
    results = make_adapter(httpserver).stock_push(items)
    assert [r.ok for r in results] == [True] * 25 + [False, False]
    assert "400" in results[-1].error


# --- fulfilment, cancellation, refund -------------------------------------------------------


def _shipment(**changes: Any) -> FulfilmentPush:
    values: dict[str, Any] = {
        "order_external_id": "04-11111-22222",
        "reference": "SH-000123",
        "lines": [
            FulfilmentLine(external_line_id="10000000001001", sku="MUG-BLUE", quantity=3),
            FulfilmentLine(external_line_id="10000000002002", sku="TEE-M", quantity=1),
        ],
        "carrier": "ups",
        "service": "ground",
        "tracking_number": "1Z 999 AA1 0123456784",
        "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
        "shipped_at": dt.datetime(2024, 5, 2, 13, 4, 5, 123456, tzinfo=dt.UTC),
    }
    return FulfilmentPush(**{**values, **changes})


def test_a_shipment_is_reported_and_the_location_gives_its_id(httpserver):
    path = f"{ORDERS}/04-11111-22222/shipping_fulfillment"
    location = httpserver.url_for(f"{path}/1Z999AA10123456784")
    httpserver.expect_request(path, method="POST").respond_with_data(
        "", status=201, headers={"Location": location}
    )
    result = make_adapter(httpserver).fulfilment_push(_shipment())

    (sent,) = requests_to(httpserver, path)
    assert sent.get_json() == {
        "lineItems": [
            {"lineItemId": "10000000001001", "quantity": 3},
            {"lineItemId": "10000000002002", "quantity": 1},
        ],
        "shippedDate": "2024-05-02T13:04:05.123Z",
        "shippingCarrierCode": "UPS",
        "trackingNumber": "1Z999AA10123456784",
    }
    assert sent.headers["Content-Type"] == "application/json"
    assert result.external_id == "1Z999AA10123456784"
    assert result.detail["location"] == location


def test_a_repeated_shipment_answers_the_fulfillment_ebay_has(httpserver):
    path = f"{ORDERS}/04-11111-22222/shipping_fulfillment"
    httpserver.expect_request(path, method="POST").respond_with_json(
        {"errors": [{"errorId": 34500, "message": "Please use PUT for updating"}]}, status=400
    )
    httpserver.expect_request(path, method="GET").respond_with_json(
        {
            "fulfillments": [
                {
                    "fulfillmentId": "1Z999AA10123456784",
                    "shipmentTrackingNumber": "1Z999AA10123456784",
                    "shippingCarrierCode": "UPS",
                    "shippedDate": "2024-05-02T13:04:05.123Z",
                    "lineItems": [{"lineItemId": "10000000001001", "quantity": 3}],
                }
            ],
            "total": 1,
        }
    )
    result = make_adapter(httpserver).fulfilment_push(_shipment())
    assert result.external_id == "1Z999AA10123456784"
    assert result.detail == {"already_reported": True}

    with pytest.raises(PermanentError):  # another tracking number: eBay's refusal stands
        make_adapter(httpserver).fulfilment_push(_shipment(tracking_number="1Z0000000000000000"))


def test_a_cancellation_goes_to_the_post_order_api(httpserver):
    httpserver.expect_request(f"{ORDERS}/04-11111-22222", method="GET").respond_with_json(
        P.ebay_order()
    )
    httpserver.expect_request("/post-order/v2/cancellation", method="POST").respond_with_json(
        {"cancelId": "5000123456"}, status=201
    )
    adapter = make_adapter(httpserver, marketplace_id="EBAY_GB")
    result = adapter.cancel_push(
        CancelPush(order_external_id="04-11111-22222", reference="CX-1", reason="out of stock")
    )
    (sent,) = requests_to(httpserver, "/post-order/v2/cancellation")
    assert sent.get_json() == {
        "legacyOrderId": "110551234567-27612345001",
        "cancelReason": "OUT_OF_STOCK_OR_CANNOT_FULFILL",
    }
    assert sent.headers["Authorization"] == "IAF v^1.1#valid-token"
    assert sent.headers["X-EBAY-C-MARKETPLACE-ID"] == "EBAY_GB"
    assert result.external_id == "5000123456"

    with pytest.raises(NotSupported):  # eBay cancels whole orders only
        adapter.cancel_push(
            CancelPush(
                order_external_id="04-11111-22222",
                reference="CX-2",
                reason="customer request",
                lines=[FulfilmentLine("10000000002002", "TEE-M", 1)],
            )
        )
    assert len(requests_to(httpserver, "/post-order/v2/cancellation")) == 1


def test_a_refund_is_issued_at_order_level(httpserver):
    path = f"{ORDERS}/04-11111-22222/issue_refund"
    httpserver.expect_request(path, method="POST").respond_with_json(
        {"refundId": "5010234567", "refundStatus": "PENDING"}
    )
    result = make_adapter(httpserver).refund_push(
        RefundPush(
            order_external_id="04-11111-22222",
            reference="RF-77",
            amount=Decimal("19.9"),
            currency="usd",
            reason="return",
        )
    )
    (sent,) = requests_to(httpserver, path)
    assert sent.get_json() == {
        "reasonForRefund": "BUYER_RETURN",
        "comment": "RF-77: return",
        "orderLevelRefundAmount": {"value": "19.90", "currency": "USD"},
    }
    assert result.external_id == "5010234567"


def _order_with_refunds(*refunds: dict[str, Any]) -> dict[str, Any]:
    order = P.ebay_order("04-11111-22222")
    order["paymentSummary"]["refunds"] = list(refunds)
    return order


def _ebay_refund(refund_id: str, value: str, status: str = "REFUNDED") -> dict[str, Any]:
    return {
        "refundId": refund_id,
        "refundReferenceId": f"ref-{refund_id}",
        "refundDate": "2024-05-02T10:00:00.000Z",
        "refundStatus": status,
        "amount": P.amount(value),
    }


def test_a_refund_whose_answer_was_lost_is_found_among_the_order_s_refunds(httpserver):
    """issueRefund takes no key of ours: the refund of the amount asked for that is none of
    the refunds we know already is the one our lost call made."""
    httpserver.expect_request(f"{ORDERS}/04-11111-22222", method="GET").respond_with_json(
        _order_with_refunds(
            _ebay_refund("5010000001", "19.90"),  # an earlier refund of ours, same amount
            _ebay_refund("5010000002", "5.00", status="FAILED"),
            _ebay_refund("5010000003", "19.90", status="PENDING"),
        )
    )
    wanted = RefundPush(
        order_external_id="04-11111-22222",
        reference="RF-78",
        amount=Decimal("19.9"),
        currency="USD",
        reason="",
        move_money=True,
    )
    found = make_adapter(httpserver).refund_lookup(wanted, {"5010000001"})
    assert found is not None
    assert found.external_id == "5010000003"
    assert make_adapter(httpserver).refund_lookup(wanted, {"5010000001", "5010000003"}) is None
    assert make_adapter(httpserver).refund_state("04-11111-22222", "5010000003") == "PENDING"
    assert make_adapter(httpserver).refund_state("04-11111-22222", "5010000001") == "REFUNDED"
    assert make_adapter(httpserver).refund_state("04-11111-22222", "nope") == ""
    assert not requests_to(httpserver, f"{ORDERS}/04-11111-22222/issue_refund")
