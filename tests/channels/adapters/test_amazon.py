"""The Amazon SP-API adapter against a local fake SP-API and LWA (pytest-httpserver)."""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from channels.adapters import adapter_class
from channels.adapters.amazon import AmazonAdapter
from channels.adapters.base import (
    FULFILLED_BY_CHANNEL,
    FULFILLED_BY_US,
    AdapterContext,
    CancelPush,
    FulfilmentLine,
    FulfilmentPush,
    NotSupported,
    RateLimited,
    RateLimiter,
    RefundPush,
    StockItem,
)
from oms.errors import PermanentError, TransientError
from tests.channels.adapters import amazon_payloads as P
from tests.conftest import cache_clear

ORDERS = "/orders/2026-01-01/orders"
LWA = "/auth/o2/token"
SINCE = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"the adapter tried to sleep {seconds}s")


@pytest.fixture(autouse=True)
def _clear_rate_limits() -> None:
    cache_clear()  # a 429 in one test must not block the next one


@pytest.fixture
def saved() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def make(httpserver: HTTPServer, saved: list[dict[str, Any]]) -> Callable[..., AmazonAdapter]:
    def build(**credentials: Any) -> AmazonAdapter:
        creds = {
            "refresh_token": "Atzr|refresh",
            "client_id": "amzn1.application-oa2-client.test",
            "client_secret": "s3cret",
            "seller_id": P.SELLER_ID,
            "marketplace_id": P.MARKETPLACE_DE,
            "base_url": httpserver.url_for(""),
            "lwa_url": httpserver.url_for(LWA),
            **credentials,
        }
        context = AdapterContext(
            channel_code="amazon-de",
            currency="EUR",
            credentials={k: v for k, v in creds.items() if v is not None},
            save_credentials=saved.append,
        )
        return AmazonAdapter(context, limiter=RateLimiter(max_wait=0, sleep=_no_sleep))

    return build


def _lwa(httpserver: HTTPServer, token: str = "Atza|first") -> None:
    httpserver.expect_request(LWA, method="POST").respond_with_json(P.lwa_token(token))


def _requests(httpserver: HTTPServer, path: str) -> list[Request]:
    return [request for request, _ in httpserver.log if request.path == path]


# --- auth ----------------------------------------------------------------------------------------


def test_the_token_is_fetched_once_saved_and_reused(httpserver, make, saved):
    _lwa(httpserver)
    httpserver.expect_request(ORDERS, method="GET").respond_with_json(P.search_answer())
    adapter = make()

    adapter.orders_page(since=SINCE, page=None)
    adapter.orders_page(since=SINCE, page=None)

    (token_call,) = _requests(httpserver, LWA)
    assert token_call.form.to_dict() == {
        "grant_type": "refresh_token",
        "refresh_token": "Atzr|refresh",
        "client_id": "amzn1.application-oa2-client.test",
        "client_secret": "s3cret",
    }
    calls = _requests(httpserver, ORDERS)
    assert [c.headers["x-amz-access-token"] for c in calls] == ["Atza|first", "Atza|first"]
    assert len(saved) == 1
    assert saved[0]["access_token"] == "Atza|first"
    assert saved[0]["refresh_token"] == "Atzr|refresh"  # the other credentials are kept
    expires = dt.datetime.fromisoformat(saved[0]["access_token_expires_at"])
    left = (expires - dt.datetime.now(dt.UTC)).total_seconds()
    assert 3500 < left <= 3600

    # Another worker starting from the saved credentials asks LWA nothing.
    make(**saved[0]).orders_page(since=SINCE, page=None)
    assert len(_requests(httpserver, LWA)) == 1
    assert _requests(httpserver, ORDERS)[-1].headers["x-amz-access-token"] == "Atza|first"


def test_an_expired_cached_token_is_refreshed_before_the_call(httpserver, make, saved):
    _lwa(httpserver, "Atza|fresh")
    httpserver.expect_request(ORDERS).respond_with_json(P.search_answer())
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    adapter = make(access_token="Atza|old", access_token_expires_at=past)

    adapter.orders_page(since=SINCE, page=None)

    assert len(_requests(httpserver, LWA)) == 1
    assert _requests(httpserver, ORDERS)[0].headers["x-amz-access-token"] == "Atza|fresh"
    assert saved[-1]["access_token"] == "Atza|fresh"


@pytest.mark.parametrize(
    ("status", "body"),
    [(403, P.EXPIRED_TOKEN), (401, P.error_list("Unauthorized", "Access denied."))],
)
def test_a_rejected_token_is_refreshed_and_the_call_retried_once(
    httpserver, make, saved, status, body
):
    _lwa(httpserver, "Atza|second")
    httpserver.expect_request(
        ORDERS, headers={"x-amz-access-token": "Atza|stale"}
    ).respond_with_json(body, status=status)
    httpserver.expect_request(
        ORDERS, headers={"x-amz-access-token": "Atza|second"}
    ).respond_with_json(P.search_answer(P.unshipped_order()))
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)).isoformat()
    adapter = make(access_token="Atza|stale", access_token_expires_at=later)

    page = adapter.orders_page(since=SINCE, page=None)

    assert [o.external_id for o in page.orders] == ["302-1111111-2222222"]
    tokens = [c.headers["x-amz-access-token"] for c in _requests(httpserver, ORDERS)]
    assert tokens == ["Atza|stale", "Atza|second"]
    assert len(_requests(httpserver, LWA)) == 1
    assert saved[-1]["access_token"] == "Atza|second"


def test_a_token_still_refused_after_one_refresh_is_permanent(httpserver, make):
    _lwa(httpserver, "Atza|second")
    httpserver.expect_request(ORDERS).respond_with_json(P.EXPIRED_TOKEN, status=403)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)).isoformat()
    adapter = make(access_token="Atza|stale", access_token_expires_at=later)

    with pytest.raises(PermanentError, match="expired"):
        adapter.orders_page(since=SINCE, page=None)

    assert len(_requests(httpserver, ORDERS)) == 2
    assert len(_requests(httpserver, LWA)) == 1


def test_a_403_that_is_not_about_the_token_does_not_refresh(httpserver, make):
    _lwa(httpserver)
    httpserver.expect_request(ORDERS).respond_with_json(
        P.error_list("InvalidInput", "Marketplace not allowed for this seller."), status=403
    )

    with pytest.raises(PermanentError, match="Marketplace not allowed"):
        make().orders_page(since=SINCE, page=None)

    assert len(_requests(httpserver, ORDERS)) == 1
    assert len(_requests(httpserver, LWA)) == 1  # the first token only


def test_lwa_refusing_the_refresh_token_is_permanent(httpserver, make):
    httpserver.expect_request(LWA, method="POST").respond_with_json(
        {
            "error_description": "The request has an invalid grant parameter",
            "error": "invalid_grant",
        },
        status=400,
    )

    with pytest.raises(PermanentError, match="invalid_grant"):
        make().orders_page(since=SINCE, page=None)
    assert _requests(httpserver, ORDERS) == []


def test_missing_credentials_are_named(httpserver, make):
    with pytest.raises(PermanentError, match="client_secret"):
        make(client_secret=None).orders_page(since=SINCE, page=None)
    with pytest.raises(PermanentError, match="seller_id"):
        make(seller_id=None).stock_push([StockItem("MUG-RED", 1)])
    assert httpserver.log == []


# --- orders: the calls -----------------------------------------------------------------------


def test_search_orders_query_and_pagination(httpserver, make):
    pages = {
        None: P.search_answer(P.unshipped_order("302-0000000-0000001"), next_token="tok+2/=="),
        "tok+2/==": P.search_answer(P.unshipped_order("302-0000000-0000002")),
    }

    def search(request: Request) -> Response:
        answer = pages[request.args.get("paginationToken")]
        return Response(json.dumps(answer), content_type="application/json")

    _lwa(httpserver)
    httpserver.expect_request(ORDERS, method="GET").respond_with_handler(search)
    adapter = make()

    first = adapter.orders_page(since=SINCE, page=None)
    # The engine may come back with a later watermark: page 2 keeps the filter it was issued for.
    second = adapter.orders_page(since=SINCE + dt.timedelta(hours=1), page=first.next_page)

    assert [o.external_id for o in first.orders] == ["302-0000000-0000001"]
    assert first.next_page is not None
    assert [o.external_id for o in second.orders] == ["302-0000000-0000002"]
    assert second.next_page is None
    one, two = (c.args.to_dict() for c in _requests(httpserver, ORDERS))
    assert one == {
        "lastUpdatedAfter": "2026-03-02T09:00:00Z",
        "marketplaceIds": P.MARKETPLACE_DE,
        "includedData": "BUYER,RECIPIENT,PROCEEDS,CANCELLATION,FULFILLMENT",
        "maxResultsPerPage": "100",
    }
    assert two == {**one, "paginationToken": "tok+2/=="}


def test_a_429_raises_rate_limited_and_blocks_the_key(httpserver, make):
    _lwa(httpserver)
    httpserver.expect_request(ORDERS).respond_with_json(
        P.error_list("QuotaExceeded", "You exceeded your quota for the requested resource."),
        status=429,
        headers={"Retry-After": "7"},
    )
    adapter = make()

    with pytest.raises(RateLimited) as raised:
        adapter.orders_page(since=SINCE, page=None)
    assert raised.value.retry_after == 7
    # Every worker on this seller's key now waits without calling Amazon.
    with pytest.raises(RateLimited):
        make().orders_page(since=SINCE, page=None)
    assert len(_requests(httpserver, ORDERS)) == 1


def test_a_429_without_retry_after_waits_for_the_search_orders_refill(httpserver, make):
    _lwa(httpserver)
    httpserver.expect_request(ORDERS).respond_with_json(
        P.error_list("QuotaExceeded", "You exceeded your quota."), status=429
    )

    with pytest.raises(RateLimited) as raised:
        make().orders_page(since=SINCE, page=None)
    assert raised.value.retry_after == 180


@pytest.mark.parametrize("status", [500, 503])
def test_a_server_error_is_transient(httpserver, make, status):
    _lwa(httpserver)
    httpserver.expect_request(ORDERS).respond_with_json(
        P.error_list("InternalFailure", "We encountered an internal error."), status=status
    )

    with pytest.raises(TransientError) as raised:
        make().orders_page(since=SINCE, page=None)
    assert not isinstance(raised.value, RateLimited)
    assert str(status) in str(raised.value)


@pytest.mark.parametrize(
    "answer",
    [
        Response("<html>Service Unavailable</html>", status=200, content_type="text/html"),
        Response(json.dumps([{"orderId": "x"}]), status=200, content_type="application/json"),
        Response(json.dumps({"orders": {"orderId": "x"}}), content_type="application/json"),
        Response(json.dumps({"payload": {"Orders": []}}), content_type="application/json"),
    ],
    ids=["html", "list", "orders-not-a-list", "v0-shape"],
)
def test_garbage_is_permanent(httpserver, make, answer):
    _lwa(httpserver)
    httpserver.expect_request(ORDERS).respond_with_response(answer)

    with pytest.raises(PermanentError):
        make().orders_page(since=SINCE, page=None)


def test_a_malformed_order_is_a_record_failure_and_the_others_map(httpserver, make):
    no_sku = P.unshipped_order("302-2222222-0000002")
    del no_sku["orderItems"][0]["product"]["sellerSku"]
    bad_price = P.unshipped_order("302-2222222-0000003")
    bad_price["orderItems"][0]["product"]["price"]["unitPrice"]["amount"] = "twelve"
    no_date = P.unshipped_order("302-2222222-0000004")
    del no_date["lastUpdatedTime"]
    mixed = P.unshipped_order("302-2222222-0000005")
    mixed["proceeds"]["grandTotal"]["currencyCode"] = "GBP"
    _lwa(httpserver)
    answer = P.search_answer(
        P.unshipped_order("302-2222222-0000001"), no_sku, bad_price, no_date, mixed
    )
    answer["orders"].append("not an order")
    httpserver.expect_request(ORDERS).respond_with_json(answer)

    page = make().orders_page(since=SINCE, page=None)

    assert [o.external_id for o in page.orders] == ["302-2222222-0000001"]
    reasons = {f.external_id: f.reason for f in page.failures}
    assert set(reasons) == {
        "302-2222222-0000002",
        "302-2222222-0000003",
        "302-2222222-0000004",
        "302-2222222-0000005",
        "",
    }
    assert "sellerSku" in reasons["302-2222222-0000002"]
    assert "twelve" in reasons["302-2222222-0000003"]
    assert "lastUpdatedTime" in reasons["302-2222222-0000004"]
    assert "EUR, GBP" in reasons["302-2222222-0000005"]
    failed = next(f for f in page.failures if f.external_id == "302-2222222-0000002")
    assert failed.raw["orderId"] == "302-2222222-0000002"  # the payload is kept


# --- orders: the mapping ---------------------------------------------------------------------


def _one(httpserver, make, order: dict[str, Any], **credentials: Any):
    _lwa(httpserver)
    httpserver.expect_request(ORDERS).respond_with_json(P.search_answer(order))
    page = make(**credentials).orders_page(since=SINCE, page=None)
    assert page.failures == []
    (mapped,) = page.orders
    return mapped


def test_an_unshipped_mfn_order_is_paid_with_per_unit_prices(httpserver, make):
    order = _one(httpserver, make, P.unshipped_order())

    assert order.external_id == order.external_number == "302-1111111-2222222"
    assert order.updated_at == dt.datetime(2026, 3, 2, 10, 15, tzinfo=dt.UTC)
    assert order.placed_at == dt.datetime(2026, 3, 2, 9, 58, tzinfo=dt.UTC)
    assert order.payment_status == "paid"
    assert order.fulfilled_by == FULFILLED_BY_US
    assert order.cancelled is False
    assert order.currency == "EUR"
    assert order.lines == [
        {
            "sku": "MUG-RED",
            "quantity": 2,
            "name": "Product MUG-RED",
            "external_line_id": "49912345678901",
            "unit_price": "24.99",  # per unit: not the 49.98 line total
            "discount": "2.00",
            "tax": "7.98",
        }
    ]
    assert order.shipping_price == "4.50"
    assert order.total == "52.48"
    assert order.prices_include_tax is True  # an EU marketplace
    assert order.shipping_address == {
        "name": "Erika Mustermann",
        "line1": "Heidestrasse 17",
        "line2": "Hinterhaus, 3. OG",
        "city": "Koeln",
        "region": "NRW",
        "postal_code": "51147",
        "country": "DE",
        "phone": "+49 221 1234567",
    }
    assert order.customer == {
        "email": "abc123xyz@marketplace.amazon.de",
        "first_name": "Erika",
        "last_name": "Mustermann",
        "phone": "+49 221 1234567",
    }
    assert order.raw["orderAliases"][0]["aliasId"] == "SELLER-7"
    # What capture computes from the lines agrees with Amazon's total.
    line = order.lines[0]
    computed = (
        Decimal(line["unit_price"]) * line["quantity"]
        - Decimal(line["discount"])
        + Decimal(order.shipping_price)
    )
    assert computed == Decimal(order.total)


def test_a_line_total_is_divided_into_a_unit_price(httpserver, make):
    order = _one(httpserver, make, P.line_total_only_order())

    # 10.00 for 3: the unit price rounded up, what that adds given back as discount, so the
    # line costs 10.00 (3 x 3.33 would lose a cent and hold the order as a totals mismatch).
    line = order.lines[0]
    assert line["quantity"] == 3
    assert line["unit_price"] == "3.34"
    assert line["discount"] == "0.02"
    assert Decimal(line["unit_price"]) * 3 - Decimal(line["discount"]) == Decimal("10.00")


def test_a_pending_order_has_no_address_and_is_pending(httpserver, make):
    order = _one(httpserver, make, P.pending_order())

    assert order.payment_status == "pending"
    assert order.shipping_address == {}  # sent by the fake, dropped: it must not be routed
    assert order.capture_kwargs()["shipping_address"] is None
    assert order.cancelled is False
    assert order.lines[0]["sku"] == "MUG-RED"


def test_an_fba_order_is_fulfilled_by_the_channel(httpserver, make):
    order = _one(httpserver, make, P.fba_order())

    assert order.fulfilled_by == FULFILLED_BY_CHANNEL
    assert order.payment_status == "paid"


def test_a_cancelled_order(httpserver, make):
    cancelled = P.cancelled_order()
    cancelled["orderItems"].append(P._item("49900000000009", "MUG-BLUE", 1, "9.00", currency="EUR"))
    order = _one(httpserver, make, cancelled)

    assert order.cancelled is True
    assert order.cancel_reason == "Buyer asked"
    assert order.payment_status == "voided"
    assert [line["sku"] for line in order.lines] == ["MUG-BLUE"]  # the 0-unit item is left out


def test_us_prices_exclude_tax_and_the_currency_comes_from_the_money(httpserver, make):
    us = P.unshipped_order()
    us["salesChannel"]["marketplaceId"] = P.MARKETPLACE_US
    us["proceeds"]["grandTotal"]["amount"] = "60.46"  # 52.48 and the 7.98 tax on top
    text = json.dumps(us).replace('"EUR"', '"USD"')
    order = _one(httpserver, make, json.loads(text), marketplace_id=P.MARKETPLACE_US)

    assert order.currency == "USD"
    assert order.prices_include_tax is False


def test_the_amounts_decide_whether_prices_include_tax_not_the_marketplace(httpserver, make):
    """A US order whose total has the tax inside (the items and shipping alone make it) is
    read as tax-inclusive: the data wins over the marketplace's convention."""
    us = P.unshipped_order()
    us["salesChannel"]["marketplaceId"] = P.MARKETPLACE_US
    order = _one(httpserver, make, us, marketplace_id=P.MARKETPLACE_US)

    assert order.prices_include_tax is True


def test_the_orders_of_a_page_come_oldest_change_first(httpserver, make):
    _lwa(httpserver)
    httpserver.expect_request(ORDERS).respond_with_json(
        P.search_answer(
            P.unshipped_order("302-0000000-0000009", updated="2026-03-02T12:00:00Z"),
            P.unshipped_order("302-0000000-0000008", updated="2026-03-02T11:00:00Z"),
        )
    )

    page = make().orders_page(since=SINCE, page=None)

    assert [o.external_id for o in page.orders] == ["302-0000000-0000008", "302-0000000-0000009"]


# --- stock -------------------------------------------------------------------------------------


def _listing_path(sku: str) -> str:
    return f"/listings/2021-08-01/items/{P.SELLER_ID}/{sku}"


def test_stock_push_patches_fulfillment_availability_per_sku(httpserver, make):
    _lwa(httpserver)
    httpserver.expect_request(_listing_path("MUG-RED"), method="PATCH").respond_with_json(
        P.listing_accepted("MUG-RED")
    )
    httpserver.expect_request(_listing_path("MUG/BLUE 2"), method="PATCH").respond_with_json(
        P.listing_accepted("MUG/BLUE 2")
    )

    results = make().stock_push([StockItem("MUG-RED", 7), StockItem("MUG/BLUE 2", 0)])

    assert [(r.sku, r.ok, r.error) for r in results] == [
        ("MUG-RED", True, ""),
        ("MUG/BLUE 2", True, ""),
    ]
    red, blue = _requests(httpserver, _listing_path("MUG-RED")) + _requests(
        httpserver, _listing_path("MUG/BLUE 2")
    )
    assert red.args.to_dict() == {"marketplaceIds": P.MARKETPLACE_DE}
    assert red.headers["x-amz-access-token"] == "Atza|first"
    assert red.get_json() == {
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 7}],
            }
        ],
    }
    # The SKU travels as one path segment (werkzeug decodes %2F in .path, not in RAW_URI).
    assert blue.environ["RAW_URI"].startswith(
        f"/listings/2021-08-01/items/{P.SELLER_ID}/MUG%2FBLUE%202?"
    )
    assert blue.get_json()["patches"][0]["value"][0]["quantity"] == 0


def test_an_invalid_submission_or_a_refused_sku_fails_only_that_sku(httpserver, make):
    _lwa(httpserver)
    httpserver.expect_request(_listing_path("BAD"), method="PATCH").respond_with_json(
        P.listing_invalid("BAD")
    )
    httpserver.expect_request(_listing_path("GONE"), method="PATCH").respond_with_json(
        P.error_list("NOT_FOUND", "SKU not found"), status=404
    )
    httpserver.expect_request(_listing_path("OK"), method="PATCH").respond_with_json(
        P.listing_accepted("OK")
    )

    results = make(product_type="HOME").stock_push(
        [StockItem("BAD", 1), StockItem("GONE", 2), StockItem("OK", 3)]
    )

    bad, gone, fine = results
    assert (bad.sku, bad.ok) == ("BAD", False)
    assert "90220" in bad.error
    assert "fulfillment_availability" in bad.error
    assert (gone.sku, gone.ok) == ("GONE", False)
    assert "404" in gone.error
    assert "SKU not found" in gone.error
    assert (fine.sku, fine.ok) == ("OK", True)
    sent = _requests(httpserver, _listing_path("OK"))[0].get_json()
    assert sent["productType"] == "HOME"


def test_a_throttled_stock_push_raises(httpserver, make):
    _lwa(httpserver)
    httpserver.expect_request(_listing_path("MUG-RED"), method="PATCH").respond_with_json(
        P.error_list("QuotaExceeded", "You exceeded your quota."),
        status=429,
        headers={"Retry-After": "2"},
    )

    with pytest.raises(RateLimited):
        make().stock_push([StockItem("MUG-RED", 1), StockItem("MUG-BLUE", 1)])
    assert len(_requests(httpserver, _listing_path("MUG-RED"))) == 1


# --- fulfilment --------------------------------------------------------------------------------

CONFIRM = "/orders/v0/orders/302-1111111-2222222/shipmentConfirmation"


def _push(carrier: str = "DHL", **changes: Any) -> FulfilmentPush:
    fields: dict[str, Any] = {
        "order_external_id": "302-1111111-2222222",
        "reference": "SH-000123",
        "lines": [FulfilmentLine(external_line_id="49912345678901", sku="MUG-RED", quantity=2)],
        "carrier": carrier,
        "service": "Paket",
        "tracking_number": "00340434161234567890",
        "tracking_url": "https://example.test/track/00340434161234567890",
        "shipped_at": dt.datetime(2026, 3, 3, 15, 30, 5, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    }
    fields.update(changes)
    return FulfilmentPush(**fields)


def test_confirm_shipment_body(httpserver, make):
    _lwa(httpserver)
    httpserver.expect_request(CONFIRM, method="POST").respond_with_data("", status=204)

    result = make().fulfilment_push(_push())

    (sent,) = _requests(httpserver, CONFIRM)
    assert sent.headers["x-amz-access-token"] == "Atza|first"
    assert sent.get_json() == {
        "marketplaceId": P.MARKETPLACE_DE,
        "packageDetail": {
            "packageReferenceId": "123",
            "carrierCode": "DHL",
            "shippingMethod": "Paket",
            "trackingNumber": "00340434161234567890",
            "shipDate": "2026-03-03T14:30:05Z",
            "orderItems": [{"orderItemId": "49912345678901", "quantity": 2}],
        },
    }
    assert result.external_id == "123"
    assert result.detail["reference"] == "SH-000123"


def test_an_unlisted_carrier_goes_as_other_with_its_name(httpserver, make):
    _lwa(httpserver)
    httpserver.expect_request(CONFIRM, method="POST").respond_with_data("", status=204)

    make().fulfilment_push(_push(carrier="Kurier Schmidt", reference="PARCEL-A", service=""))

    package = _requests(httpserver, CONFIRM)[0].get_json()["packageDetail"]
    assert package["carrierCode"] == "Other"
    assert package["carrierName"] == "Kurier Schmidt"
    assert "shippingMethod" not in package
    assert package["packageReferenceId"].isdigit()  # no digits in ours: a stable number
    assert package["packageReferenceId"] == str(zlib.crc32(b"PARCEL-A"))


def test_a_refused_confirmation_is_permanent(httpserver, make):
    _lwa(httpserver)
    httpserver.expect_request(CONFIRM, method="POST").respond_with_json(
        P.error_list("InvalidInput", "Invalid orderItemId"), status=400
    )

    with pytest.raises(PermanentError, match="Invalid orderItemId"):
        make().fulfilment_push(_push())


def test_a_line_without_an_order_item_id_is_not_sent(httpserver, make):
    push = _push(lines=[FulfilmentLine(external_line_id="", sku="MUG-RED", quantity=1)])

    with pytest.raises(PermanentError, match="orderItemId"):
        make().fulfilment_push(push)
    assert httpserver.log == []


# --- what Amazon does not offer ---------------------------------------------------------------


def test_webhooks_cancel_and_refund_are_not_supported(make, httpserver):
    adapter = make()
    with pytest.raises(NotSupported, match="SQS"):
        adapter.webhook_verify(headers={}, body=b"{}", url="https://oms.test/hooks/amazon")
    with pytest.raises(NotSupported):
        adapter.cancel_push(CancelPush("302-1111111-2222222", "C-1", "customer"))
    with pytest.raises(NotSupported):
        adapter.refund_push(
            RefundPush("302-1111111-2222222", "R-1", Decimal("5.00"), "EUR", "damaged")
        )
    assert httpserver.log == []


def test_the_adapter_is_found_by_its_kind():
    assert adapter_class("amazon") is AmazonAdapter
    assert AmazonAdapter.vendor == "amazon"
