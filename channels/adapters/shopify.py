"""Shopify over the GraphQL Admin API 2026-04 (orders, stock, fulfilments, cancels, refunds) and
its REST-shaped webhooks, behind channels.adapters.base.ChannelAdapter.

Invariants:
- every call is `POST {base}/admin/api/2026-04/graphql.json` with `X-Shopify-Access-Token`, through
  VendorHttp under one rate-limit key per shop ("graphql": Shopify's cost bucket is per app and
  shop, shared by every operation); values always travel as GraphQL variables; when an answer's
  `throttleStatus` shows the bucket cannot pay for another such query, the key is blocked until
  it can (every worker waits), instead of counting requests per second;
- GraphQL answers HTTP 200 with `errors`: THROTTLED raises RateLimited (retry_after computed from
  `extensions.cost.throttleStatus`, and the shared limiter key is blocked for that long),
  INTERNAL_SERVER_ERROR raises TransientError, any other error PermanentError; an answer without
  the expected `data` shape is PermanentError, so a garbage page never half-imports;
- a 401 is PermanentError (Admin API access tokens do not refresh);
- orders are pulled with `orders(sortKey: UPDATED_AT, query: "updated_at:>='<since>'")` in pages
  of `page_size` (default 15: a query may cost at most 1000 points and every requested order and
  line item costs points) with `lineItems(first: 5)`; an order with more lines has the rest read
  with follow-up `order(id:) { lineItems(after:) }` queries;
- external ids are Shopify's numeric legacy ids (the REST webhook `id`); amounts are the
  presentment amounts (`*Set.presentmentMoney`, REST `*_set.presentment_money`) in the order's
  presentment currency, never the shop-currency ones; an order that cannot be mapped becomes a
  RecordFailure with the reason and the other orders of the page continue;
- a cancelled order keeps its original quantities (Shopify zeroes `currentQuantity` on restock) so
  it is still readable; lines without a SKU that need no shipping (gift cards, tips) are left out,
  a line without a SKU that ships makes the order a RecordFailure;
- webhooks are parsed only after `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the raw body with
  `webhook_secret`) matched in constant time; the delivery id is `X-Shopify-Webhook-Id` (or
  `X-Shopify-Event-Id`); the mandatory compliance topics (customers/data_request,
  customers/redact, shop/redact) arrive on the same endpoint and are read by
  `webhook_privacy`, never as orders;
- stock is set with `inventorySetQuantities` (absolute `available`, `changeFromQuantity: null` to
  opt out of the compare, and the `@idempotent` key 2026-04 requires) in batches of 250;
- a fulfilment already reported with the same tracking number is returned, not created again;
  refunds carry our refund reference as their `@idempotent` key.

Credentials: shop, access_token, webhook_secret, location_id, optional base_url, page_size and
refund_on_cancel (false: money goes back through refund_push only).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from channels.adapters.base import (
    AdapterContext,
    CancelPush,
    CanonicalOrder,
    FulfilmentPush,
    OrderPage,
    PrivacyNotice,
    PushResult,
    RateLimited,
    RateLimiter,
    RecordFailure,
    RefundPush,
    SignatureInvalid,
    StockItem,
    StockResult,
    VendorHttp,
    WebhookDelivery,
    chunks,
    credential_flag,
    json_object,
)
from fulfilment.adapters.carriers._common import header, parse_datetime
from oms import jsonsafe
from oms.errors import PermanentError, TransientError

API_VERSION = "2026-04"
ENDPOINT = f"/admin/api/{API_VERSION}/graphql.json"
OPERATION = "graphql"
DEFAULT_PAGE_SIZE = 15
MAX_PAGE_SIZE = 250
LINES_FIRST = 5
MORE_LINES_FIRST = 100
STOCK_BATCH = 250
SKU_LOOKUP_BATCH = 50

ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/cancelled", "orders/paid"})
#: The mandatory compliance topics (privacy law): topic -> PrivacyNotice.kind.
PRIVACY_TOPICS = {
    "customers/data_request": "data_request",
    "customers/redact": "customer_redact",
    "shop/redact": "shop_redact",
}
PAYMENT_STATUSES = {
    "PAID": "paid",
    "AUTHORIZED": "authorized",
    "PARTIALLY_REFUNDED": "partially_refunded",
    "REFUNDED": "refunded",
    "VOIDED": "voided",
}
OPEN_FULFILLMENT_ORDER = frozenset({"OPEN", "IN_PROGRESS"})
CANCEL_REASONS = (  # (word in our reason, Shopify OrderCancelReason)
    ("fraud", "FRAUD"),
    ("stock", "INVENTORY"),
    ("inventory", "INVENTORY"),
    ("declin", "DECLINED"),
    ("payment", "DECLINED"),
    ("staff", "STAFF"),
    ("customer", "CUSTOMER"),
)

_MONEY = "presentmentMoney { amount currencyCode }"
_ADDRESS = "name address1 address2 city provinceCode zip countryCodeV2 phone latitude longitude"
_LINE_FIELDS = f"""
fragment OmsLineItem on LineItem {{
  id sku name quantity currentQuantity requiresShipping
  originalUnitPriceSet {{ {_MONEY} }}
  totalDiscountSet {{ {_MONEY} }}
  taxLines {{ priceSet {{ {_MONEY} }} }}
}}
"""
ORDERS_QUERY = (
    f"""
query OmsOrders($first: Int!, $after: String, $query: String!) {{
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    nodes {{
      id legacyResourceId name processedAt updatedAt cancelledAt cancelReason
      displayFinancialStatus presentmentCurrencyCode taxesIncluded email phone note
      totalPriceSet {{ {_MONEY} }}
      shippingLine {{ originalPriceSet {{ {_MONEY} }} discountedPriceSet {{ {_MONEY} }} }}
      shippingAddress {{ {_ADDRESS} }}
      billingAddress {{ {_ADDRESS} }}
      customer {{
        firstName lastName
        defaultEmailAddress {{ emailAddress }}
        defaultPhoneNumber {{ phoneNumber }}
      }}
      lineItems(first: {LINES_FIRST}) {{
        nodes {{ ...OmsLineItem }}
        pageInfo {{ hasNextPage endCursor }}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
    + _LINE_FIELDS
)
MORE_LINES_QUERY = (
    f"""
query OmsOrderLineItems($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: {MORE_LINES_FIRST}, after: $after) {{
      nodes {{ ...OmsLineItem }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}
"""
    + _LINE_FIELDS
)
VARIANTS_BY_SKU_QUERY = """
query OmsVariantsBySku($first: Int!, $query: String!) {
  productVariants(first: $first, query: $query) {
    nodes { sku inventoryItem { id } }
  }
}
"""
SET_QUANTITIES_MUTATION = """
mutation OmsSetQuantities($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}
"""
FULFILLMENT_ORDERS_QUERY = """
query OmsFulfillmentOrders($id: ID!) {
  order(id: $id) {
    id
    fulfillments(first: 50) { id trackingInfo(first: 5) { number } }
    fulfillmentOrders(first: 5) {
      nodes {
        id status
        assignedLocation { location { id } }
        lineItems(first: 50) {
          nodes { id remainingQuantity lineItem { id sku } }
        }
      }
    }
  }
}
"""
FULFILLMENT_CREATE_MUTATION = """
mutation OmsFulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}
"""
ORDER_CANCEL_MUTATION = """
mutation OmsOrderCancel(
  $orderId: ID!, $reason: OrderCancelReason!, $refundMethod: OrderCancelRefundMethodInput!,
  $restock: Boolean!, $notifyCustomer: Boolean, $staffNote: String
) {
  orderCancel(
    orderId: $orderId, reason: $reason, refundMethod: $refundMethod, restock: $restock,
    notifyCustomer: $notifyCustomer, staffNote: $staffNote
  ) {
    job { id done }
    orderCancelUserErrors { code field message }
  }
}
"""
ORDER_TRANSACTIONS_QUERY = f"""
query OmsOrderTransactions($id: ID!) {{
  order(id: $id) {{
    id presentmentCurrencyCode
    transactions(first: 20) {{ id kind status gateway amountSet {{ {_MONEY} }} }}
  }}
}}
"""
REFUND_CREATE_MUTATION = """
mutation OmsRefundCreate($input: RefundInput!, $idempotencyKey: String!) {
  refundCreate(input: $input) @idempotent(key: $idempotencyKey) {
    refund { id }
    userErrors { field message }
  }
}
"""

_DIGITS = re.compile(r"^\d+$")


class Unmappable(ValueError):
    """A record the mapper cannot read: becomes a RecordFailure with this message."""


# --- ids ------------------------------------------------------------------------------------


def legacy_id(value: Any) -> str:
    """The numeric id of "gid://shopify/Order/123", "123" or 123 ("" when it is neither)."""
    if isinstance(value, bool) or value is None:
        return ""
    text = str(value).strip()
    if text.startswith("gid://shopify/"):
        text = text.rsplit("/", 1)[-1].split("?", 1)[0]
    return text if _DIGITS.match(text) else ""


def gid(kind: str, value: Any) -> str:
    """The GraphQL global id of a numeric id or of a gid of that kind ("" when unreadable)."""
    text = str(value or "").strip()
    if text.startswith(f"gid://shopify/{kind}/") and legacy_id(text):
        return text
    number = legacy_id(text) if not text.startswith("gid://") else ""
    return f"gid://shopify/{kind}/{number}" if number else ""


# --- reading payloads -------------------------------------------------------------------------


def _amount(value: Any, what: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Unmappable(f"{what}: {value!r} is not an amount.") from None
    if not amount.is_finite() or amount < 0:
        raise Unmappable(f"{what}: {value!r} is not an amount.")
    return amount


def _money(bag: Any, what: str, currency: str, *, graphql: bool, required: bool = False) -> Decimal:
    """The presentment amount of a MoneyBag (GraphQL) or a REST `*_set` ("0" when absent)."""
    money = None
    if isinstance(bag, dict):
        money = bag.get("presentmentMoney" if graphql else "presentment_money")
    if not isinstance(money, dict) or money.get("amount") in (None, ""):
        if required:
            raise Unmappable(f"{what}: no presentment amount.")
        return Decimal(0)
    code = money.get("currencyCode" if graphql else "currency_code")
    if code and str(code).upper() != currency:
        raise Unmappable(f"{what}: amount in {code}, the order is in {currency}.")
    return _amount(money["amount"], what)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _coordinate(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _address(raw: Any, *, graphql: bool) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    name = _text(raw.get("name"))
    if not name and not graphql:
        name = " ".join(p for p in (_text(raw.get("first_name")), _text(raw.get("last_name"))) if p)
    address = {
        "name": name,
        "line1": _text(raw.get("address1")),
        "line2": _text(raw.get("address2")),
        "city": _text(raw.get("city")),
        "region": _text(raw.get("provinceCode" if graphql else "province_code")),
        "postal_code": _text(raw.get("zip")),
        "country": _text(raw.get("countryCodeV2" if graphql else "country_code")).upper(),
        "phone": _text(raw.get("phone")),
        "latitude": _coordinate(raw.get("latitude")),
        "longitude": _coordinate(raw.get("longitude")),
    }
    return {k: v for k, v in address.items() if v not in ("", None)}


def _payment_status(value: Any) -> str:
    return PAYMENT_STATUSES.get(_text(value).upper(), "pending")


def _moment(value: Any) -> dt.datetime | None:
    return parse_datetime(value)


def _required_moment(value: Any, what: str) -> dt.datetime:
    moment = parse_datetime(value)
    if moment is None:
        raise Unmappable(f"{what}: {value!r} is not a timestamp.")
    return moment


def _line(
    raw: Any, index: int, currency: str, *, graphql: bool, cancelled: bool
) -> dict[str, Any] | None:
    """One order line in our names; None for a line to leave out."""
    if not isinstance(raw, dict):
        raise Unmappable(f"line {index}: not an object.")
    line_id = legacy_id(raw.get("id"))
    if not line_id:
        raise Unmappable(f"line {index}: no id.")
    sku = _text(raw.get("sku"))
    ships = raw.get("requiresShipping" if graphql else "requires_shipping")
    if not sku:
        if ships is False:
            return None  # a gift card, a tip: nothing for us to ship
        raise Unmappable(f"line {line_id}: no SKU.")
    original = raw.get("quantity")
    current = raw.get("currentQuantity" if graphql else "current_quantity")
    quantity = original if cancelled or current is None else current
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
        raise Unmappable(f"line {line_id}: quantity {quantity!r} is not a whole number.")
    if quantity == 0:
        return None  # removed by an order edit or a refund
    what = f"line {line_id}"
    unit = _money(
        raw.get("originalUnitPriceSet" if graphql else "price_set"),
        f"{what} unit price",
        currency,
        graphql=graphql,
        required=True,
    )
    discount = _money(
        raw.get("totalDiscountSet" if graphql else "total_discount_set"),
        f"{what} discount",
        currency,
        graphql=graphql,
    )
    tax = Decimal(0)
    for tax_line in raw.get("taxLines" if graphql else "tax_lines") or []:
        if isinstance(tax_line, dict):
            tax += _money(
                tax_line.get("priceSet" if graphql else "price_set"),
                f"{what} tax",
                currency,
                graphql=graphql,
            )
    return {
        "sku": sku,
        "quantity": quantity,
        "name": _text(raw.get("name") or raw.get("title"))[:255],
        "external_line_id": line_id,
        "unit_price": unit,
        "discount": discount,
        "tax": tax,
    }


def _lines(
    raw_lines: Any, currency: str, *, graphql: bool, cancelled: bool
) -> list[dict[str, Any]]:
    if not isinstance(raw_lines, list):
        raise Unmappable("no line items.")
    lines = []
    for index, raw in enumerate(raw_lines):
        line = _line(raw, index, currency, graphql=graphql, cancelled=cancelled)
        if line is not None:
            lines.append(line)
    if not lines:
        raise Unmappable("no line with a SKU to ship.")
    return lines


def _currency(value: Any) -> str:
    currency = _text(value).upper()
    if not re.match(r"^[A-Z]{3}$", currency):
        raise Unmappable(f"currency {value!r} is not an ISO 4217 code.")
    return currency


def map_graphql_order(node: Mapping[str, Any], line_nodes: list[Any]) -> CanonicalOrder:
    """A GraphQL Order node (with all its line item nodes) as a CanonicalOrder."""
    external_id = legacy_id(node.get("legacyResourceId")) or legacy_id(node.get("id"))
    if not external_id:
        raise Unmappable("no order id.")
    currency = _currency(node.get("presentmentCurrencyCode"))
    cancelled_at = _moment(node.get("cancelledAt"))
    shipping = _obj(node.get("shippingLine"))
    shipping_bag = shipping.get("discountedPriceSet") or shipping.get("originalPriceSet")
    customer = _obj(node.get("customer"))
    email_box = _obj(customer.get("defaultEmailAddress"))
    phone_box = _obj(customer.get("defaultPhoneNumber"))
    return CanonicalOrder(
        external_id=external_id,
        external_number=_text(node.get("name")),
        updated_at=_required_moment(node.get("updatedAt"), "updatedAt"),
        placed_at=_moment(node.get("processedAt")),
        currency=currency,
        lines=_lines(line_nodes, currency, graphql=True, cancelled=cancelled_at is not None),
        customer={
            k: v
            for k, v in {
                "email": _text(node.get("email") or email_box.get("emailAddress")),
                "first_name": _text(customer.get("firstName")),
                "last_name": _text(customer.get("lastName")),
                "phone": _text(node.get("phone") or phone_box.get("phoneNumber")),
            }.items()
            if v
        },
        shipping_address=_address(node.get("shippingAddress"), graphql=True),
        billing_address=_address(node.get("billingAddress"), graphql=True),
        shipping_price=_money(shipping_bag, "shipping", currency, graphql=True),
        total=_money(node.get("totalPriceSet"), "total", currency, graphql=True, required=True),
        payment_status=_payment_status(node.get("displayFinancialStatus")),
        prices_include_tax=bool(node.get("taxesIncluded")),
        notes=_text(node.get("note")),
        cancelled=cancelled_at is not None,
        cancel_reason=_text(node.get("cancelReason")).lower() if cancelled_at else "",
        raw=dict(node),
    )


def map_rest_order(body: Mapping[str, Any]) -> CanonicalOrder:
    """A REST order (webhook body) as a CanonicalOrder, the same as its GraphQL twin."""
    external_id = legacy_id(body.get("id")) or legacy_id(body.get("admin_graphql_api_id"))
    if not external_id:
        raise Unmappable("no order id.")
    currency = _currency(body.get("presentment_currency") or body.get("currency"))
    cancelled_at = _moment(body.get("cancelled_at"))
    shipping = Decimal(0)
    for index, shipping_line in enumerate(body.get("shipping_lines") or []):
        if isinstance(shipping_line, dict):
            bag = shipping_line.get("discounted_price_set") or shipping_line.get("price_set")
            shipping += _money(bag, f"shipping line {index}", currency, graphql=False)
    customer = _obj(body.get("customer"))
    return CanonicalOrder(
        external_id=external_id,
        external_number=_text(body.get("name")),
        updated_at=_required_moment(body.get("updated_at"), "updated_at"),
        placed_at=_moment(body.get("processed_at") or body.get("created_at")),
        currency=currency,
        lines=_lines(
            body.get("line_items"), currency, graphql=False, cancelled=cancelled_at is not None
        ),
        customer={
            k: v
            for k, v in {
                "email": _text(
                    body.get("email") or body.get("contact_email") or customer.get("email")
                ),
                "first_name": _text(customer.get("first_name")),
                "last_name": _text(customer.get("last_name")),
                "phone": _text(body.get("phone") or customer.get("phone")),
            }.items()
            if v
        },
        shipping_address=_address(body.get("shipping_address"), graphql=False),
        billing_address=_address(body.get("billing_address"), graphql=False),
        shipping_price=shipping,
        total=_money(body.get("total_price_set"), "total", currency, graphql=False, required=True),
        payment_status=_payment_status(body.get("financial_status")),
        prices_include_tax=bool(body.get("taxes_included")),
        notes=_text(body.get("note")),
        cancelled=cancelled_at is not None,
        cancel_reason=_text(body.get("cancel_reason")).lower() if cancelled_at else "",
        raw=dict(body),
    )


def webhook_signature(secret: str, body: bytes) -> str:
    """What Shopify sends in X-Shopify-Hmac-Sha256 for `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _search_value(value: str) -> str:
    """A value quoted for Shopify's search syntax."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _iso(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _user_errors(errors: Any) -> list[dict[str, Any]]:
    return [e for e in errors or [] if isinstance(e, dict)]


def _messages(errors: list[dict[str, Any]]) -> str:
    parts = []
    for error in errors:
        field = ".".join(str(f) for f in error.get("field") or [])
        message = _text(error.get("message")) or _text(error.get("code")) or "refused"
        parts.append(f"{field}: {message}" if field else message)
    return "; ".join(parts)


# --- the adapter ------------------------------------------------------------------------------


class ShopifyAdapter:
    """Shopify GraphQL Admin API client. See the module docstring."""

    vendor = "shopify"

    def __init__(self, context: AdapterContext, *, limiter: RateLimiter | None = None) -> None:
        self.context = context
        credentials = context.credentials or {}
        self.shop = _text(credentials.get("shop"))
        self.access_token = _text(credentials.get("access_token"))
        self.webhook_secret = _text(credentials.get("webhook_secret"))
        self.location_id = _text(credentials.get("location_id"))
        self.refund_on_cancel = bool(credential_flag(credentials.get("refund_on_cancel")))
        base_url = _text(credentials.get("base_url"))
        if not base_url:
            if not self.shop:
                raise PermanentError(
                    f"Shopify channel {context.channel_code}: set the shop "
                    '(e.g. "acme.myshopify.com").'
                )
            base_url = f"https://{self.shop}"
        try:
            page_size = int(credentials.get("page_size") or DEFAULT_PAGE_SIZE)
        except (TypeError, ValueError):
            page_size = DEFAULT_PAGE_SIZE
        self.page_size = max(1, min(MAX_PAGE_SIZE, page_size))
        self.http = VendorHttp(
            vendor=self.vendor,
            account=self.shop or base_url,
            base_url=base_url,
            transport=context.transport,
            headers=self._headers,
            # No request count per second: Shopify meters query cost, and every answer says
            # how full the bucket is (`_pace` blocks the shared key when it runs dry).
            limits={},
            limiter=limiter,
        )

    def close(self) -> None:
        self.http.close()

    @property
    def _limiter_key(self) -> str:
        return f"{self.vendor}:{self.http.account}:{OPERATION}"

    def _headers(self) -> dict[str, str]:
        if not self.access_token:
            raise PermanentError(
                f"Shopify channel {self.context.channel_code}: no access_token is set."
            )
        return {
            "X-Shopify-Access-Token": self.access_token,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    # --- GraphQL ------------------------------------------------------------------------------

    def _graphql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        answer = json_object(
            self.http.request(
                OPERATION, "POST", ENDPOINT, json={"query": query, "variables": dict(variables)}
            ),
            "Shopify GraphQL answer",
        )
        cost = (answer.get("extensions") or {}).get("cost")
        errors = answer.get("errors")
        if errors:
            self._raise_for(errors, cost)
        self._pace(cost)
        data = answer.get("data")
        if not isinstance(data, dict):
            raise PermanentError("Shopify answered without GraphQL data.")
        return data

    def _wait_for(self, cost: Any) -> float | None:
        """Seconds until the cost bucket holds the last query's cost again (None: unknown)."""
        if not isinstance(cost, dict):
            return None
        status = cost.get("throttleStatus")
        if not isinstance(status, dict):
            return None
        try:
            available = float(status.get("currentlyAvailable") or 0)
            rate = float(status.get("restoreRate") or 0)
            needed = float(cost.get("requestedQueryCost") or 0)
        except (TypeError, ValueError):
            return None
        if rate <= 0:
            return None
        return max(0.0, (needed - available) / rate)

    def _pace(self, cost: Any) -> None:
        # The bucket cannot pay for another query like the last one: everyone waits for it.
        wait = self._wait_for(cost)
        if wait:
            self.http.limiter.block(self._limiter_key, wait)

    def _raise_for(self, errors: Any, cost: Any) -> None:
        items = errors if isinstance(errors, list) else [errors]
        codes = set()
        messages = []
        for item in items:
            if isinstance(item, dict):
                codes.add(_text((item.get("extensions") or {}).get("code")).upper())
                messages.append(_text(item.get("message")))
            else:
                messages.append(_text(item))
        text = "; ".join(m for m in messages if m)[:500] or "error"
        if "THROTTLED" in codes or any(m.lower() == "throttled" for m in messages):
            wait = max(1.0, self._wait_for(cost) or 0.0)
            self.http.limiter.block(self._limiter_key, wait)
            raise RateLimited(f"Shopify throttled the query: {text}", retry_after=wait)
        if "INTERNAL_SERVER_ERROR" in codes:
            raise TransientError(f"Shopify GraphQL: {text}")
        if "MAX_COST_EXCEEDED" in codes:
            text += " (lower page_size in the channel's credentials)"
        raise PermanentError(f"Shopify GraphQL: {text}")

    # --- orders -------------------------------------------------------------------------------

    def orders_page(self, *, since: dt.datetime, page: str | None) -> OrderPage:
        data = self._graphql(
            ORDERS_QUERY,
            {
                "first": self.page_size,
                "after": page,
                "query": f"updated_at:>='{_iso(since)}'",
            },
        )
        connection = data.get("orders")
        if not isinstance(connection, dict) or not isinstance(connection.get("nodes"), list):
            raise PermanentError("Shopify answered without data.orders.nodes.")
        info = connection.get("pageInfo")
        if not isinstance(info, dict):
            raise PermanentError("Shopify answered without data.orders.pageInfo.")
        result = OrderPage(orders=[])
        for node in connection["nodes"]:
            if not isinstance(node, dict):
                result.failures.append(RecordFailure("", "order node: not an object."))
                continue
            try:
                result.orders.append(map_graphql_order(node, self._all_lines(node)))
            except Unmappable as exc:
                external_id = legacy_id(node.get("legacyResourceId")) or legacy_id(node.get("id"))
                result.failures.append(RecordFailure(external_id, str(exc), dict(node)))
        cursor = info.get("endCursor")
        if info.get("hasNextPage"):
            if not cursor:
                raise PermanentError("Shopify said there is a next page but gave no cursor.")
            result.next_page = str(cursor)
        return result

    def _all_lines(self, node: Mapping[str, Any]) -> list[Any]:
        """The order's line item nodes: the first ones from the page, the rest read on."""
        connection = node.get("lineItems")
        if not isinstance(connection, dict) or not isinstance(connection.get("nodes"), list):
            raise Unmappable("no lineItems.nodes.")
        lines = list(connection["nodes"])
        info = connection.get("pageInfo") or {}
        order_id = gid("Order", node.get("id")) or gid("Order", node.get("legacyResourceId"))
        while info.get("hasNextPage") and info.get("endCursor"):
            data = self._graphql(MORE_LINES_QUERY, {"id": order_id, "after": info["endCursor"]})
            more = (data.get("order") or {}).get("lineItems")
            if not isinstance(more, dict) or not isinstance(more.get("nodes"), list):
                raise PermanentError(f"Shopify answered without the line items of {order_id}.")
            lines.extend(more["nodes"])
            info = more.get("pageInfo") or {}
        return lines

    # --- webhooks -----------------------------------------------------------------------------

    def webhook_verify(
        self, *, headers: Mapping[str, str], body: bytes, url: str
    ) -> WebhookDelivery:
        if not self.webhook_secret:
            raise SignatureInvalid("Shopify webhooks are off: no webhook_secret is set.")
        given = header(headers, "X-Shopify-Hmac-Sha256").strip()
        expected = webhook_signature(self.webhook_secret, body)
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise SignatureInvalid("Shopify webhook: the signature does not match.")
        try:
            payload = jsonsafe.loads(body)
        except ValueError as exc:
            raise PermanentError(f"Shopify webhook: the body is not JSON ({exc}).") from None
        if not isinstance(payload, dict):
            raise PermanentError("Shopify webhook: the body is not a JSON object.")
        topic = header(headers, "X-Shopify-Topic").strip()
        delivery_id = (
            header(headers, "X-Shopify-Webhook-Id") or header(headers, "X-Shopify-Event-Id")
        ).strip()
        if not delivery_id:
            delivery_id = "sha256:" + hashlib.sha256(topic.encode() + b"\n" + body).hexdigest()
        return WebhookDelivery(delivery_id=delivery_id, topic=topic, payload=payload)

    def webhook_privacy(self, delivery: WebhookDelivery) -> PrivacyNotice | None:
        """Shopify's compliance webhooks: `{shop_domain, customer: {id, email, phone},
        orders_requested | orders_to_redact, data_request: {id}}` (shop/redact: the shop only).
        """
        kind = PRIVACY_TOPICS.get(delivery.topic)
        if kind is None:
            return None
        body = delivery.payload
        customer = _obj(body.get("customer"))
        orders = body.get("orders_requested") or body.get("orders_to_redact") or []
        return PrivacyNotice(
            kind=kind,
            shop=_text(body.get("shop_domain")),
            customer_id=legacy_id(customer.get("id")) or "",
            email=_text(customer.get("email")).lower(),
            phone=_text(customer.get("phone")),
            order_ids=[str(legacy_id(o) or o) for o in orders if o not in (None, "")],
            request_id=_text(_obj(body.get("data_request")).get("id")),
        )

    def webhook_orders(self, delivery: WebhookDelivery) -> OrderPage:
        if delivery.topic not in ORDER_TOPICS:
            return OrderPage(orders=[])
        try:
            return OrderPage(orders=[map_rest_order(delivery.payload)])
        except Unmappable as exc:
            external_id = legacy_id(delivery.payload.get("id"))
            return OrderPage(
                orders=[], failures=[RecordFailure(external_id, str(exc), delivery.payload)]
            )

    # --- stock --------------------------------------------------------------------------------

    def stock_push(self, items: Sequence[StockItem]) -> list[StockResult]:
        location = gid("Location", self.location_id)
        if not location:
            raise PermanentError(
                f"Shopify channel {self.context.channel_code}: set location_id, the Shopify "
                "location whose stock we set."
            )
        results: dict[int, StockResult] = {}
        by_sku = self._inventory_items_by_sku(
            sorted({item.sku for item in items if not item.external_id and item.sku})
        )
        resolved: list[tuple[int, StockItem, str]] = []
        for index, item in enumerate(items):
            if item.external_id:
                item_id = gid("InventoryItem", item.external_id)
                if not item_id:
                    results[index] = StockResult(
                        item.sku, False, f"{item.external_id!r} is not an inventory item id."
                    )
                    continue
            else:
                item_id = by_sku.get(item.sku, "")
                if not item_id:
                    results[index] = StockResult(item.sku, False, "not listed on Shopify")
                    continue
            resolved.append((index, item, item_id))
        for batch in chunks(resolved, STOCK_BATCH):
            self._set_quantities(list(batch), location, results, retry=True)
        return [results[i] for i in range(len(items))]

    def _inventory_items_by_sku(self, skus: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for batch in chunks(list(skus), SKU_LOOKUP_BATCH):
            data = self._graphql(
                VARIANTS_BY_SKU_QUERY,
                {
                    "first": MAX_PAGE_SIZE,
                    "query": " OR ".join(f"sku:{_search_value(s)}" for s in batch),
                },
            )
            connection = data.get("productVariants")
            if not isinstance(connection, dict) or not isinstance(connection.get("nodes"), list):
                raise PermanentError("Shopify answered without data.productVariants.nodes.")
            wanted = set(batch)
            for node in connection["nodes"]:
                if not isinstance(node, dict):
                    continue
                sku = _text(node.get("sku"))
                item_id = gid("InventoryItem", (node.get("inventoryItem") or {}).get("id"))
                if sku in wanted and item_id and sku not in found:  # search is not exact
                    found[sku] = item_id
        return found

    def _set_quantities(
        self,
        batch: list[tuple[int, StockItem, str]],
        location: str,
        results: dict[int, StockResult],
        *,
        retry: bool,
    ) -> None:
        data = self._graphql(
            SET_QUANTITIES_MUTATION,
            {
                "input": {
                    "name": "available",
                    "reason": "correction",
                    "quantities": [
                        {
                            "inventoryItemId": item_id,
                            "locationId": location,
                            "quantity": max(0, int(item.quantity)),
                            "changeFromQuantity": None,
                        }
                        for _, item, item_id in batch
                    ],
                },
                "idempotencyKey": str(uuid.uuid4()),
            },
        )
        payload = data.get("inventorySetQuantities")
        if not isinstance(payload, dict):
            raise PermanentError("Shopify answered without data.inventorySetQuantities.")
        errors = _user_errors(payload.get("userErrors"))
        if not errors:
            for index, item, _ in batch:
                results[index] = StockResult(item.sku, True)
            return
        named: dict[int, list[dict[str, Any]]] = {}
        general = []
        for error in errors:
            position = _quantity_position(error.get("field"))
            if position is not None and position < len(batch):
                named.setdefault(position, []).append(error)
            else:
                general.append(error)
        if general:
            message = _messages(errors)
            for index, item, _ in batch:
                results[index] = StockResult(item.sku, False, message)
            return
        rest = []
        for position, entry in enumerate(batch):
            index, item, _ = entry
            if position in named:
                results[index] = StockResult(item.sku, False, _messages(named[position]))
            else:
                rest.append(entry)
        if not rest:
            return
        if payload.get("inventoryAdjustmentGroup"):  # the others were applied
            for index, item, _ in rest:
                results[index] = StockResult(item.sku, True)
        elif retry:  # nothing was applied: send the others again, once
            self._set_quantities(rest, location, results, retry=False)
        else:
            for index, item, _ in rest:
                results[index] = StockResult(item.sku, False, "Shopify applied nothing.")

    # --- fulfilments --------------------------------------------------------------------------

    def fulfilment_push(self, push: FulfilmentPush) -> PushResult:
        order_id = gid("Order", push.order_external_id)
        if not order_id:
            raise PermanentError(f"{push.order_external_id!r} is not a Shopify order id.")
        order = self._graphql(FULFILLMENT_ORDERS_QUERY, {"id": order_id}).get("order")
        if not isinstance(order, dict):
            raise PermanentError(f"Shopify has no order {push.order_external_id}.")
        if push.tracking_number:
            for fulfillment in order.get("fulfillments") or []:
                numbers = {
                    _text(t.get("number"))
                    for t in (fulfillment or {}).get("trackingInfo") or []
                    if isinstance(t, dict)
                }
                if push.tracking_number in numbers:
                    return PushResult(
                        external_id=legacy_id(fulfillment.get("id")),
                        detail={"already_reported": True, "id": fulfillment.get("id")},
                    )
        groups = self._allocate(push, order)
        ids = []
        for by_fulfillment_order in groups.values():
            data = self._graphql(
                FULFILLMENT_CREATE_MUTATION,
                {
                    "fulfillment": {
                        "lineItemsByFulfillmentOrder": [
                            {"fulfillmentOrderId": fo_id, "fulfillmentOrderLineItems": lines}
                            for fo_id, lines in by_fulfillment_order.items()
                        ],
                        "trackingInfo": {
                            "company": push.carrier,
                            "number": push.tracking_number,
                            "url": push.tracking_url,
                        },
                        "notifyCustomer": True,
                    }
                },
            )
            payload = data.get("fulfillmentCreate")
            if not isinstance(payload, dict):
                raise PermanentError("Shopify answered without data.fulfillmentCreate.")
            errors = _user_errors(payload.get("userErrors"))
            if errors:
                raise PermanentError(f"Shopify refused the fulfilment: {_messages(errors)}")
            fulfillment = payload.get("fulfillment") or {}
            if not fulfillment.get("id"):
                raise PermanentError("Shopify created a fulfilment without an id.")
            ids.append(str(fulfillment["id"]))
        return PushResult(
            external_id=legacy_id(ids[0]) if ids else "",
            detail={"fulfillment_ids": ids},
        )

    def _allocate(
        self, push: FulfilmentPush, order: Mapping[str, Any]
    ) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """location id -> fulfillment order id -> [{id, quantity}] covering the push's lines."""
        remaining: list[dict[str, Any]] = []  # open fulfillment order line items, in order
        for fo in ((order.get("fulfillmentOrders") or {}).get("nodes")) or []:
            if not isinstance(fo, dict) or _text(fo.get("status")) not in OPEN_FULFILLMENT_ORDER:
                continue
            location = _text(((fo.get("assignedLocation") or {}).get("location") or {}).get("id"))
            for item in ((fo.get("lineItems") or {}).get("nodes")) or []:
                if not isinstance(item, dict) or not item.get("id"):
                    continue
                line_item = item.get("lineItem") or {}
                left = item.get("remainingQuantity")
                remaining.append(
                    {
                        "fo": str(fo.get("id")),
                        "location": location,
                        "id": str(item["id"]),
                        "line": legacy_id(line_item.get("id")),
                        "sku": _text(line_item.get("sku")),
                        "left": left if isinstance(left, int) else 0,
                    }
                )
        groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for line in push.lines:
            wanted = legacy_id(line.external_line_id)
            candidates = [r for r in remaining if wanted and r["line"] == wanted]
            if not candidates:
                candidates = [r for r in remaining if line.sku and r["sku"] == line.sku]
            needed = line.quantity
            for candidate in candidates:
                take = min(needed, candidate["left"])
                if take <= 0:
                    continue
                candidate["left"] -= take
                needed -= take
                items = groups.setdefault(candidate["location"], {}).setdefault(candidate["fo"], [])
                for entry in items:
                    if entry["id"] == candidate["id"]:
                        entry["quantity"] += take
                        break
                else:
                    items.append({"id": candidate["id"], "quantity": take})
                if not needed:
                    break
            if needed:
                raise PermanentError(
                    f"Shopify order {push.order_external_id}: {needed} of {line.quantity} x "
                    f"{line.sku or line.external_line_id} are not open for fulfilment."
                )
        if not groups:
            raise PermanentError(f"Fulfilment {push.reference} has no lines.")
        return groups

    # --- cancels and refunds ------------------------------------------------------------------

    def cancel_push(self, push: CancelPush) -> PushResult:
        order_id = gid("Order", push.order_external_id)
        if not order_id:
            raise PermanentError(f"{push.order_external_id!r} is not a Shopify order id.")
        if push.lines:
            return self._cancel_lines(push, order_id)
        lowered = push.reason.lower()
        reason = next((code for word, code in CANCEL_REASONS if word in lowered), "OTHER")
        data = self._graphql(
            ORDER_CANCEL_MUTATION,
            {
                "orderId": order_id,
                "reason": reason,
                "refundMethod": {"originalPaymentMethodsRefund": self.refund_on_cancel},
                "restock": True,
                "notifyCustomer": True,
                "staffNote": f"{push.reference}: {push.reason}"[:255],
            },
        )
        payload = data.get("orderCancel")
        if not isinstance(payload, dict):
            raise PermanentError("Shopify answered without data.orderCancel.")
        errors = _user_errors(payload.get("orderCancelUserErrors"))
        if errors:
            raise PermanentError(f"Shopify refused the cancellation: {_messages(errors)}")
        job = payload.get("job") or {}
        return PushResult(external_id=_text(job.get("id")), detail={"job": job})

    def _cancel_lines(self, push: CancelPush, order_id: str) -> PushResult:
        """Part of an order: a refund without money that cancels the unfulfilled quantities."""
        refund_lines = []
        for line in push.lines:
            line_id = gid("LineItem", line.external_line_id)
            if not line_id:
                raise PermanentError(
                    f"Cancel {push.reference}: line {line.sku} has no Shopify line item id."
                )
            refund_lines.append(
                {"lineItemId": line_id, "quantity": line.quantity, "restockType": "CANCEL"}
            )
        return self._refund_create(
            {
                "orderId": order_id,
                "note": f"{push.reference}: {push.reason}"[:255],
                "notify": True,
                "refundLineItems": refund_lines,
            },
            key=push.reference,
        )

    def refund_push(self, push: RefundPush) -> PushResult:
        order_id = gid("Order", push.order_external_id)
        if not order_id:
            raise PermanentError(f"{push.order_external_id!r} is not a Shopify order id.")
        if push.amount <= 0:
            raise PermanentError(f"Refund {push.reference}: the amount must be positive.")
        order = self._graphql(ORDER_TRANSACTIONS_QUERY, {"id": order_id}).get("order")
        if not isinstance(order, dict):
            raise PermanentError(f"Shopify has no order {push.order_external_id}.")
        currency = _text(order.get("presentmentCurrencyCode")).upper()
        if currency and currency != push.currency.upper():
            raise PermanentError(
                f"Refund {push.reference} is in {push.currency}, the order is in {currency}."
            )
        parents = []
        for transaction in order.get("transactions") or []:
            if not isinstance(transaction, dict):
                continue
            if transaction.get("kind") not in ("SALE", "CAPTURE"):
                continue
            if transaction.get("status") != "SUCCESS" or not transaction.get("id"):
                continue
            try:
                amount = _money(transaction.get("amountSet"), "transaction", currency, graphql=True)
            except Unmappable:
                continue
            parents.append((amount, transaction))
        parents.sort(key=lambda p: p[0], reverse=True)
        left = push.amount
        transactions = []
        for amount, parent in parents:
            take = min(left, amount)
            if take <= 0:
                continue
            transactions.append(
                {
                    "orderId": order_id,
                    "parentId": parent["id"],
                    "gateway": _text(parent.get("gateway")),
                    "kind": "REFUND",
                    "amount": str(take),
                }
            )
            left -= take
            if not left:
                break
        if left > 0:
            raise PermanentError(
                f"Refund {push.reference}: Shopify order {push.order_external_id} has not "
                f"captured {push.amount} {push.currency} to refund."
            )
        return self._refund_create(
            {
                "orderId": order_id,
                "note": f"{push.reference}: {push.reason}"[:255],
                "notify": True,
                "currency": push.currency.upper(),
                "transactions": transactions,
            },
            key=push.reference,
        )

    def _refund_create(self, refund_input: dict[str, Any], *, key: str) -> PushResult:
        data = self._graphql(REFUND_CREATE_MUTATION, {"input": refund_input, "idempotencyKey": key})
        payload = data.get("refundCreate")
        if not isinstance(payload, dict):
            raise PermanentError("Shopify answered without data.refundCreate.")
        errors = _user_errors(payload.get("userErrors"))
        if errors:
            raise PermanentError(f"Shopify refused the refund: {_messages(errors)}")
        refund = payload.get("refund") or {}
        if not refund.get("id"):
            raise PermanentError("Shopify created a refund without an id.")
        return PushResult(external_id=legacy_id(refund["id"]), detail={"id": refund["id"]})


def _quantity_position(field: Any) -> int | None:
    """The index in `input.quantities` a userError's field path names, if any."""
    if not isinstance(field, list):
        return None
    parts = [str(p) for p in field]
    if "quantities" in parts:
        at = parts.index("quantities")
        if at + 1 < len(parts) and parts[at + 1].isdigit():
            return int(parts[at + 1])
    return None
