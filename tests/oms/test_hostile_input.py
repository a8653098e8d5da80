"""Hostile and careless input, tried as an attacker and an integrator would, on every path.

Each row of HOSTILE is one request: (method, path, body or query, expected status, expected
`code`). Every row must answer problem JSON with that status and code, and write nothing: the
rows of every table a request could touch are counted before and after, and the figures and
settings it could change are compared. The measured 500s of the issue "Hostile input and least
privilege" are rows here (marked "measured"); the others are their neighbours.

Below the table: what is stripped rather than refused (NUL characters in vendors' signed
webhooks), the shopper's return form, the back office's forms, the CSV import, and unit tests of
the money field and the JSON guard.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from channels.models import ChannelSyncRun
from channels.services import channel_set_credentials
from fulfilment.models import Parcel, Shipment
from fulfilment.services.partners import partner_create, webhook_sign
from inventory.models import (
    Channel,
    Location,
    Sku,
    SkuPrice,
    StockLevel,
    StockMovement,
    Transfer,
)
from inventory.services import sku_price_set
from oms.api.fields import IntegerField, MoneyField, model_integer
from oms.jsonsafe import MAX_DEPTH, JsonTooDeep, check_depth, loads, strip_nul
from oms.models import InboundWebhook, OutboxMessage
from oms.roles import MANAGER
from orders.models import Customer, Order, OrderEvent, OrderHold, OrderLine
from returns.models import Refund, ReturnLine, ReturnReason, ReturnRequest
from tests.conftest import token_client
from tests.factories import ChannelFactory
from tests.fulfilment.conftest import network, put  # noqa: F401  (fixture)
from tests.returns.conftest import reasons, ship_all  # noqa: F401  (fixture)

INT_MAX = 2**31 - 1
BIG = 2**31  # one past PostgreSQL's integer
SHOPIFY_SECRET = "shpss_hostile"
INHOUSE_SECRET = "inhouse-hostile-secret"
PARTNER_KEY = b"0123456789abcdef0123456789abcdef"
PARTNER_SECRET = "whsec_" + base64.b64encode(PARTNER_KEY).decode()
LIMIT = 1024 * 1024  # OMS_MAX_BODY_BYTES


def deep(levels: int = 1000) -> bytes:
    """JSON nested `levels` deep (Python's parser dies of RecursionError around 1,000)."""
    return b'{"a":' * levels + b"1" + b"}" * levels


def big(size: int = LIMIT + 1) -> bytes:
    """A valid JSON document just over the limit."""
    return b'{"padding": "' + b"x" * size + b'"}'


def order_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "channel": "web",
        "external_id": "H-1",
        "currency": "EUR",
        "customer": {"email": "h@example.com", "first_name": "Hos", "last_name": "Tile"},
        "shipping_address": {
            "name": "Hos Tile",
            "line1": "Torstrasse 1",
            "city": "Berlin",
            "postal_code": "10119",
            "country": "DE",
        },
        "lines": [{"sku": "A", "quantity": 1, "unit_price": "10.00"}],
        "payment_status": "paid",
    }
    payload.update(changes)
    return payload


def line(**changes: Any) -> dict[str, Any]:
    return {"sku": "A", "quantity": 1, "unit_price": "10.00", **changes}


# --- the world the rows run against --------------------------------------------------------


@pytest.fixture
def world(network, reasons, settings, monkeypatch):  # noqa: F811
    """The routing network, a shipped paid order (its return authorised), an inactive channel,
    a Shopify channel with a webhook secret, the in-house carrier's and a 3PL's secrets."""
    settings.OMS_MAX_BODY_BYTES = LIMIT
    monkeypatch.setenv("OMS_INHOUSE_WEBHOOK_SECRET", INHOUSE_SECRET)
    put(network, "BER", "A", 5)
    put(network, "BER", "B", 5)
    from tests.fulfilment.conftest import order

    shipped = ship_all(order("HAMBURG", {"A": 2, "B": 1}))
    lines = {ln.sku_code: ln for ln in shipped.lines.all()}
    from returns.services import return_create

    ret = return_create(
        order=shipped.pk,
        lines=[{"order_line": lines["A"].pk, "quantity": 1, "reason": "damaged"}],
        authorise=True,
    )
    open_order = order("HAMBURG", {"C": 1})  # backordered: nothing in stock
    off = ChannelFactory(code="off", currency="EUR", is_active=False)
    shop = ChannelFactory(code="shop", kind="shopify", currency="EUR")
    channel_set_credentials(
        channel=shop,
        credentials={
            "shop": "hostile.myshopify.com",
            "access_token": "t",
            "webhook_secret": SHOPIFY_SECRET,
        },
    )
    partner_create(
        location=network["locations"]["LON"],
        name="UK Fulfilment Ltd",
        endpoint="https://partner.example/orders",
        secret=PARTNER_SECRET,
        countries="gb",
    )
    level = StockLevel.objects.get(sku__code="A", location__code="BER")
    price = sku_price_set(sku=network["skus"]["A"], currency="EUR", amount=Decimal("9.50"))
    return {
        "price": price.pk,
        "order": shipped.pk,
        "line": lines["A"].pk,
        "open_order": open_order.pk,
        "return": ret.pk,
        "channel": network["channel"].pk,
        "off": off.pk,
        "shipment": Shipment.objects.filter(order=shipped).first().pk,
        "level": level.pk,
    }


MODELS = [
    Order,
    OrderLine,
    OrderEvent,
    OrderHold,
    Customer,
    Sku,
    SkuPrice,
    Location,
    StockMovement,
    Transfer,
    Parcel,
    Refund,
    ReturnRequest,
    ReturnLine,
    ReturnReason,
    Channel,
    ChannelSyncRun,
    InboundWebhook,
    OutboxMessage,
]


def snapshot() -> dict[str, Any]:
    """What a request could write: row counts, stock figures, channel and shipment states."""
    state: dict[str, Any] = {model.__name__: model.objects.count() for model in MODELS}
    state["levels"] = sorted(
        StockLevel.objects.values_list(
            "pk", "on_hand", "reserved", "quarantined", "safety_stock", "reorder_point"
        )
    )
    state["channels"] = sorted(Channel.objects.values_list("pk", "kind", "is_active", "name"))
    state["shipments"] = sorted(Shipment.objects.values_list("pk", "status"))
    state["orders"] = sorted(Order.objects.values_list("pk", "status", "notes"))
    state["prices"] = sorted(SkuPrice.objects.values_list("pk", "currency", "amount"))
    return state


# --- signing the vendors' webhooks as they do ----------------------------------------------


def shopify_headers(body: bytes) -> dict[str, str]:
    digest = hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()
    return {
        "HTTP_X_SHOPIFY_HMAC_SHA256": base64.b64encode(digest).decode(),
        "HTTP_X_SHOPIFY_TOPIC": "orders/create",
        "HTTP_X_SHOPIFY_WEBHOOK_ID": f"wh-{hashlib.sha256(body).hexdigest()[:16]}",
    }


def inhouse_headers(body: bytes) -> dict[str, str]:
    digest = hmac.new(INHOUSE_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"HTTP_X_OMS_SIGNATURE": f"sha256={digest}"}


def partner_headers(body: bytes) -> dict[str, str]:
    stamp = int(time.time())
    msg_id = f"msg_{hashlib.sha256(body).hexdigest()[:16]}"
    return {
        "HTTP_WEBHOOK_ID": msg_id,
        "HTTP_WEBHOOK_TIMESTAMP": str(stamp),
        "HTTP_WEBHOOK_SIGNATURE": webhook_sign(
            secret=PARTNER_SECRET, msg_id=msg_id, timestamp=stamp, body=body
        ),
    }


SIGNERS: dict[str, Callable[[bytes], dict[str, str]]] = {
    "shopify": shopify_headers,
    "inhouse": inhouse_headers,
    "3pl": partner_headers,
}


# --- the table ------------------------------------------------------------------------------

Body = dict[str, Any] | list[Any] | bytes | str | None


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    path: str  # formatted with the world's ids: {order}, {line}, {return}, ...
    body: Body | Callable[[dict[str, Any]], Body] = None
    status: int = 400
    code: str = "invalid"
    sign: str = ""  # a vendor whose signature the body carries
    headers: tuple[tuple[str, str], ...] = ()
    session: bool = False  # a staff session without a CSRF token instead of an API token

    def __str__(self) -> str:
        return self.name


#: A valid new price (sku A has a default EUR price in the world): the rows change one field.
PRICE = {"sku": "A", "currency": "USD", "amount": "9.50"}


def nul(text: str = "x") -> str:
    return f"{text}\x00{text}"


HOSTILE: list[Row] = [
    # Integers bounded to their columns, and JSON integers only.
    Row(
        "measured: line quantity 2^31",
        "POST",
        "/api/v1/orders/",
        order_payload(lines=[line(quantity=BIG)]),
    ),
    Row(
        "line quantity at the maximum overflows the line total",
        "POST",
        "/api/v1/orders/",
        order_payload(lines=[line(quantity=INT_MAX)]),
    ),
    Row(
        "quantity as a string", "POST", "/api/v1/orders/", order_payload(lines=[line(quantity="2")])
    ),
    Row("quantity 2.0", "POST", "/api/v1/orders/", order_payload(lines=[line(quantity=2.0)])),
    Row("quantity true", "POST", "/api/v1/orders/", order_payload(lines=[line(quantity=True)])),
    Row("quantity 0", "POST", "/api/v1/orders/", order_payload(lines=[line(quantity=0)])),
    Row(
        "priority beyond a small integer", "POST", "/api/v1/orders/", order_payload(priority=40000)
    ),
    Row(
        "measured: stock adjustment 2^31",
        "POST",
        "/api/v1/stock-adjustments/",
        {"sku": "A", "location": "BER", "kind": "receipt", "quantity": BIG},
    ),
    Row(
        "stock adjustment as a string",
        "POST",
        "/api/v1/stock-adjustments/",
        {"sku": "A", "location": "BER", "kind": "receipt", "quantity": "5"},
    ),
    Row(
        "a receipt that would take on hand past 2^31-1",
        "POST",
        "/api/v1/stock-adjustments/",
        {"sku": "A", "location": "BER", "kind": "receipt", "quantity": INT_MAX},
    ),
    Row(
        "measured: reorder point 2^31",
        "PATCH",
        "/api/v1/stock-levels/{level}/",
        {"reorder_point": BIG},
    ),
    Row("safety stock -1", "PATCH", "/api/v1/stock-levels/{level}/", {"safety_stock": -1}),
    Row(
        "SKU weight 2^31",
        "POST",
        "/api/v1/skus/",
        {"code": "HEAVY", "name": "Heavy", "weight_grams": BIG},
    ),
    # SKU prices: a decimal string more than 0 on the currency's grid, a current ISO 4217 code.
    Row("a SKU price as a float", "POST", "/api/v1/sku-prices/", {**PRICE, "amount": 9.5}),
    Row("a SKU price as an integer", "POST", "/api/v1/sku-prices/", {**PRICE, "amount": 9}),
    Row("a SKU price with an exponent", "POST", "/api/v1/sku-prices/", {**PRICE, "amount": "1e3"}),
    Row("a SKU price of 0", "POST", "/api/v1/sku-prices/", {**PRICE, "amount": "0"}),
    Row("a negative SKU price", "POST", "/api/v1/sku-prices/", {**PRICE, "amount": "-1.00"}),
    Row("a SKU price off the grid", "POST", "/api/v1/sku-prices/", {**PRICE, "amount": "1.001"}),
    Row(
        "a yen SKU price with cents",
        "POST",
        "/api/v1/sku-prices/",
        {**PRICE, "currency": "JPY", "amount": "100.50"},
    ),
    Row("a SKU price in no currency", "POST", "/api/v1/sku-prices/", {**PRICE, "currency": "XYZ"}),
    Row(
        "a SKU price in a withdrawn currency",
        "POST",
        "/api/v1/sku-prices/",
        {**PRICE, "currency": "DEM"},
    ),
    Row("a price of an unknown SKU", "POST", "/api/v1/sku-prices/", {**PRICE, "sku": "NOPE"}),
    Row("a price on an unknown channel", "POST", "/api/v1/sku-prices/", {**PRICE, "channel": "x"}),
    Row(
        "NUL in a price's currency", "POST", "/api/v1/sku-prices/", {**PRICE, "currency": nul("E")}
    ),
    Row(
        "a second default EUR price",
        "POST",
        "/api/v1/sku-prices/",
        {**PRICE, "currency": "EUR"},
        409,
        "price_exists",
    ),
    Row("a price's currency changed", "PATCH", "/api/v1/sku-prices/{price}/", {"currency": "USD"}),
    Row("a price changed to a float", "PATCH", "/api/v1/sku-prices/{price}/", {"amount": 1.5}),
    Row("a price changed to 0", "PATCH", "/api/v1/sku-prices/{price}/", {"amount": "0.00"}),
    Row(
        "location priority past a small integer",
        "POST",
        "/api/v1/locations/",
        {"code": "NEW", "name": "New", "kind": "warehouse", "country": "DE", "priority": 40000},
    ),
    Row(
        "channel stock buffer 2^31",
        "PATCH",
        "/api/v1/channels/{channel}/",
        {"stock_buffer": BIG},
    ),
    Row(
        "transfer quantity 2^31",
        "POST",
        "/api/v1/stock-transfers/",
        {"from_location": "BER", "to_location": "MUC", "lines": [{"sku": "A", "quantity": BIG}]},
    ),
    Row(
        "cancel an order line id past a bigint",
        "POST",
        "/api/v1/orders/{open_order}/cancel/",
        {"lines": [{"line": 2**63, "quantity": 1}]},
    ),
    Row(
        "pick quantity 2^31",
        "POST",
        "/api/v1/shipments/{shipment}/pick/",
        lambda w: {"lines": [{"order_line": w["line"], "quantity": BIG}]},
    ),
    Row(
        "parcel weight 2^31",
        "POST",
        "/api/v1/shipments/{shipment}/pack/",
        {"parcels": [{"weight_grams": BIG}]},
    ),
    Row(
        "promise quantity 2^31",
        "POST",
        "/api/v1/promise/",
        {
            "channel": "web",
            "destination": {"country": "DE"},
            "lines": [{"sku": "A", "quantity": BIG}],
        },
    ),
    Row(
        "return quantity 2^31",
        "POST",
        "/api/v1/returns/",
        lambda w: {
            "order": w["order"],
            "lines": [{"order_line": w["line"], "quantity": BIG, "reason": "damaged"}],
        },
    ),
    Row(
        "return of an order id as a string",
        "POST",
        "/api/v1/returns/",
        lambda w: {
            "order": str(w["order"]),
            "lines": [{"order_line": w["line"], "quantity": 1, "reason": "damaged"}],
        },
    ),
    Row(
        "receive quantity 2^31",
        "POST",
        "/api/v1/returns/{return}/receive/",
        lambda w: {
            "location": "BER",
            "lines": [{"order_line": w["line"], "quantity": BIG, "condition": "sellable"}],
        },
    ),
    # Strings bounded to their columns.
    Row(
        "measured: an e-mail of 300 characters",
        "POST",
        "/api/v1/orders/",
        order_payload(customer={"email": "a" * 288 + "@example.com"}),
    ),
    Row(
        "a tracking URL of 300 characters",
        "POST",
        "/api/v1/shipments/{shipment}/ship/",
        {
            "carrier": "dhl",
            "tracking_number": "T1",
            "tracking_url": "https://t.example/" + "x" * 282,
        },
    ),
    Row(
        "an external id of 129 characters",
        "POST",
        "/api/v1/orders/",
        order_payload(external_id="x" * 129),
    ),
    # Money: decimal strings on the currency's grid.
    Row("a float price", "POST", "/api/v1/orders/", order_payload(lines=[line(unit_price=19.95)])),
    Row("an integer price", "POST", "/api/v1/orders/", order_payload(lines=[line(unit_price=10)])),
    Row(
        "an exponent price",
        "POST",
        "/api/v1/orders/",
        order_payload(lines=[line(unit_price="1E+3")]),
    ),
    Row(
        "a price with spaces",
        "POST",
        "/api/v1/orders/",
        order_payload(lines=[line(unit_price=" 1.00")]),
    ),
    Row(
        "a negative price",
        "POST",
        "/api/v1/orders/",
        order_payload(lines=[line(unit_price="-1.00")]),
    ),
    Row("half a cent", "POST", "/api/v1/orders/", order_payload(lines=[line(unit_price="19.955")])),
    Row(
        "a fraction of a yen",
        "POST",
        "/api/v1/orders/",
        order_payload(currency="JPY", lines=[line(unit_price="1000.5")]),
    ),
    Row(
        "11 digits before the point",
        "POST",
        "/api/v1/orders/",
        order_payload(lines=[line(unit_price="12345678901.00")]),
    ),
    Row("a float shipping price", "POST", "/api/v1/orders/", order_payload(shipping_price=4.95)),
    Row(
        "measured: a refund of half a cent",
        "POST",
        "/api/v1/refunds/",
        lambda w: {"order": w["order"], "amount": "0.005"},
    ),
    Row(
        "a float refund", "POST", "/api/v1/refunds/", lambda w: {"order": w["order"], "amount": 4.5}
    ),
    Row(
        "an exponent refund",
        "POST",
        "/api/v1/refunds/",
        lambda w: {"order": w["order"], "amount": "1E+1"},
    ),
    Row(
        "a negative refund",
        "POST",
        "/api/v1/refunds/",
        lambda w: {"order": w["order"], "amount": "-1.00"},
    ),
    Row(
        "a return refund of a tenth of a cent",
        "POST",
        "/api/v1/returns/{return}/refund/",
        {"amount": "1.001"},
    ),
    Row(
        "an exchange price as a float",
        "POST",
        "/api/v1/returns/",
        lambda w: {
            "order": w["order"],
            "lines": [
                {
                    "order_line": w["line"],
                    "quantity": 1,
                    "reason": "damaged",
                    "exchange": True,
                    "exchange_unit_price": 9.99,
                }
            ],
        },
    ),
    Row(
        "an exchange price off the grid",
        "POST",
        "/api/v1/returns/",
        lambda w: {
            "order": w["order"],
            "lines": [
                {
                    "order_line": w["line"],
                    "quantity": 1,
                    "reason": "damaged",
                    "exchange": True,
                    "exchange_unit_price": "9.999",
                }
            ],
        },
    ),
    # NUL characters, in every kind of field.
    Row("NUL in the notes", "POST", "/api/v1/orders/", order_payload(notes=nul())),
    Row("NUL in a SKU code", "POST", "/api/v1/orders/", order_payload(lines=[line(sku=nul("A"))])),
    Row(
        "NUL in a customer's name",
        "POST",
        "/api/v1/orders/",
        order_payload(customer={"email": "n@example.com", "first_name": nul()}),
    ),
    Row("NUL in a key", "POST", "/api/v1/orders/", order_payload(**{nul("k"): 1})),
    Row(
        "NUL in a slug lookup",
        "POST",
        "/api/v1/stock-adjustments/",
        {"sku": nul("A"), "location": "BER", "kind": "receipt", "quantity": 1},
    ),
    Row(
        "NUL in a return comment",
        "POST",
        "/api/v1/returns/",
        lambda w: {
            "order": w["order"],
            "comment": nul("broken"),
            "lines": [{"order_line": w["line"], "quantity": 1, "reason": "damaged"}],
        },
    ),
    Row(
        "NUL in a location map's key",
        "PATCH",
        "/api/v1/channels/{channel}/",
        {"location_map": {nul("ext"): "BER"}},
    ),
    Row("NUL in a query parameter", "GET", "/api/v1/orders/?search=%00", None),
    Row("NUL in a query parameter's name", "GET", "/api/v1/skus/?co%00de=A", None),
    # Date filters.
    Row(
        "measured: an offset of +16:33",
        "GET",
        "/api/v1/orders/?created_before=2026-09-12T21:33:42%2B16:33",
    ),
    Row(
        "an offset of -16:00",
        "GET",
        "/api/v1/orders/?created_after=2026-09-12T21:33:42-16:00",
    ),
    Row("year 1 east of UTC", "GET", "/api/v1/orders/?created_after=0001-01-01T00:00:00%2B01:00"),
    Row(
        "year 9999 west of UTC",
        "GET",
        "/api/v1/stock-movements/?created_after=9999-12-31T23:59:59-01:00",
    ),
    Row(
        "sync runs started after +16:00",
        "GET",
        "/api/v1/channel-sync-runs/?started_after=2026-01-01T00:00:00%2B16:00",
    ),
    Row(
        "stock levels at +16:00",
        "GET",
        "/api/v1/stock-levels/?sku=A&at=2026-01-01T00:00:00%2B16:00",
    ),
    Row(
        "stock levels at the 30th of February",
        "GET",
        "/api/v1/stock-levels/?sku=A&at=2026-02-30T00:00:00Z",
    ),
    Row("a customer id past a bigint", "GET", "/api/v1/orders/?customer=99999999999999999999999"),
    Row(
        "placed at in year 1 east of UTC",
        "POST",
        "/api/v1/orders/",
        order_payload(placed_at="0001-01-01T00:00:00+01:00"),
    ),
    # JSON depth, strictness and body size.
    Row(
        "measured: JSON 1,000 deep on the API",
        "POST",
        "/api/v1/orders/",
        deep(),
        code="json_too_deep",
    ),
    Row(
        "JSON 65 deep with an Idempotency-Key",
        "POST",
        "/api/v1/refunds/",
        deep(MAX_DEPTH + 1),
        code="json_too_deep",
        headers=(("HTTP_IDEMPOTENCY_KEY", "deep-1"),),
    ),
    Row(
        "JSON 1,000 deep in a PATCH",
        "PATCH",
        "/api/v1/channels/{channel}/",
        deep(),
        code="json_too_deep",
    ),
    Row("NaN", "POST", "/api/v1/refunds/", b'{"order": 1, "amount": NaN}', code="parse_error"),
    Row("1e999", "POST", "/api/v1/refunds/", b'{"order": 1, "amount": 1e999}', code="parse_error"),
    Row(
        "NaN in a signed Shopify webhook (jsonb cannot store it)",
        "POST",
        "/webhooks/channels/shop/",
        b'{"id": 1, "total": NaN}',
        sign="shopify",
    ),
    Row(
        "1e999 in a signed 3PL webhook",
        "POST",
        "/webhooks/3pl/LON/",
        b'{"type": "shipment.shipped", "shipment": 1, "weight": 1e999}',
        sign="3pl",
    ),
    Row(
        "not UTF-8",
        "POST",
        "/api/v1/refunds/",
        b'{"order": 1, "amount": "\xff"}',
        code="parse_error",
    ),
    Row("measured: 1 MB + 1 to the API", "POST", "/api/v1/orders/", big(), 413, "body_too_large"),
    Row(
        "measured: signed Shopify JSON 1,000 deep",
        "POST",
        "/webhooks/channels/shop/",
        deep(),
        code="json_too_deep",
        sign="shopify",
    ),
    Row(
        "measured: signed carrier JSON 1,000 deep",
        "POST",
        "/webhooks/carriers/inhouse/",
        deep(),
        code="json_too_deep",
        sign="inhouse",
    ),
    Row(
        "measured: signed 3PL JSON 1,000 deep",
        "POST",
        "/webhooks/3pl/LON/",
        deep(),
        code="json_too_deep",
        sign="3pl",
    ),
    Row(
        "a big Shopify body",
        "POST",
        "/webhooks/channels/shop/",
        big(),
        413,
        "body_too_large",
        "shopify",
    ),
    Row(
        "measured: a big carrier body",
        "POST",
        "/webhooks/carriers/inhouse/",
        big(),
        413,
        "body_too_large",
        "inhouse",
    ),
    Row(
        "measured: a big 3PL body",
        "POST",
        "/webhooks/3pl/LON/",
        big(),
        413,
        "body_too_large",
        "3pl",
    ),
    # CSRF and unknown paths under /api/: problem JSON, never Django's HTML pages.
    Row(
        "measured: PATCH of a path that is no endpoint, session without CSRF token",
        "PATCH",
        "/api/v1/channels/0.5/",
        {"name": "x"},
        404,
        "not_found",
        session=True,
    ),
    Row(
        "PATCH of a channel, session without CSRF token",
        "PATCH",
        "/api/v1/channels/{channel}/",
        {"name": "Renamed"},
        403,
        "csrf_failed",
        session=True,
    ),
    Row(
        "POST of an order, session without CSRF token",
        "POST",
        "/api/v1/orders/",
        order_payload(),
        403,
        "csrf_failed",
        session=True,
    ),
    # Business refusals at the boundary.
    Row(
        "an order on an inactive channel",
        "POST",
        "/api/v1/orders/",
        order_payload(channel="off"),
        409,
        "channel_inactive",
    ),
    Row(
        "a sync of an inactive channel",
        "POST",
        "/api/v1/channels/{off}/sync/",
        None,
        409,
        "channel_inactive",
    ),
    Row("a channel's kind changed", "PATCH", "/api/v1/channels/{channel}/", {"kind": "amazon"}),
    Row(
        "an unknown return reason",
        "POST",
        "/api/v1/returns/",
        lambda w: {
            "order": w["order"],
            "lines": [{"order_line": w["line"], "quantity": 1, "reason": "no-such-reason"}],
        },
    ),
]


def _send(row: Row, world: dict[str, Any]) -> Any:
    body = row.body(world) if callable(row.body) else row.body
    path = row.path.format(**world)
    extra: dict[str, str] = dict(row.headers)
    if row.session:
        user = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")
        client: Any = Client(enforce_csrf_checks=True)
        client.force_login(user)
    else:
        client = token_client(MANAGER)
    raw = (
        body
        if isinstance(body, bytes)
        else (json.dumps(body).encode() if body is not None else b"")
    )
    if row.sign:
        extra.update(SIGNERS[row.sign](raw))
    if row.method == "GET":
        return client.get(path, **extra)
    send = getattr(client, row.method.lower())
    return send(path, data=raw, content_type="application/json", **extra)


@pytest.mark.parametrize("row", HOSTILE, ids=str)
def test_hostile_input_is_refused_with_problem_json_and_writes_nothing(row: Row, world) -> None:
    before = snapshot()
    response = _send(row, world)
    assert response.status_code == row.status, response.content[:500]
    assert response["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == row.code, problem
    assert problem["status"] == row.status
    assert problem["type"].endswith(row.code)
    assert snapshot() == before


def test_every_refusal_names_the_field(world) -> None:
    api = token_client(MANAGER)
    cases = [
        ("/api/v1/orders/", order_payload(lines=[line(quantity=BIG)]), "lines.0.quantity"),
        ("/api/v1/orders/", order_payload(lines=[line(unit_price=19.95)]), "lines.0.unit_price"),
        ("/api/v1/orders/", order_payload(lines=[line(unit_price="1E+3")]), "lines.0.unit_price"),
        ("/api/v1/orders/", order_payload(lines=[line(unit_price="19.955")]), "lines.0.unit_price"),
        ("/api/v1/orders/", order_payload(notes=nul()), "notes"),
        ("/api/v1/orders/", order_payload(customer={"email": "a" * 300}), "customer.email"),
        ("/api/v1/refunds/", {"order": world["order"], "amount": "0.005"}, "amount"),
        ("/api/v1/refunds/", {"order": world["order"], "amount": 4.5}, "amount"),
    ]
    for path, body, field in cases:
        problem = api.post(path, body, format="json").json()
        assert field in problem["errors"], (body, problem)
    problem = api.get("/api/v1/orders/?created_before=2026-09-12T21:33:42%2B16:33").json()
    assert "created_before" in problem["errors"]
    assert "15:59" in problem["errors"]["created_before"][0]


def test_an_unknown_reason_names_the_valid_codes(world) -> None:
    problem = (
        token_client(MANAGER)
        .post(
            "/api/v1/returns/",
            {
                "order": world["order"],
                "lines": [{"order_line": world["line"], "quantity": 1, "reason": "nope"}],
            },
            format="json",
        )
        .json()
    )
    message = problem["errors"]["lines.0.reason"][0]
    for code in ReturnReason.objects.filter(is_active=True).values_list("code", flat=True):
        assert code in message


# --- what the vendors send is stripped of NUL, never refused --------------------------------


def _post_signed(path: str, body: bytes, sign: str) -> Any:
    return Client().post(path, data=body, content_type="application/json", **SIGNERS[sign](body))


def test_nul_in_signed_carrier_json_is_stripped_and_noted(world) -> None:
    body = json.dumps(
        {
            "events": [
                {
                    "id": "ev-nul",
                    "tracking_number": "NOPE\u0000",
                    "status": "in_transit",
                    "description": "Sorted\u0000",
                    "place": "Hub",
                    "occurred_at": "2026-11-20T10:00:00+01:00",
                }
            ]
        }
    ).encode()
    assert b"\\u0000" in body
    response = _post_signed("/webhooks/carriers/inhouse/", body, "inhouse")
    assert response.status_code == 200, response.content
    stored = InboundWebhook.objects.get(kind="carrier", source="inhouse")
    assert stored.nul_stripped is True
    assert "\x00" not in json.dumps(stored.payload, ensure_ascii=False)
    assert stored.payload["events"][0]["description"] == "Sorted"
    # The same delivery again is a duplicate, not a retry loop.
    assert _post_signed("/webhooks/carriers/inhouse/", body, "inhouse").json()["status"] == (
        "duplicate"
    )


def test_nul_in_signed_3pl_json_is_stripped_and_noted(world) -> None:
    body = json.dumps(
        {"type": "shipment.delivered", "shipment": world["shipment"], "note": "left\u0000"}
    ).encode()
    response = _post_signed("/webhooks/3pl/LON/", body, "3pl")
    assert response.status_code == 200, response.content
    stored = InboundWebhook.objects.get(kind="partner", source="LON")
    assert stored.nul_stripped is True
    assert stored.payload["note"] == "left"


def test_nul_in_a_signed_shopify_webhook_is_stripped_and_noted(world) -> None:
    body = json.dumps({"id": 1, "name": "#1\u0000", "note": "a\u0000b"}).encode()
    response = _post_signed("/webhooks/channels/shop/", body, "shopify")
    assert response.status_code == 200, response.content
    stored = InboundWebhook.objects.get(kind="channel")
    assert stored.nul_stripped is True
    assert stored.payload["note"] == "ab"


def test_a_clean_webhook_is_not_marked(world) -> None:
    body = json.dumps({"id": 2, "note": "clean"}).encode()
    assert _post_signed("/webhooks/channels/shop/", body, "shopify").status_code == 200
    assert InboundWebhook.objects.get(kind="channel").nul_stripped is False


def test_an_unsigned_deep_webhook_stores_nothing(world) -> None:
    before = snapshot()
    response = Client().post(
        "/webhooks/carriers/inhouse/", data=deep(), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "json_too_deep"
    assert snapshot() == before


def test_nul_in_a_synced_record_is_stripped_and_noted(world) -> None:
    import datetime as dt

    from channels.adapters.base import CanonicalOrder
    from channels.services.sync import NUL_STRIPPED_KEY, channel_order_upsert

    record = CanonicalOrder(
        external_id="S-1",
        updated_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
        currency="EUR",
        lines=[{"sku": "A", "quantity": 1, "unit_price": "10.00", "name": "Tee\x00"}],
        customer={"email": "s@example.com", "first_name": "An\x00na"},
        shipping_address={
            "name": "Anna",
            "line1": "Str. 1\x00",
            "city": "Berlin",
            "postal_code": "10119",
            "country": "DE",
        },
        notes="call\x00 first",
        payment_status="paid",
        raw={"note": "\x00"},
    )
    channel = Channel.objects.get(code="shop")
    assert channel_order_upsert(channel=channel, record=record) == "created"
    order = Order.objects.get(channel=channel, external_id="S-1")
    assert order.notes == "call first"
    assert order.customer.first_name == "Anna"
    assert order.raw_payload[NUL_STRIPPED_KEY] is True


def test_the_database_refusing_a_value_is_a_400_not_a_500() -> None:
    """The exception handler's last line, for a value no validation caught."""
    from django.db import DataError
    from rest_framework.test import APIRequestFactory

    from oms.api.exceptions import problem_exception_handler

    request = APIRequestFactory().get("/api/v1/orders/")
    response = problem_exception_handler(DataError("integer out of range"), {"request": request})
    assert response is not None
    assert (response.status_code, response.data["code"]) == (400, "invalid")
    assert problem_exception_handler(ValueError("a bug"), {"request": request}) is None


# --- the shopper's return form, the back office, the CSV import -----------------------------


def test_nul_in_the_shoppers_return_comment_is_a_400_form_and_writes_nothing(world) -> None:
    order = Order.objects.get(pk=world["order"])
    line_b = order.lines.get(sku_code="B")
    client = Client()
    url = f"/track/{order.tracking_token}/return/"
    assert client.get(url).status_code == 200
    before = snapshot()
    response = client.post(
        url, {f"qty-{line_b.pk}": "1", f"reason-{line_b.pk}": "damaged", "comment": nul("It broke")}
    )
    assert response.status_code == 400
    assert b"cannot be accepted" in response.content
    assert snapshot() == before


def test_a_huge_quantity_in_the_shoppers_form_is_a_400_form(world) -> None:
    order = Order.objects.get(pk=world["order"])
    line_b = order.lines.get(sku_code="B")
    before = snapshot()
    response = Client().post(
        f"/track/{order.tracking_token}/return/",
        {f"qty-{line_b.pk}": str(2**70), f"reason-{line_b.pk}": "damaged"},
    )
    assert response.status_code == 400
    assert snapshot() == before


def test_nul_in_a_query_string_outside_the_api_is_a_plain_400(world, admin_client) -> None:
    response = admin_client.get("/admin/orders/order/?q=%00")
    assert response.status_code == 400
    assert b"NUL" in response.content


def test_a_value_the_database_refuses_in_the_back_office_is_not_a_500(
    transactional_db, world, admin_client
) -> None:
    """An admin filter in the address with an offset PostgreSQL refuses: the last line."""
    from django.db import connection

    response = admin_client.get("/admin/orders/order/?created_at__gte=2026-01-01T00:00:00%2B16:00")
    expected = 400 if connection.vendor == "postgresql" else 200  # SQLite compares text
    assert response.status_code == expected


def test_the_admin_stock_form_refuses_2_31(world, admin_client) -> None:
    level = StockLevel.objects.get(pk=world["level"])
    before = snapshot()
    response = admin_client.post(
        "/admin/inventory/stocklevel/adjust/",
        {
            "sku": "A",
            "location": level.location_id,
            "action": "receipt",
            "quantity": str(BIG),
            "reason": "",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert b"less than or equal to 2147483647" in response.content
    assert snapshot() == before


def test_the_admin_change_form_shows_a_channels_kind_read_only(world, admin_client) -> None:
    response = admin_client.get(f"/admin/inventory/channel/{world['channel']}/change/")
    assert response.status_code == 200
    assert b'name="kind"' not in response.content
    assert b'name="name"' in response.content


def test_the_csv_import_refuses_what_the_api_refuses(world) -> None:
    from channels.services.csv_import import orders_csv_parse

    header = "external_id,payment_status,sku,quantity,unit_price,email\n"
    rows = [
        f"C-1,paid,A,{BIG},10.00,c@example.com",
        "C-2,paid,A,1,1E+3,c@example.com",
        "C-3,paid,A,1,10.005,c@example.com",
        "C-4,paid,A,1,10.00," + "a" * 300 + "@example.com",
        "C-5,paid,A," + "9" * 5000 + ",10.00,c@example.com",
    ]
    channel = Channel.objects.get(code="web")
    before = snapshot()
    preview = orders_csv_parse(channel=channel, data=(header + "\n".join(rows) + "\n").encode())
    assert snapshot() == before
    bad = {order.external_id for order in preview.orders if not order.ok}
    assert bad == {"C-1", "C-2", "C-3", "C-4", "C-5"}, preview.error_messages()


def test_the_csv_import_refuses_an_inactive_channel(world) -> None:
    from channels.services.csv_import import orders_csv_parse

    channel = Channel.objects.get(code="off")
    preview = orders_csv_parse(
        channel=channel,
        data=b"external_id,payment_status,sku,quantity,unit_price\nI-1,paid,A,1,10.00\n",
    )
    assert not preview.ok
    assert "inactive" in json.dumps(preview.error_messages())


# --- what the API answers now: amounts with the currency's digits ---------------------------


def test_refunds_and_orders_answer_the_currencys_digits(world) -> None:
    api = token_client(MANAGER)
    refund = api.post("/api/v1/refunds/", {"order": world["order"], "amount": "10"}, format="json")
    assert refund.status_code == 201, refund.content
    assert refund.json()["amount"] == "10.00"
    order = api.get(f"/api/v1/orders/{world['order']}/").json()
    assert order["total"] == "30.00"
    assert order["lines"][0]["unit_price"] == "10.00"
    suggested = api.get(f"/api/v1/returns/{world['return']}/suggested-refund/").json()
    assert suggested["amount"] == "0.00"  # nothing received yet


def test_a_yen_order_answers_whole_yen(world) -> None:
    ChannelFactory(code="jp", currency="JPY", locations=[Location.objects.get(code="BER")])
    api = token_client(MANAGER)
    response = api.post(
        "/api/v1/orders/",
        order_payload(channel="jp", currency="JPY", lines=[line(unit_price="1000")]),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["total"] == "1000"
    assert body["lines"][0]["unit_price"] == "1000"


def test_the_return_reasons_are_listed(world) -> None:
    response = token_client(MANAGER).get("/api/v1/return-reasons/")
    assert response.status_code == 200
    rows = {r["code"]: r for r in response.json()["results"]}
    assert rows["changed_mind"] == {
        "code": "changed_mind",
        "label": "Changed my mind",
        "restocking_fee_percent": "10.00",
        "is_active": True,
    }
    one = token_client(MANAGER).get("/api/v1/return-reasons/damaged/").json()
    assert one["label"] == "Arrived damaged"


def test_the_return_reasons_are_in_the_schema(db) -> None:
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/return-reasons/" in schema["paths"]


# --- unit tests of the kernel ---------------------------------------------------------------


class _Priced:
    def __init__(self, amount: str, currency: str) -> None:
        self.amount = Decimal(amount)
        self.currency = currency


@pytest.mark.parametrize(
    ("amount", "currency", "written"),
    [
        ("10", "EUR", "10.00"),
        ("10.0000", "EUR", "10.00"),
        ("19.9500", "EUR", "19.95"),
        ("1000", "JPY", "1000"),
        ("1000.0000", "JPY", "1000"),
        ("1.5", "BHD", "1.500"),
        ("0.125", "BHD", "0.125"),
        ("0", "EUR", "0.00"),
    ],
)
def test_the_money_field_writes_the_currencys_digits(amount, currency, written) -> None:
    field = MoneyField(source="amount", read_only=True)
    field.bind("price", None)  # type: ignore[arg-type]
    assert field.to_representation(field.get_attribute(_Priced(amount, currency))) == written


@pytest.mark.parametrize(
    ("given", "expected"),
    [("19.95", Decimal("19.95")), ("1000", Decimal("1000")), ("0.125", Decimal("0.125"))],
)
def test_the_money_field_reads_decimal_strings(given, expected) -> None:
    assert MoneyField().to_internal_value(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        19.95,
        10,
        True,
        "1E+3",
        "1e3",
        " 1.00",
        "1.00\n",
        "+1",
        "1,00",
        ".5",
        "5.",
        "NaN",
        "Infinity",
        "12345678901",
        "1.00001",
        "-1.00",
        "",
        None,
        ["1"],
        {"a": 1},
    ],
)
def test_the_money_field_refuses_what_is_not_a_decimal_string(given) -> None:
    from rest_framework.exceptions import ValidationError

    with pytest.raises(ValidationError):
        MoneyField().run_validation(given)


def test_integer_fields_take_json_integers_within_their_column() -> None:
    from rest_framework.exceptions import ValidationError

    field = IntegerField()
    assert field.run_validation(INT_MAX) == INT_MAX
    for bad in (BIG, -(2**31) - 1, "2", 2.0, True, None):
        with pytest.raises(ValidationError):
            field.run_validation(bad)
    small = model_integer(Location, "priority")
    assert (small.min_value, small.max_value) == (0, 32767)
    ids = model_integer(Order, "id", min_value=1)
    assert (ids.min_value, ids.max_value) == (1, 2**63 - 1)


def test_the_json_guard_counts_brackets_outside_strings() -> None:
    check_depth(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    with pytest.raises(JsonTooDeep):
        check_depth(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    with pytest.raises(JsonTooDeep):
        check_depth(deep(100_000))  # no recursion, whatever the depth
    # Brackets inside strings (with escaped quotes) are text, not nesting.
    text = json.dumps({"a": "[" * 500 + '\\"' + "{" * 500}).encode()
    check_depth(text)
    assert loads(text)["a"].startswith("[[")
    assert loads('{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    with pytest.raises(ValueError, match="deeper than 64"):
        loads(deep(MAX_DEPTH + 1))


def test_strip_nul_says_whether_it_stripped() -> None:
    assert strip_nul({"a\x00": ["b\x00", 1, None]}) == ({"a": ["b", 1, None]}, True)
    assert strip_nul({"a": ["b", 1]}) == ({"a": ["b", 1]}, False)


def _input_serializers() -> list[type]:
    import importlib

    from oms.api.serializers import InputSerializer

    for app in ("inventory", "orders", "fulfilment", "returns", "channels"):
        importlib.import_module(f"{app}.api.serializers")
    found, todo = [], list(InputSerializer.__subclasses__())
    while todo:
        klass = todo.pop()
        found.append(klass)
        todo.extend(klass.__subclasses__())
    return found


def _leaf_fields(serializer: Any, path: str = "") -> list[tuple[str, Any]]:
    from rest_framework import serializers

    leaves = []
    for name, field in serializer.fields.items():
        where = f"{path}{name}"
        if isinstance(field, serializers.ListSerializer):
            field = field.child
        while isinstance(field, serializers.ListField | serializers.DictField):
            field = field.child
        if isinstance(field, serializers.Serializer):
            leaves += _leaf_fields(field, f"{where}.")
        else:
            leaves.append((where, field))
    return leaves


#: Inputs whose length is bounded elsewhere: the availability query's SKU list (at most 1,000
#: codes, checked by its validator, within the query string's limits).
UNBOUNDED_TEXT_ALLOWED = {"AvailabilityQuerySerializer.sku"}


def test_every_input_integer_is_strict_and_bounded_and_every_text_has_a_length() -> None:
    """The boundary cannot be forgotten: a plain DRF IntegerField, DecimalField used for money,
    or a CharField without max_length in an input serializer fails here."""
    from rest_framework import serializers

    problems = []
    for klass in _input_serializers():
        for where, field in _leaf_fields(klass()):
            name = f"{klass.__name__}.{where}"
            if isinstance(field, serializers.IntegerField):
                if not isinstance(field, IntegerField):
                    problems.append(f"{name}: a plain IntegerField (use oms.api.fields)")
                elif field.min_value is None or field.max_value is None:
                    problems.append(f"{name}: unbounded")
            if isinstance(field, serializers.DecimalField) and field.decimal_places == 4:
                problems.append(f"{name}: money as a DecimalField (use MoneyField)")
            if (
                isinstance(field, serializers.CharField)
                and not isinstance(field, serializers.ChoiceField | serializers.RegexField)
                and field.max_length is None
                and name not in UNBOUNDED_TEXT_ALLOWED
            ):
                problems.append(f"{name}: text without max_length")
    assert not problems, "\n".join(problems)
