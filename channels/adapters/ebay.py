"""eBay through its REST APIs (Sell Fulfillment and Inventory, Post-Order, Notification).

Invariants:
- every call goes through `VendorHttp` (rate limited per channel and operation); the seller's
  user token comes from the OAuth refresh-token grant (`POST /identity/v1/oauth2/token`, HTTP
  basic client_id:client_secret) and is cached with its expiry through `save_credentials`, so
  other workers reuse it; it is refreshed 60 s before it expires, and once on a 401;
- orders are pulled with `getOrders` filtered on `lastmodifieddate:[since..]`, 200 a page,
  offset pagination while eBay answers a `next` link; `fieldGroups=TAX_BREAKDOWN` is asked so
  that `pricingSummary.total` and the line `taxes` both include eBay-collected taxes;
- `lineItemCost` is the LINE total: the unit price is it divided by the quantity; when that does
  not fall on the currency's smallest unit the unit price is rounded up and the few cents added
  go to the line discount, so the line still totals exactly what eBay says; the discount is the
  sum of `appliedPromotions[].discountAmount` (else lineItemCost - discountedLineItemCost);
- a record that cannot be read (no orderId, no date, no SKU, a bad amount, mixed currencies) is a
  RecordFailure with its reason; a page that is not an eBay order collection raises;
- webhooks (Notification API) are verified before anything is parsed: `X-EBAY-SIGNATURE` is
  base64 of JSON {alg, kid, signature, digest}; the public key of `kid` is fetched with an
  application token (client-credentials grant, as eBay documents for getPublicKey) and cached an
  hour; the ECDSA signature (the key's digest, SHA1 today) is checked over the raw body; any
  missing or wrong part raises SignatureInvalid;
- stock is pushed with `bulkUpdatePriceQuantity`, 25 SKUs a call, as the absolute ship-to-home
  quantity (also on the offer when its offerId is known); eBay's per-SKU statusCode and errors
  become the StockResults; a call eBay refuses whole fails only its own SKUs;
- a shipment is reported with `createShippingFulfillment`; the fulfillment id is the last part
  of the Location header; a repeated push whose tracking number eBay already has answers the
  existing fulfillment instead of failing;
- cancellation uses the Post-Order API `POST /post-order/v2/cancellation` (the documented
  seller-initiated cancellation, `Authorization: IAF <token>`, by legacyOrderId): eBay cancels
  whole orders only, so a push naming a subset of the lines raises NotSupported;
- refunds use `issueRefund` with an order-level amount; eBay has no idempotency key there.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from django.core.cache import cache
from moneyed import CURRENCIES

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
    SignatureInvalid,
    StockItem,
    StockResult,
    VendorHttp,
    WebhookDelivery,
    chunks,
    json_object,
)
from fulfilment.adapters.carriers._common import header, parse_datetime
from oms import jsonsafe
from oms.errors import PermanentError, TransientError

DEFAULT_BASE_URL = "https://api.ebay.com"
DEFAULT_MARKETPLACE = "EBAY_US"
TOKEN_PATH = "/identity/v1/oauth2/token"
ORDERS_PATH = "/sell/fulfillment/v1/order"
STOCK_PATH = "/sell/inventory/v1/bulk_update_price_quantity"
CANCEL_PATH = "/post-order/v2/cancellation"
PUBLIC_KEY_PATH = "/commerce/notification/v1/public_key"
APPLICATION_SCOPE = "https://api.ebay.com/oauth/api_scope"
SIGNATURE_HEADER = "X-EBAY-SIGNATURE"

PAGE_SIZE = 200  # getOrders' maximum
STOCK_BATCH = 25  # bulkUpdatePriceQuantity's maximum
TOKEN_SKEW = 60.0  # refresh this many seconds before the token expires
PUBLIC_KEY_TTL = 3600  # eBay recommends caching a public key for about an hour
#: Calls per second per (channel, operation). eBay's quotas are daily; this only smooths bursts.
DEFAULT_LIMITS: dict[str, float] = {"*": 10.0}

#: Notification topics that name an order: it is fetched and mapped by webhook_orders.
ORDER_TOPICS = frozenset({"ORDER_CONFIRMATION", "ITEM_MARKED_SHIPPED"})

#: eBay orderPaymentStatus -> ours (orders.states.PaymentStatus).
PAYMENT_STATUSES = {
    "PAID": "paid",
    "PENDING": "pending",
    "FAILED": "pending",  # not paid (yet): the order waits on a payment hold
    "PARTIALLY_REFUNDED": "partially_refunded",
    "FULLY_REFUNDED": "refunded",
}

DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "SHA1": hashes.SHA1,
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}

#: Our carrier codes -> eBay ShippingCarrierCodeType values (anything else is sent as given).
CARRIER_CODES = {
    "usps": "USPS",
    "ups": "UPS",
    "fedex": "FedEx",
    "dhl": "DHL",
    "dhl_express": "DHL",
    "royal_mail": "RoyalMail",
    "royalmail": "RoyalMail",
    "parcelforce": "Parcelforce",
    "deutsche_post": "DeutschePost",
    "dpd": "DPD",
    "gls": "GLS",
    "hermes": "Hermes",
    "canada_post": "CanadaPost",
    "australia_post": "AustraliaPost",
    "colissimo": "Colissimo",
    "chronopost": "Chronopost",
    "tnt": "TNT",
    "postnl": "PostNL",
}

#: Post-Order CancelReasonEnum values a seller may give.
SELLER_CANCEL_REASONS = frozenset(
    {"OUT_OF_STOCK_OR_CANNOT_FULFILL", "BUYER_ASKED_CANCEL", "ADDRESS_ISSUES"}
)
#: Fulfillment ReasonForRefundEnum values.
REFUND_REASONS = frozenset(
    {
        "BUYER_CANCEL",
        "SELLER_CANCEL",
        "ITEM_NOT_RECEIVED",
        "BUYER_RETURN",
        "ITEM_NOT_AS_DESCRIBED",
        "OTHER_ADJUSTMENT",
        "SHIPPING_DISCOUNT",
    }
)


class Unreadable(ValueError):
    """An eBay record the mapper cannot read; becomes a RecordFailure with this reason."""


# --- small helpers --------------------------------------------------------------------------


def challenge_response(challenge_code: str, verification_token: str, endpoint_url: str) -> str:
    """The answer to eBay's endpoint validation GET (`?challenge_code=`): the hex SHA-256 of
    challenge code + verification token + endpoint URL, in that order."""
    digest = hashlib.sha256()
    for part in (challenge_code, verification_token, endpoint_url):
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()


def ebay_timestamp(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as eBay writes and reads them."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _quantum(currency: str) -> Decimal:
    known = CURRENCIES.get(currency.upper())
    sub_unit = (known.sub_unit if known is not None else 100) or 1
    return Decimal(1).scaleb(-(len(str(sub_unit)) - 1))


def _text(value: Any) -> str:
    return (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unreadable(f"{what} is not a list")
    return value


def _amount(container: Any, what: str, currency: str | None = None) -> Decimal | None:
    """The value of an eBay Amount {value, currency} (None when absent), in `currency`."""
    if container is None:
        return None
    if not isinstance(container, dict):
        raise Unreadable(f"{what} is not an amount")
    try:
        value = Decimal(str(container.get("value")))
    except (InvalidOperation, ValueError):
        raise Unreadable(f"{what}.value {container.get('value')!r} is not a number") from None
    if not value.is_finite():
        raise Unreadable(f"{what}.value is not finite")
    given = _text(container.get("currency")).upper()
    if currency and given and given != currency:
        raise Unreadable(f"{what} is in {given}, the order in {currency}")
    return value


def _order_currency(order: Mapping[str, Any], default: str) -> str:
    pricing = _dict(order.get("pricingSummary"))
    for name in ("total", "priceSubtotal"):
        currency = _text(_dict(pricing.get(name)).get("currency")).upper()
        if currency:
            return currency
    for item in order.get("lineItems") or []:
        currency = _text(_dict(_dict(item).get("lineItemCost")).get("currency")).upper()
        if currency:
            return currency
    return default.upper()


def _split_name(full_name: str) -> tuple[str, str]:
    first, _, last = full_name.strip().rpartition(" ")
    return (first, last) if first else (last, "")


# --- the mapper -----------------------------------------------------------------------------


def _line(item: Any, index: int, currency: str, quantum: Decimal) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise Unreadable(f"lineItems[{index}] is not an object")
    what = f"lineItems[{index}]"
    line_id = _text(item.get("lineItemId"))
    sku = _text(item.get("sku"))
    if not sku:
        raise Unreadable(f"{what} ({line_id or 'no lineItemId'}) has no SKU")
    quantity = item.get("quantity")
    if isinstance(quantity, str) and quantity.isdigit():
        quantity = int(quantity)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise Unreadable(f"{what}.quantity {quantity!r} is not a positive whole number")
    line_total = _amount(item.get("lineItemCost"), f"{what}.lineItemCost", currency)
    if line_total is None or line_total < 0:
        raise Unreadable(f"{what}.lineItemCost is missing")
    # lineItemCost is the price of all units: the unit price is rounded up to the currency's
    # smallest unit and what that adds is given back as discount, so the line total is exact.
    unit_price = (line_total / quantity).quantize(quantum, rounding=ROUND_CEILING)
    rounding = unit_price * quantity - line_total
    promotions = _list(item.get("appliedPromotions"), f"{what}.appliedPromotions")
    discount = Decimal(0)
    for number, promotion in enumerate(promotions):
        amount = _amount(
            _dict(promotion).get("discountAmount"),
            f"{what}.appliedPromotions[{number}].discountAmount",
            currency,
        )
        discount += abs(amount or Decimal(0))
    if not promotions:
        discounted = _amount(
            item.get("discountedLineItemCost"), f"{what}.discountedLineItemCost", currency
        )
        if discounted is not None:
            discount = max(Decimal(0), line_total - discounted)
    discount = min(discount, line_total)
    tax = Decimal(0)
    for number, entry in enumerate(_list(item.get("taxes"), f"{what}.taxes")):
        tax += abs(
            _amount(_dict(entry).get("amount"), f"{what}.taxes[{number}].amount", currency)
            or Decimal(0)
        )
    return {
        "sku": sku,
        "quantity": quantity,
        "name": _text(item.get("title")),
        "external_line_id": line_id,
        # Plain decimals ("0.00", never "0E-2"): capture refuses exponents.
        "unit_price": f"{unit_price:f}",
        "discount": f"{(discount + rounding).quantize(quantum):f}",
        "tax": f"{tax.quantize(quantum):f}",
    }


def map_order(order: Any, *, default_currency: str) -> CanonicalOrder:
    """One eBay Order (Sell Fulfillment API) as a CanonicalOrder. Raises Unreadable."""
    if not isinstance(order, dict):
        raise Unreadable("the order is not an object")
    order_id = _text(order.get("orderId"))
    if not order_id:
        raise Unreadable("the order has no orderId")
    updated_at = parse_datetime(order.get("lastModifiedDate"))
    if updated_at is None:
        raise Unreadable(f"lastModifiedDate {order.get('lastModifiedDate')!r} is not a date")
    currency = _order_currency(order, default_currency)
    if not currency:
        raise Unreadable("the order names no currency")
    quantum = _quantum(currency)
    items = _list(order.get("lineItems"), "lineItems")
    if not items:
        raise Unreadable("the order has no lineItems")
    lines = [_line(item, index, currency, quantum) for index, item in enumerate(items)]

    pricing = _dict(order.get("pricingSummary"))
    delivery = _amount(pricing.get("deliveryCost"), "pricingSummary.deliveryCost", currency)
    delivery_discount = _amount(
        pricing.get("deliveryDiscount"), "pricingSummary.deliveryDiscount", currency
    )
    shipping = max(Decimal(0), (delivery or Decimal(0)) - abs(delivery_discount or Decimal(0)))
    total = _amount(pricing.get("total"), "pricingSummary.total", currency)

    instructions = _list(order.get("fulfillmentStartInstructions"), "fulfillmentStartInstructions")
    instruction = _dict(instructions[0] if instructions else None)
    ship_to = _dict(_dict(instruction.get("shippingStep")).get("shipTo"))
    place = _dict(ship_to.get("contactAddress"))
    phone = _text(_dict(ship_to.get("primaryPhone")).get("phoneNumber"))
    full_name = _text(ship_to.get("fullName"))
    address = {
        "name": full_name,
        "line1": _text(place.get("addressLine1")),
        "line2": _text(place.get("addressLine2")),
        "city": _text(place.get("city")),
        "region": _text(place.get("stateOrProvince")),
        "postal_code": _text(place.get("postalCode")),
        "country": _text(place.get("countryCode")).upper(),
        "phone": phone,
    }
    buyer = _dict(order.get("buyer"))
    registration = _dict(buyer.get("buyerRegistrationAddress"))
    email = _text(ship_to.get("email")) or _text(registration.get("email"))
    first_name, last_name = _split_name(full_name or _text(registration.get("fullName")))
    customer = {
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "phone": phone or _text(_dict(registration.get("primaryPhone")).get("phoneNumber")),
    }

    cancel = _dict(order.get("cancelStatus"))
    cancelled = _text(cancel.get("cancelState")).upper() == "CANCELED"
    reasons = [
        _text(_dict(request).get("cancelReason"))
        for request in cancel.get("cancelRequests") or []
        if isinstance(request, dict)
    ]
    program = _dict(order.get("program"))
    return CanonicalOrder(
        external_id=order_id,
        updated_at=updated_at,
        currency=currency,
        lines=lines,
        placed_at=parse_datetime(order.get("creationDate")),
        external_number=_text(order.get("salesRecordReference")) or order_id,
        customer={k: v for k, v in customer.items() if v},
        shipping_address={k: v for k, v in address.items() if v},
        shipping_price=f"{shipping.quantize(quantum):f}",
        total=None if total is None else str(total.quantize(quantum)),
        payment_status=PAYMENT_STATUSES.get(
            _text(order.get("orderPaymentStatus")).upper(), "pending"
        ),
        prices_include_tax=False,
        notes=_text(order.get("buyerCheckoutNotes")),
        cancelled=cancelled,
        cancel_reason=next((r for r in reasons if r), "") if cancelled else "",
        # Orders eBay's own fulfilment programme ships consume none of our stock.
        fulfilled_by=FULFILLED_BY_CHANNEL if program.get("fulfillmentProgram") else FULFILLED_BY_US,
        raw=order,
    )


# --- the adapter ----------------------------------------------------------------------------


class EbayAdapter:
    """eBay channel adapter. See the module docstring.

    Credentials: client_id, client_secret, refresh_token, scope (optional, space separated),
    base_url (optional), marketplace_id (optional, for the Post-Order API; EBAY_US), and the
    cached access_token with access_token_expires_at (ISO 8601) that the adapter maintains.
    """

    vendor = "ebay"

    def __init__(
        self,
        context: AdapterContext,
        *,
        limiter: RateLimiter | None = None,
        limits: Mapping[str, float] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.context = context
        self.credentials: dict[str, Any] = dict(context.credentials or {})
        self.base_url = str(self.credentials.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.marketplace = str(self.credentials.get("marketplace_id") or DEFAULT_MARKETPLACE)
        self.now = now
        self._limiter = limiter or RateLimiter()
        self._limits = dict(DEFAULT_LIMITS if limits is None else limits)
        # One client per way of authenticating: none (the token endpoint), the seller's user
        # token as Bearer (Sell APIs) or as IAF (Post-Order API), and the application token
        # (getPublicKey). Each refreshes its own token on a 401.
        self._identity = self._client(headers=None, on_unauthorised=None)
        self.http = self._client(headers=self._bearer_headers, on_unauthorised=self._refresh)
        self._post_order = self._client(headers=self._iaf_headers, on_unauthorised=self._refresh)
        self._app = self._client(headers=self._app_headers, on_unauthorised=self._drop_app_token)

    def _client(
        self,
        *,
        headers: Callable[[], Mapping[str, str]] | None,
        on_unauthorised: Callable[[], None] | None,
    ) -> VendorHttp:
        return VendorHttp(
            vendor=self.vendor,
            account=self.context.channel_code,
            base_url=self.base_url,
            transport=self.context.transport,
            headers=headers,
            on_unauthorised=on_unauthorised,
            limits=self._limits,
            limiter=self._limiter,
        )

    def close(self) -> None:
        for client in (self._identity, self.http, self._post_order, self._app):
            client.close()

    # --- tokens ---------------------------------------------------------------------------------

    def _secret(self, name: str) -> str:
        value = str(self.credentials.get(name) or "")
        if not value:
            raise PermanentError(f"eBay channel {self.context.channel_code}: no {name} is set.")
        return value

    def _token_grant(self, form: dict[str, str]) -> tuple[str, float]:
        answer = json_object(
            self._identity.request(
                "token",
                "POST",
                TOKEN_PATH,
                data=form,
                auth=(self._secret("client_id"), self._secret("client_secret")),
                headers={"Accept": "application/json"},
            ),
            "eBay token",
        )
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise PermanentError("eBay token: the answer has no access_token.")
        try:
            lifetime = float(answer.get("expires_in") or 7200)
        except (TypeError, ValueError):
            lifetime = 7200.0
        return token, self.now() + lifetime

    def _expires_at(self) -> float:
        value = self.credentials.get("access_token_expires_at")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        moment = parse_datetime(value)
        return moment.timestamp() if moment is not None else 0.0

    def _refresh(self) -> None:
        """Exchange the refresh token for a new user token and persist it."""
        form = {"grant_type": "refresh_token", "refresh_token": self._secret("refresh_token")}
        scope = " ".join(str(self.credentials.get("scope") or "").split())
        if scope:
            form["scope"] = scope
        token, expires_at = self._token_grant(form)
        self.credentials["access_token"] = token
        self.credentials["access_token_expires_at"] = ebay_timestamp(
            dt.datetime.fromtimestamp(expires_at, tz=dt.UTC)
        )
        self.context.save_credentials(dict(self.credentials))

    def _user_token(self) -> str:
        token = self.credentials.get("access_token")
        if not token or self._expires_at() - TOKEN_SKEW <= self.now():
            self._refresh()
            token = self.credentials["access_token"]
        return str(token)

    def _bearer_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._user_token()}", "Accept": "application/json"}

    def _iaf_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"IAF {self._user_token()}",
            "X-EBAY-C-MARKETPLACE-ID": self.marketplace,
            "Accept": "application/json",
        }

    def _app_token_key(self) -> str:
        client = hashlib.sha256(f"{self.base_url}|{self._secret('client_id')}".encode()).hexdigest()
        return f"ebay:app-token:{client[:32]}"

    def _app_headers(self) -> dict[str, str]:
        key = self._app_token_key()
        token = cache.get(key)
        if not token:
            token, expires_at = self._token_grant(
                {"grant_type": "client_credentials", "scope": APPLICATION_SCOPE}
            )
            cache.set(key, token, timeout=max(1, int(expires_at - self.now() - TOKEN_SKEW)))
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def _drop_app_token(self) -> None:
        cache.delete(self._app_token_key())

    # --- orders ---------------------------------------------------------------------------------

    def _page(self, answer: Any, what: str) -> OrderPage:
        page = OrderPage(orders=[])
        for record in answer:
            external_id = _text(record.get("orderId")) if isinstance(record, dict) else ""
            try:
                page.orders.append(map_order(record, default_currency=self.context.currency))
            except Unreadable as exc:
                raw = record if isinstance(record, dict) else {"value": record}
                page.failures.append(RecordFailure(external_id, f"{what}: {exc}", raw))
        return page

    def orders_page(self, *, since: dt.datetime, page: str | None) -> OrderPage:
        offset = 0
        if page:
            if not page.isdigit():
                raise PermanentError(f"eBay getOrders: {page!r} is not a page of ours.")
            offset = int(page)
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        # eBay refuses a start date in the future (a clock ahead of eBay's).
        since = min(since, dt.datetime.fromtimestamp(self.now(), tz=dt.UTC))
        answer = json_object(
            self.http.request(
                "orders",
                "GET",
                ORDERS_PATH,
                params={
                    "filter": f"lastmodifieddate:[{ebay_timestamp(since)}..]",
                    "limit": str(PAGE_SIZE),
                    "offset": str(offset),
                    "fieldGroups": "TAX_BREAKDOWN",
                },
            ),
            "eBay getOrders",
        )
        records = answer.get("orders", [])
        if not isinstance(records, list) or ("total" not in answer and "orders" not in answer):
            raise PermanentError("eBay getOrders: the answer is not an order collection.")
        result = self._page(records, "eBay order")
        next_link = answer.get("next")
        if next_link and records:
            next_offset = offset + len(records)
            try:
                linked = httpx.URL(str(next_link)).params.get("offset")
                if linked is not None and int(linked) > offset:
                    next_offset = int(linked)
            except (ValueError, httpx.InvalidURL):
                pass
            result.next_page = str(next_offset)
        return result

    def _order(self, order_id: str) -> dict[str, Any]:
        return json_object(
            self.http.request(
                "order",
                "GET",
                f"{ORDERS_PATH}/{quote(order_id, safe='')}",
                params={"fieldGroups": "TAX_BREAKDOWN"},
            ),
            "eBay getOrder",
        )

    # --- webhooks -------------------------------------------------------------------------------

    def _public_key(self, kid: str) -> dict[str, Any]:
        key = f"ebay:public-key:{hashlib.sha256(f'{self.base_url}|{kid}'.encode()).hexdigest()}"
        cached = cache.get(key)
        if isinstance(cached, dict):
            return cached
        answer = json_object(
            self._app.request("public_key", "GET", f"{PUBLIC_KEY_PATH}/{quote(kid, safe='')}"),
            "eBay getPublicKey",
        )
        cache.set(key, answer, timeout=PUBLIC_KEY_TTL)
        return answer

    def webhook_verify(
        self, *, headers: Mapping[str, str], body: bytes, url: str
    ) -> WebhookDelivery:
        given = header(headers, SIGNATURE_HEADER).strip()
        if not given:
            raise SignatureInvalid(f"eBay notification: no {SIGNATURE_HEADER} header.")
        try:
            signature = json.loads(base64.b64decode(given, validate=True))
        except (binascii.Error, ValueError):
            raise SignatureInvalid(
                f"eBay notification: {SIGNATURE_HEADER} is unreadable."
            ) from None
        if not isinstance(signature, dict):
            raise SignatureInvalid(f"eBay notification: {SIGNATURE_HEADER} is not an object.")
        kid, sig = _text(signature.get("kid")), _text(signature.get("signature"))
        if not kid or not sig:
            raise SignatureInvalid("eBay notification: the signature names no kid or signature.")
        self._app_headers()  # a token refused here is a configuration problem, not a bad signature
        try:
            public = self._public_key(kid)
        except TransientError:
            raise
        except PermanentError as exc:
            raise SignatureInvalid(f"eBay notification: no public key {kid!r} ({exc}).") from None
        algorithm = _text(public.get("algorithm")).upper() or "ECDSA"
        digest = DIGESTS.get(
            (_text(public.get("digest")) or _text(signature.get("digest")) or "SHA1").upper()
        )
        if algorithm != "ECDSA" or digest is None:
            raise SignatureInvalid(
                f"eBay notification: unsupported {algorithm}/{public.get('digest')}."
            )
        try:
            pem = _text(public.get("key"))
            body_b64 = re.sub(r"-----[A-Z ]+-----|\s", "", pem)
            key = load_der_public_key(base64.b64decode(body_b64, validate=True))
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise ValueError("not an EC key")
            key.verify(base64.b64decode(sig, validate=True), body, ec.ECDSA(digest()))
        except InvalidSignature:
            raise SignatureInvalid("eBay notification: the signature does not match.") from None
        except (binascii.Error, ValueError, TypeError) as exc:
            raise SignatureInvalid(
                f"eBay notification: unusable key or signature ({exc})."
            ) from None
        try:
            payload = jsonsafe.loads(body)
        except ValueError:
            raise PermanentError("eBay notification: the body is not JSON.") from None
        if not isinstance(payload, dict):
            raise PermanentError("eBay notification: the body is not an object.")
        delivery_id = _text(_dict(payload.get("notification")).get("notificationId"))
        topic = _text(_dict(payload.get("metadata")).get("topic"))
        if not delivery_id or not topic:
            raise PermanentError("eBay notification: no notificationId or topic.")
        return WebhookDelivery(delivery_id=delivery_id, topic=topic, payload=payload)

    def webhook_orders(self, delivery: WebhookDelivery) -> OrderPage:
        if delivery.topic.upper() not in ORDER_TOPICS:
            return OrderPage(orders=[])
        data = _dict(_dict(delivery.payload.get("notification")).get("data"))
        order_id = _text(data.get("orderId")) or _text(_dict(data.get("order")).get("orderId"))
        if not order_id:
            return OrderPage(
                orders=[],
                failures=[
                    RecordFailure("", f"eBay {delivery.topic}: no orderId", delivery.payload)
                ],
            )
        return self._page([self._order(order_id)], f"eBay {delivery.topic}")

    @staticmethod
    def challenge_response(challenge_code: str, verification_token: str, endpoint_url: str) -> str:
        return challenge_response(challenge_code, verification_token, endpoint_url)

    # --- stock ----------------------------------------------------------------------------------

    def stock_push(self, items: Sequence[StockItem]) -> list[StockResult]:
        results: list[StockResult] = []
        for batch in chunks(list(items), STOCK_BATCH):
            requests = []
            for item in batch:
                quantity = max(0, int(item.quantity))
                request: dict[str, Any] = {
                    "sku": item.sku,
                    "shipToLocationAvailability": {"quantity": quantity},
                }
                if item.external_id:
                    request["offers"] = [
                        {"offerId": item.external_id, "availableQuantity": quantity}
                    ]
                requests.append(request)
            try:
                answer = json_object(
                    self.http.request("stock", "POST", STOCK_PATH, json={"requests": requests}),
                    "eBay bulkUpdatePriceQuantity",
                )
            except TransientError:
                raise
            except PermanentError as exc:
                results += [StockResult(sku=item.sku, ok=False, error=str(exc)) for item in batch]
                continue
            errors: dict[str, list[str]] = {}
            for response in answer.get("responses") or []:
                if not isinstance(response, dict):
                    continue
                sku = _text(response.get("sku"))
                problems = errors.setdefault(sku, [])
                try:
                    status = int(response.get("statusCode") or 0)
                except (TypeError, ValueError):
                    status = 0
                for entry in response.get("errors") or []:
                    error = _dict(entry)
                    text = _text(error.get("message")) or _text(error.get("longMessage"))
                    problems.append(f"{error.get('errorId', '')}: {text}".strip(": "))
                if not 200 <= status < 300 and not problems:
                    problems.append(f"status {status or 'missing'}")
            for item in batch:
                if item.sku not in errors:
                    results.append(StockResult(item.sku, False, "eBay did not answer for it"))
                else:
                    problems = errors[item.sku]
                    results.append(StockResult(item.sku, not problems, "; ".join(problems)))
        return results

    # --- fulfilment, cancellation, refund ------------------------------------------------------

    def fulfilment_push(self, push: FulfilmentPush) -> PushResult:
        if not push.lines or any(not line.external_line_id for line in push.lines):
            raise PermanentError("eBay shipping fulfillment: every line needs its lineItemId.")
        tracking = re.sub(r"[^0-9A-Za-z]", "", push.tracking_number or "")
        body: dict[str, Any] = {
            "lineItems": [
                {"lineItemId": line.external_line_id, "quantity": line.quantity}
                for line in push.lines
            ],
            "shippedDate": ebay_timestamp(push.shipped_at),
        }
        if tracking:  # eBay wants both or neither
            carrier = (push.carrier or "").strip()
            body["shippingCarrierCode"] = CARRIER_CODES.get(carrier.lower(), carrier) or "Other"
            body["trackingNumber"] = tracking
        path = f"{ORDERS_PATH}/{quote(push.order_external_id, safe='')}/shipping_fulfillment"
        try:
            response = self.http.request("fulfilment", "POST", path, json=body, expect_json=False)
        except TransientError:
            raise
        except PermanentError:
            existing = self._existing_fulfillment(path, tracking)
            if existing is None:
                raise
            return PushResult(external_id=existing, detail={"already_reported": True})
        location = response.headers.get("Location", "")
        fulfillment_id = location.rstrip("/").rpartition("/")[2] if location else tracking
        return PushResult(
            external_id=fulfillment_id, detail={"location": location, "reference": push.reference}
        )

    def _existing_fulfillment(self, path: str, tracking: str) -> str | None:
        """The id of the order's fulfillment with this tracking number, if eBay has one."""
        if not tracking:
            return None
        answer = json_object(self.http.request("fulfilment", "GET", path), "eBay fulfillments")
        for fulfillment in answer.get("fulfillments") or []:
            fulfillment = _dict(fulfillment)
            if _text(fulfillment.get("shipmentTrackingNumber")) == tracking:
                return _text(fulfillment.get("fulfillmentId")) or tracking
        return None

    def cancel_push(self, push: CancelPush) -> PushResult:
        order = self._order(push.order_external_id)
        if _text(_dict(order.get("cancelStatus")).get("cancelState")).upper() == "CANCELED":
            return PushResult(detail={"already_cancelled": True})
        if push.lines:
            ordered = {
                _text(_dict(item).get("lineItemId")): int(_dict(item).get("quantity") or 0)
                for item in order.get("lineItems") or []
            }
            asked: dict[str, int] = {}
            for line in push.lines:
                asked[line.external_line_id] = asked.get(line.external_line_id, 0) + line.quantity
            if asked != ordered:
                raise NotSupported("eBay cancels whole orders only, not some of their lines.")
        legacy_id = _text(order.get("legacyOrderId"))
        if not legacy_id:
            raise PermanentError(f"eBay order {push.order_external_id} has no legacyOrderId.")
        answer = json_object(
            self._post_order.request(
                "cancel",
                "POST",
                CANCEL_PATH,
                json={"legacyOrderId": legacy_id, "cancelReason": _cancel_reason(push.reason)},
            ),
            "eBay createCancellation",
        )
        cancel_id = _text(answer.get("cancelId"))
        if not cancel_id:
            raise PermanentError(
                f"eBay refused to cancel order {push.order_external_id}: "
                f"{json.dumps(answer.get('orderEligibilityResult') or answer)[:300]}"
            )
        return PushResult(external_id=cancel_id, detail=answer)

    def refund_push(self, push: RefundPush) -> PushResult:
        amount = Decimal(push.amount)
        if amount <= 0:
            raise PermanentError("eBay issueRefund: the amount must be positive.")
        currency = (push.currency or self.context.currency).upper()
        body = {
            "reasonForRefund": _refund_reason(push.reason),
            "comment": f"{push.reference}: {push.reason}".strip(": ")[:100],
            "orderLevelRefundAmount": {
                "value": str(amount.quantize(_quantum(currency))),
                "currency": currency,
            },
        }
        answer = json_object(
            self.http.request(
                "refund",
                "POST",
                f"{ORDERS_PATH}/{quote(push.order_external_id, safe='')}/issue_refund",
                json=body,
            ),
            "eBay issueRefund",
        )
        if _text(answer.get("refundStatus")).upper() == "FAILED":
            raise PermanentError(f"eBay refused the refund of order {push.order_external_id}.")
        return PushResult(external_id=_text(answer.get("refundId")), detail=answer)


def _cancel_reason(reason: str) -> str:
    text = (reason or "").strip()
    if text.upper() in SELLER_CANCEL_REASONS:
        return text.upper()
    lowered = text.lower()
    if "address" in lowered:
        return "ADDRESS_ISSUES"
    if any(word in lowered for word in ("buyer", "customer", "request")):
        return "BUYER_ASKED_CANCEL"
    return "OUT_OF_STOCK_OR_CANNOT_FULFILL"


def _refund_reason(reason: str) -> str:
    text = (reason or "").strip()
    if text.upper() in REFUND_REASONS:
        return text.upper()
    lowered = text.lower()
    for words, value in (
        (("not received", "not_received", "lost"), "ITEM_NOT_RECEIVED"),
        (("not as described", "not_as_described", "damaged", "defect"), "ITEM_NOT_AS_DESCRIBED"),
        (("return",), "BUYER_RETURN"),
        (("cancel",), "BUYER_CANCEL"),
        (("shipping",), "SHIPPING_DISCOUNT"),
    ):
        if any(word in lowered for word in words):
            return value
    return "OTHER_ADJUSTMENT"
