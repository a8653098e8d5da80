"""Amazon Selling Partner API (SP-API): orders, stock and shipment confirmations over plain httpx.

Sources (read, written by hand from the documented shapes): the models in
amzn/selling-partner-api-models: `orders-api-model/orders_2026-01-01.json` (searchOrders, Order,
OrderItem, Money, ErrorList), `orders-api-model/ordersV0.json` (confirmShipment) and
`listings-items-api-model/listingsItems_2021-08-01.json` (patchListingsItem,
ListingsItemSubmissionResponse); the Orders API migration guide
(developer-docs.amazon.com/sp-api/docs/orders-api-migration-guide); Login with Amazon's
refresh-token grant (`POST https://api.amazon.com/auth/o2/token`).

Invariants:
- orders come from Orders API v2026-01-01 `GET /orders/2026-01-01/orders` (searchOrders) with
  `lastUpdatedAfter`, our marketplace and the datasets we map (`includedData`); Amazon asks that a
  `paginationToken` be sent with the very same filters, so our page token carries the
  `lastUpdatedAfter` it was issued for ("<since>|<nextToken>") and a later page never mixes them;
- external_id and external_number = `orderId`, updated_at = `lastUpdatedTime`, placed_at =
  `createdTime`; `product.price.unitPrice` is PER UNIT (v0's ItemPrice was the line total: when only
  a line total is there, the ITEM proceeds of the line, it is divided by the quantity); line tax
  and discount are the item's TAX and DISCOUNT proceeds (line totals); currency comes from the money
  objects (mixed currencies make the record unreadable), the channel's currency only when the order
  carries no amount at all;
- `fulfillment.fulfillmentStatus`: PENDING / PENDING_AVAILABILITY -> payment "pending" and NO
  address even if one is sent (such orders must not be routed: capture holds them); UNSHIPPED,
  PARTIALLY_SHIPPED, SHIPPED -> "paid"; CANCELLED -> cancelled (payment "voided", reason from the
  items' cancellation); `fulfillment.fulfilledBy` AMAZON (FBA, v0's AFN) -> FULFILLED_BY_CHANNEL;
- a record that cannot be mapped is a RecordFailure with its reason; an answer that is not a JSON
  object with an `orders` list raises PermanentError;
- stock: one Listings Items `PATCH /listings/2021-08-01/items/{sellerId}/{sku}` per SKU replacing
  `/attributes/fulfillment_availability` with the DEFAULT channel quantity; a submission answered
  INVALID (or a 4xx for that SKU) is a failed StockResult with Amazon's issues, the other SKUs go
  on; 429/5xx raise (the push is absolute, so a retry of the whole batch is safe);
- fulfilment: v0 `POST /orders/v0/orders/{orderId}/shipmentConfirmation` per package; Amazon takes
  only positive numbers as packageReferenceId, so ours is the digits of our reference (a CRC32 of
  it when it has none); carriers Amazon does not list go as "Other" with their name;
- Amazon has no HTTP webhooks (notifications go through SQS): webhook_verify and webhook_orders
  raise NotSupported; seller cancellations and refunds go through Seller Central or feeds, not a
  simple documented call: cancel_push and refund_push raise NotSupported;
- auth: the LWA access token is sent as `x-amz-access-token`; it is cached with its expiry in the
  channel's credentials (`access_token`, `access_token_expires_at`, ISO 8601) through
  `context.save_credentials`, so other workers reuse it, and refreshed a minute before it expires
  or once when the API answers 401, or 403 with an `Unauthorized` / expired-token error;
- rate limits: searchOrders is documented at 0.0056 request/s with a burst of 20. Our shared
  limiter treats any rate under 1/s as one slot per interval, which would refuse page 2 of the same
  sync for 3 minutes; so searchOrders gets no local budget and lives on Amazon's burst, while a 429
  blocks the key for every worker for its Retry-After, or for the documented refill interval
  (180 s) when Amazon sends none. patchListingsItem is held to 5/s and confirmShipment to 2/s,
  their documented rates.
"""

from __future__ import annotations

import datetime as dt
import time
import zlib
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import httpx

from channels.adapters.base import (
    FULFILLED_BY_CHANNEL,
    FULFILLED_BY_US,
    AdapterContext,
    CancelPush,
    CanonicalOrder,
    FulfilmentPush,
    NotSupported,
    OrderPage,
    PushResult,
    RateLimiter,
    RecordFailure,
    RefundPush,
    StockItem,
    StockResult,
    VendorHttp,
    WebhookDelivery,
    credential_flag,
    json_object,
)
from fulfilment.adapters.carriers._common import parse_datetime
from oms.errors import PermanentError

DEFAULT_BASE_URL = "https://sellingpartnerapi-eu.amazon.com"
DEFAULT_LWA_URL = "https://api.amazon.com/auth/o2/token"
DEFAULT_PRODUCT_TYPE = "PRODUCT"
ORDERS_PATH = "/orders/2026-01-01/orders"
INCLUDED_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "CANCELLATION", "FULFILLMENT")
PAGE_SIZE = 100
TOKEN_MARGIN = 60.0  # seconds before its expiry when a cached token is refreshed anyway

#: Our per-operation budgets (requests per second); see the module docstring.
LIMITS = {"searchOrders": 0.0, "patchListingsItem": 5.0, "confirmShipment": 2.0}
#: Seconds to block an operation after a 429 that came without a Retry-After.
REFILL_SECONDS = {"searchOrders": 180.0, "patchListingsItem": 1.0, "confirmShipment": 1.0}

#: Marketplaces whose prices exclude sales tax (US, Canada); elsewhere shelf prices include it.
TAX_EXCLUSIVE_MARKETPLACES = frozenset({"ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"})

PENDING_STATUSES = frozenset({"PENDING", "PENDING_AVAILABILITY", "UNFULFILLABLE"})
PAID_STATUSES = frozenset({"UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"})
CANCELLED_STATUS = "CANCELLED"

#: Our carrier names (lower case, letters and digits only) -> Amazon's carrierCode values.
CARRIER_CODES = {
    "ups": "UPS",
    "usps": "USPS",
    "fedex": "FedEx",
    "dhl": "DHL",
    "dhlexpress": "DHL",
    "dhlecommerce": "DHL eCommerce",
    "deutschepost": "Deutsche Post",
    "dpd": "DPD",
    "gls": "GLS",
    "hermes": "Hermes",
    "evri": "Evri",
    "royalmail": "Royal Mail",
    "parcelforce": "Parcelforce",
    "colissimo": "Colissimo",
    "chronopost": "Chronopost",
    "laposte": "La Poste",
    "posteitaliane": "Poste Italiane",
    "brt": "BRT",
    "seur": "SEUR",
    "correos": "Correos",
    "postnl": "PostNL",
    "canadapost": "Canada Post",
    "australiapost": "Australia Post",
    "japanpost": "Japan Post",
    "amazonshipping": "Amazon Shipping",
}


class _Unreadable(ValueError):
    """A record the mapper cannot read (becomes a RecordFailure with this message)."""


# --- HTTP ----------------------------------------------------------------------------------------


def _token_rejected(response: httpx.Response) -> bool:
    """Whether a 403 says the access token is expired, revoked or invalid (SP-API's ErrorList)."""
    try:
        body = response.json()
    except ValueError:
        return False
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue
        said = f"{error.get('message') or ''} {error.get('details') or ''}".lower()
        if error.get("code") == "Unauthorized" or "access token" in said or "expired" in said:
            return True
    return False


class _SpApiHttp(VendorHttp):
    """VendorHttp with SP-API's two quirks: an expired token is a 403 `Unauthorized` (handled as
    the 401 VendorHttp refreshes on, once), and a 429 often comes without Retry-After (the
    operation's documented refill interval is used then)."""

    _op = ""

    def request(
        self, op: str, method: str, url: str, *, expect_json: bool = True, **kwargs: Any
    ) -> Any:
        self._op = op
        return super().request(op, method, url, expect_json=expect_json, **kwargs)

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = super()._send(method, url, **kwargs)
        if response.status_code == 403 and _token_rejected(response):
            response.status_code = 401
        elif response.status_code == 429 and "Retry-After" not in response.headers:
            wait = REFILL_SECONDS.get(self._op)
            if wait:
                response.headers["Retry-After"] = f"{wait:g}"
        return response


# --- reading payloads --------------------------------------------------------------------------


def _text(value: Any) -> str:
    return str(value).strip() if value not in (None, "") else ""


def _iso(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(value: Any, what: str, currencies: set[str]) -> Decimal | None:
    """The amount of an SP-API Money object ({amount, currencyCode}); None when absent."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Unreadable(f"{what} is not a Money object")
    try:
        amount = Decimal(str(value.get("amount")))
    except (InvalidOperation, ValueError):
        raise _Unreadable(f"{what}: amount {value.get('amount')!r} is not a decimal") from None
    if not amount.is_finite():
        raise _Unreadable(f"{what}: amount {value.get('amount')!r} is not a decimal")
    currency = _text(value.get("currencyCode")).upper()
    if len(currency) != 3:
        raise _Unreadable(f"{what}: no currencyCode")
    currencies.add(currency)
    return amount


def _breakdown(proceeds: Any, kind: str, what: str, currencies: set[str]) -> Decimal | None:
    """The sum of the `kind` entries (ITEM, TAX, SHIPPING ...) of a proceeds breakdown list."""
    if not isinstance(proceeds, dict):
        return None
    total: Decimal | None = None
    for entry in proceeds.get("breakdowns") or []:
        if isinstance(entry, dict) and entry.get("type") == kind:
            amount = _money(entry.get("subtotal"), f"{what} {kind}", currencies)
            if amount is not None:
                total = amount if total is None else total + amount
    return total


def _per_unit(line_total: Decimal, quantity: int) -> Decimal:
    """A line total divided by its quantity, to the precision of the total."""
    exponent = line_total.as_tuple().exponent
    quantum = Decimal(1).scaleb(exponent if isinstance(exponent, int) else -2)
    return (line_total / quantity).quantize(quantum, ROUND_HALF_UP)


def _address(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        return {}
    extra = [_text(data.get(k)) for k in ("addressLine2", "addressLine3")]
    address = {
        "name": _text(data.get("name")),
        "line1": _text(data.get("addressLine1")),
        "line2": ", ".join(part for part in extra if part),
        "city": _text(data.get("city")) or _text(data.get("municipality")),
        "region": _text(data.get("stateOrRegion")),
        "postal_code": _text(data.get("postalCode")),
        "country": _text(data.get("countryCode")).upper(),
        "phone": _text(data.get("phone")),
    }
    return {key: value for key, value in address.items() if value}


def _customer(buyer: Any, phone: str) -> dict[str, Any]:
    if not isinstance(buyer, dict):
        return {}
    first, _, last = _text(buyer.get("buyerName")).rpartition(" ")
    if not first:  # a single word is a first name
        first, last = last, ""
    customer = {
        "email": _text(buyer.get("buyerEmail")),
        "first_name": first,
        "last_name": last,
        "phone": phone,
    }
    return {key: value for key, value in customer.items() if value}


def _package_reference(reference: str) -> str:
    """Amazon's packageReferenceId takes positive numbers only: the digits of our reference."""
    digits = "".join(ch for ch in reference if ch.isdigit()).lstrip("0")
    return digits or str(zlib.crc32(reference.encode("utf-8")) or 1)


def _carrier(name: str) -> tuple[str, str]:
    """(carrierCode, carrierName): carrierName only for carriers Amazon does not list."""
    key = "".join(ch for ch in name.lower() if ch.isalnum())
    code = CARRIER_CODES.get(key)
    return (code, "") if code else ("Other", name.strip() or "Other")


# --- the adapter -------------------------------------------------------------------------------


class AmazonAdapter:
    """SP-API for one seller account in one marketplace. See the module docstring.

    Credentials: refresh_token, client_id, client_secret, seller_id, marketplace_id; optional
    base_url (SP-API regional endpoint), lwa_url, product_type (of patchListingsItem),
    prices_include_tax (else decided by the marketplace), and the cached access_token with its
    access_token_expires_at.
    """

    vendor = "amazon"

    def __init__(self, context: AdapterContext, *, limiter: RateLimiter | None = None) -> None:
        self.context = context
        self.credentials = dict(context.credentials)
        account = _text(self.credentials.get("seller_id")) or context.channel_code
        self.http = _SpApiHttp(
            vendor=self.vendor,
            account=account,
            base_url=_text(self.credentials.get("base_url")) or DEFAULT_BASE_URL,
            transport=context.transport,
            headers=self._auth_headers,
            on_unauthorised=self._on_unauthorised,
            limits=LIMITS,
            limiter=limiter,
        )
        self.lwa_url = _text(self.credentials.get("lwa_url")) or DEFAULT_LWA_URL
        self.lwa = VendorHttp(
            vendor=self.vendor,
            account=account,
            base_url=self.lwa_url,
            transport=context.transport,
            limiter=limiter,
        )

    def close(self) -> None:
        self.http.close()
        self.lwa.close()

    # --- credentials and the LWA token ----------------------------------------------------------

    def _required(self, name: str) -> str:
        value = _text(self.credentials.get(name))
        if not value:
            raise PermanentError(f"Amazon channel {self.context.channel_code}: no {name} is set.")
        return value

    def _token_expiry(self) -> float:
        raw = self.credentials.get("access_token_expires_at")
        if isinstance(raw, int | float):
            return float(raw)
        moment = parse_datetime(raw)
        return moment.timestamp() if moment else 0.0

    def _auth_headers(self) -> dict[str, str]:
        token = _text(self.credentials.get("access_token"))
        if not token or self._token_expiry() - TOKEN_MARGIN <= time.time():
            token = self._refresh_token()
        return {"x-amz-access-token": token, "Accept": "application/json"}

    def _on_unauthorised(self) -> None:
        """The API refused our token (401, or 403 Unauthorized): fetch a new one, once."""
        self._refresh_token()

    def _refresh_token(self) -> str:
        """Exchange the refresh token for an access token and save both with its expiry."""
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._required("refresh_token"),
            "client_id": self._required("client_id"),
            "client_secret": self._required("client_secret"),
        }
        answer = json_object(
            self.lwa.request("lwa_token", "POST", self.lwa_url, data=form), "Amazon LWA token"
        )
        token = _text(answer.get("access_token"))
        if not token:
            raise PermanentError("Amazon LWA answered without an access_token.")
        try:
            lifetime = float(answer.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=lifetime)
        self.credentials["access_token"] = token
        self.credentials["access_token_expires_at"] = expires.isoformat(timespec="seconds")
        self.context.save_credentials(dict(self.credentials))
        return token

    # --- orders ---------------------------------------------------------------------------------

    def orders_page(self, *, since: dt.datetime, page: str | None) -> OrderPage:
        after = _iso(since)
        token = None
        if page:
            issued_for, sep, rest = page.partition("|")
            after, token = (issued_for, rest) if sep else (after, page)
        params: dict[str, Any] = {
            "lastUpdatedAfter": after,
            "marketplaceIds": self._required("marketplace_id"),
            "includedData": ",".join(INCLUDED_DATA),
            "maxResultsPerPage": PAGE_SIZE,
        }
        if token:
            params["paginationToken"] = token
        answer = json_object(
            self.http.request("searchOrders", "GET", ORDERS_PATH, params=params),
            "Amazon searchOrders",
        )
        records = answer.get("orders")
        if not isinstance(records, list):
            raise PermanentError("Amazon searchOrders: the answer has no `orders` list.")
        result = self._map_all(records)
        pagination = answer.get("pagination")
        next_token = _text(pagination.get("nextToken")) if isinstance(pagination, dict) else ""
        result.next_page = f"{after}|{next_token}" if next_token else None
        return result

    def _map_all(self, records: Sequence[Any]) -> OrderPage:
        orders: list[CanonicalOrder] = []
        failures: list[RecordFailure] = []
        for record in records:
            if not isinstance(record, dict):
                failures.append(RecordFailure("", "the order is not a JSON object", {}))
                continue
            try:
                orders.append(self.map_order(record))
            except _Unreadable as exc:
                failures.append(RecordFailure(_text(record.get("orderId")), str(exc), record))
        orders.sort(key=lambda order: order.updated_at)
        return OrderPage(orders=orders, failures=failures)

    def _prices_include_tax(self, marketplace: str) -> bool:
        configured = credential_flag(self.credentials.get("prices_include_tax"))
        if configured is not None:
            return configured
        marketplace = marketplace or _text(self.credentials.get("marketplace_id"))
        return marketplace not in TAX_EXCLUSIVE_MARKETPLACES

    def map_order(self, order: Mapping[str, Any]) -> CanonicalOrder:
        """One v2026-01-01 Order as a CanonicalOrder. Raises _Unreadable."""
        order_id = _text(order.get("orderId"))
        if not order_id:
            raise _Unreadable("no orderId")
        updated_at = parse_datetime(order.get("lastUpdatedTime"))
        if updated_at is None:
            raise _Unreadable(f"lastUpdatedTime {order.get('lastUpdatedTime')!r} is not a date")
        fulfillment = order.get("fulfillment")
        fulfillment = fulfillment if isinstance(fulfillment, dict) else {}
        status = _text(fulfillment.get("fulfillmentStatus")).upper()
        if status in PAID_STATUSES:
            payment_status = "paid"
        elif status in PENDING_STATUSES:
            payment_status = "pending"
        elif status == CANCELLED_STATUS:
            payment_status = "voided"
        else:
            raise _Unreadable(f"unknown fulfillmentStatus {status!r}")
        cancelled = status == CANCELLED_STATUS

        currencies: set[str] = set()
        lines: list[dict[str, Any]] = []
        reasons: list[str] = []
        gifts: list[str] = []
        item_shipping = Decimal(0)
        items = order.get("orderItems")
        if not isinstance(items, list) or not items:
            raise _Unreadable("no orderItems")
        for index, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise _Unreadable(f"orderItems[{index}] is not an object")
            line = self._map_item(item, index, currencies)
            shipping = _breakdown(item.get("proceeds"), "SHIPPING", f"item {index}", currencies)
            item_shipping += shipping or Decimal(0)
            reasons += self._cancel_reasons(item)
            gift = ((item.get("fulfillment") or {}).get("packing") or {}).get("giftOption") or {}
            if isinstance(gift, dict) and _text(gift.get("giftMessage")):
                gifts.append(_text(gift.get("giftMessage")))
            if line is not None:
                lines.append(line)
        if not lines and not cancelled:
            raise _Unreadable("no order item has a quantity")

        proceeds = order.get("proceeds")
        shipping = _breakdown(proceeds, "SHIPPING", "order", currencies)
        total = None
        if isinstance(proceeds, dict):
            grand = _money(proceeds.get("grandTotal"), "proceeds.grandTotal", currencies)
            tip = _breakdown(proceeds, "DELIVERY_TIP", "order", currencies)
            # A delivery tip is charged apart and belongs to no line: it is not ours to compare.
            total = None if grand is None else grand - (tip or Decimal(0))
        if len(currencies) > 1:
            raise _Unreadable(f"amounts in several currencies: {', '.join(sorted(currencies))}")
        currency = currencies.pop() if currencies else self.context.currency.upper()

        recipient = order.get("recipient")
        delivery = recipient.get("deliveryAddress") if isinstance(recipient, dict) else None
        # A PENDING order must not be routed: no address, even if Amazon sent one.
        address = {} if payment_status == "pending" else _address(delivery)
        channel = order.get("salesChannel")
        marketplace = _text(channel.get("marketplaceId")) if isinstance(channel, dict) else ""
        fulfilled_by = (
            FULFILLED_BY_CHANNEL
            if _text(fulfillment.get("fulfilledBy")).upper() == "AMAZON"
            else FULFILLED_BY_US
        )
        notes = "\n".join(f"Gift message: {message}" for message in gifts)
        return CanonicalOrder(
            external_id=order_id,
            external_number=order_id,
            updated_at=updated_at,
            placed_at=parse_datetime(order.get("createdTime")),
            currency=currency,
            lines=lines,
            customer=_customer(order.get("buyer"), address.get("phone", "")),
            shipping_address=address,
            shipping_price=f"{shipping if shipping is not None else item_shipping:f}",
            total=None if total is None else str(total),
            payment_status=payment_status,
            prices_include_tax=self._prices_include_tax(marketplace),
            notes=notes,
            cancelled=cancelled,
            cancel_reason="; ".join(dict.fromkeys(reasons)) if cancelled else "",
            fulfilled_by=fulfilled_by,
            raw=dict(order),
        )

    @staticmethod
    def _map_item(
        item: Mapping[str, Any], index: int, currencies: set[str]
    ) -> dict[str, Any] | None:
        """One OrderItem as a canonical line; None for an item cancelled down to 0 units."""
        what = f"orderItems[{index}]"
        quantity = item.get("quantityOrdered")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            raise _Unreadable(f"{what}: quantityOrdered {quantity!r} is not a count")
        if quantity == 0:
            return None
        product = item.get("product")
        if not isinstance(product, dict):
            raise _Unreadable(f"{what}: no product")
        sku = _text(product.get("sellerSku"))
        if not sku:
            raise _Unreadable(f"{what}: no sellerSku")
        price = product.get("price")
        unit = _money(
            price.get("unitPrice") if isinstance(price, dict) else None,
            f"{what} unitPrice",
            currencies,
        )
        proceeds = item.get("proceeds")
        if unit is None:
            # No per-unit price: the ITEM proceeds are the line total, divided here.
            line_total = _breakdown(proceeds, "ITEM", what, currencies)
            if line_total is None:
                raise _Unreadable(f"{what}: no unitPrice and no ITEM proceeds")
            unit = _per_unit(line_total, quantity)
        tax = _breakdown(proceeds, "TAX", what, currencies) or Decimal(0)
        discount = _breakdown(proceeds, "DISCOUNT", what, currencies) or Decimal(0)
        return {
            "sku": sku,
            "quantity": quantity,
            "name": _text(product.get("title")),
            "external_line_id": _text(item.get("orderItemId")),
            # Plain decimals ("0.00", never "0E-2"): capture refuses exponents.
            "unit_price": f"{unit:f}",
            "discount": f"{abs(discount):f}",
            "tax": f"{abs(tax):f}",
        }

    @staticmethod
    def _cancel_reasons(item: Mapping[str, Any]) -> list[str]:
        cancellation = item.get("cancellation")
        if not isinstance(cancellation, dict):
            return []
        reasons = []
        for key in ("cancellationExecution", "cancellationRequest"):
            part = cancellation.get(key)
            if isinstance(part, dict) and _text(part.get("cancelReason")):
                reasons.append(_text(part.get("cancelReason")))
        return reasons[:1]

    # --- webhooks -------------------------------------------------------------------------------

    def webhook_verify(
        self, *, headers: Mapping[str, str], body: bytes, url: str
    ) -> WebhookDelivery:
        """Amazon notifies through SQS, never through HTTP webhooks."""
        raise NotSupported("Amazon SP-API sends notifications through SQS, not HTTP webhooks.")

    def webhook_orders(self, delivery: WebhookDelivery) -> OrderPage:
        raise NotSupported("Amazon SP-API sends notifications through SQS, not HTTP webhooks.")

    # --- pushes ---------------------------------------------------------------------------------

    def stock_push(self, items: Sequence[StockItem]) -> list[StockResult]:
        """patchListingsItem per SKU: the DEFAULT (merchant) channel's sellable quantity."""
        seller = quote(self._required("seller_id"), safe="")
        marketplace = self._required("marketplace_id")
        product_type = _text(self.credentials.get("product_type")) or DEFAULT_PRODUCT_TYPE
        if items:
            self._auth_headers()  # credentials that cannot give a token fail the push, not a SKU
        results = []
        for item in items:
            body = {
                "productType": product_type,
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [
                            {
                                "fulfillment_channel_code": "DEFAULT",
                                "quantity": max(0, item.quantity),
                            }
                        ],
                    }
                ],
            }
            try:
                answer = json_object(
                    self.http.request(
                        "patchListingsItem",
                        "PATCH",
                        f"/listings/2021-08-01/items/{seller}/{quote(item.sku, safe='')}",
                        params={"marketplaceIds": marketplace},
                        json=body,
                    ),
                    "Amazon patchListingsItem",
                )
            except PermanentError as exc:  # this SKU was refused (400, 404 ...): the others go on
                results.append(StockResult(sku=item.sku, ok=False, error=str(exc)[:500]))
                continue
            status = _text(answer.get("status")).upper()
            if status == "ACCEPTED":
                results.append(StockResult(sku=item.sku, ok=True))
                continue
            issues = [
                f"{issue.get('code')}: {issue.get('message')}"
                for issue in answer.get("issues") or []
                if isinstance(issue, dict)
            ]
            error = "; ".join(issues) or f"submission status {status or 'missing'}"
            results.append(StockResult(sku=item.sku, ok=False, error=error[:500]))
        return results

    def fulfilment_push(self, push: FulfilmentPush) -> PushResult:
        """confirmShipment of one package; answered 204 by Amazon."""
        order_items = []
        for line in push.lines:
            if not line.external_line_id:
                raise PermanentError(
                    f"Amazon order {push.order_external_id}: line {line.sku} has no orderItemId."
                )
            order_items.append({"orderItemId": line.external_line_id, "quantity": line.quantity})
        if not order_items:
            raise PermanentError(f"Amazon order {push.order_external_id}: nothing to confirm.")
        if not push.tracking_number:
            raise PermanentError(
                f"Amazon order {push.order_external_id}: a shipment confirmation needs tracking."
            )
        carrier_code, carrier_name = _carrier(push.carrier)
        package: dict[str, Any] = {
            "packageReferenceId": _package_reference(push.reference),
            "carrierCode": carrier_code,
            "trackingNumber": push.tracking_number,
            "shipDate": _iso(push.shipped_at),
            "orderItems": order_items,
        }
        if carrier_name:
            package["carrierName"] = carrier_name
        if push.service:
            package["shippingMethod"] = push.service
        body = {"marketplaceId": self._required("marketplace_id"), "packageDetail": package}
        self.http.request(
            "confirmShipment",
            "POST",
            f"/orders/v0/orders/{quote(push.order_external_id, safe='')}/shipmentConfirmation",
            json=body,
            expect_json=False,
        )
        return PushResult(
            external_id=package["packageReferenceId"],
            detail={"reference": push.reference, "packageDetail": package},
        )

    def cancel_push(self, push: CancelPush) -> PushResult:
        """Not offered: Amazon has no simple documented seller-cancel call (Seller Central or an
        order-acknowledgement feed cancel orders)."""
        raise NotSupported("Cancel Amazon orders in Seller Central or through a feed.")

    def refund_push(self, push: RefundPush) -> PushResult:
        """Not offered: refunds on Amazon go through Seller Central or feeds."""
        raise NotSupported("Refund Amazon orders in Seller Central or through a feed.")
