"""The channel adapter protocol, the canonical records adapters produce, and their HTTP client.

Invariants:
- an adapter only talks to its vendor and maps payloads; it never writes to the database (the
  sync engine in channels.services.sync does, from the canonical records returned here);
- every outbound call goes through `VendorHttp`, which takes a slot from the shared rate limiter
  of (vendor, account, operation) first, and maps failures to the kernel's two kinds: 429 (with
  its Retry-After, which also blocks every other worker on that key), 408, 5xx, timeouts and
  connection errors raise TransientError; any other 4xx and any body that is not the JSON asked
  for raise PermanentError; a 401 triggers one token refresh (`on_unauthorised`) and one retry;
- a record the mapper cannot read is returned as a RecordFailure with the reason, never raised,
  so one bad record does not stop the others; a page that cannot be read at all raises;
- a webhook is parsed only after its signature was checked on the raw bytes (SignatureInvalid
  otherwise).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import httpx
from django.core.cache import cache

from oms.errors import PermanentError, TransientError
from oms.vendor_http import retry_after_seconds

# --- errors ---------------------------------------------------------------------------------


class SignatureInvalid(PermanentError):
    """The webhook's signature is missing or does not match: answer 401, store nothing."""


class RateLimited(TransientError):
    """The vendor (or our shared limiter) asks to wait `retry_after` seconds."""


class NotSupported(PermanentError):
    """The channel kind does not offer this operation (e.g. Amazon has no HTTP webhooks)."""


# --- canonical records ------------------------------------------------------------------------

#: CanonicalOrder.fulfilled_by values.
FULFILLED_BY_US = ""  # we ship it: routed, reserved, picked like any order
FULFILLED_BY_CHANNEL = "channel"  # e.g. Amazon FBA (AFN): already shipped, consumes none of ours
FULFILLED_BY_STORE = "store"  # a POS sale: handed over in the store, decrements the store's stock
#: Shipped by the merchant outside the OMS before we first saw it (Amazon SHIPPED, eBay
#: FULFILLED, Shopify fulfilled, WooCommerce completed): never routed nor reserved; its units
#: are taken from one of our locations or not at all, per the channel's connector setting
#: `shipped_elsewhere_stock` (channels.services.sync.shipped_elsewhere_location).
FULFILLED_ELSEWHERE = "elsewhere"


@dataclass
class CanonicalOrder:
    """One channel order mapped to the arguments of orders.services.order_capture.

    Amounts are Decimal or decimal strings in `currency`; `lines` are dicts with sku, quantity,
    name, external_line_id, unit_price (per unit), discount (line total), tax (line total);
    addresses use our names (name, line1, line2, city, region, postal_code, country (ISO 3166
    alpha-2), phone, latitude, longitude); customer is {email, first_name, last_name, phone}.
    """

    external_id: str
    updated_at: dt.datetime
    currency: str
    lines: list[dict[str, Any]]
    placed_at: dt.datetime | None = None
    external_number: str = ""
    customer: dict[str, Any] = field(default_factory=dict)
    shipping_address: dict[str, Any] = field(default_factory=dict)
    billing_address: dict[str, Any] = field(default_factory=dict)
    shipping_price: Decimal | str = "0"
    total: Decimal | str | None = None
    payment_status: str = "pending"
    prices_include_tax: bool = False
    notes: str = ""
    cancelled: bool = False
    cancel_reason: str = ""
    fulfilled_by: str = FULFILLED_BY_US
    #: For a store sale: the channel-side location id (mapped to ours by the sync engine).
    store_location: str = ""
    #: Units the channel's refunds put back in stock (a return after shipment), one dict per
    #: refunded line: refund (the channel's refund id), external_line_id, quantity, location
    #: (the channel-side location id, "" when the refund names none), and `by_setting` True
    #: when the vendor does not say whether the units went back to stock (WooCommerce, eBay):
    #: those come back only when the channel's `refund_restock` setting says "restock".
    restocks: list[dict[str, Any]] = field(default_factory=list)
    #: The fulfilments the channel lists for the order (shipments made in its own admin, or
    #: ours reported back), one dict each: id (the channel's fulfilment id), lines (external
    #: line id -> units), location (channel-side location id, "" when none). Cancelled or
    #: failed ones are left out. The sync engine tells ours (their ids, kept by the pushes)
    #: from the merchant's: what it shipped outside the OMS is never shipped again.
    fulfilments: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def capture_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of order_capture (without channel and actor)."""
        return {
            "external_id": self.external_id,
            "currency": self.currency,
            "lines": self.lines,
            "customer": self.customer or None,
            "shipping_address": self.shipping_address or None,
            "billing_address": self.billing_address or None,
            "placed_at": self.placed_at,
            "shipping_price": self.shipping_price,
            "payment_status": self.payment_status,
            "notes": self.notes,
            "total": self.total,
            "prices_include_tax": self.prices_include_tax,
            "external_number": self.external_number,
            "raw_payload": self.raw,
        }


@dataclass
class RecordFailure:
    """A record of the channel that could not be mapped: kept with its reason and payload."""

    external_id: str
    reason: str
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class OrderPage:
    """One page of orders changed since the cursor, oldest change first where the API allows.

    `next_page` is the opaque token for the next page, None when this was the last page.
    """

    orders: list[CanonicalOrder]
    failures: list[RecordFailure] = field(default_factory=list)
    next_page: str | None = None


@dataclass
class WebhookDelivery:
    """A verified webhook: its unique delivery id, topic and parsed JSON body."""

    delivery_id: str
    topic: str
    payload: dict[str, Any]


@dataclass
class PrivacyNotice:
    """A vendor's data-protection request carried by a webhook (Shopify's mandatory compliance
    topics): `kind` is "data_request" (the merchant must give the shopper their data),
    "customer_redact" (erase the customer's data of this shop) or "shop_redact" (erase every
    shopper's data of this shop). An adapter that receives such requests implements
    `webhook_privacy(delivery) -> PrivacyNotice | None`."""

    kind: str
    shop: str = ""
    customer_id: str = ""
    email: str = ""
    phone: str = ""
    order_ids: list[str] = field(default_factory=list)
    request_id: str = ""


def webhook_privacy(adapter: Any, delivery: WebhookDelivery) -> PrivacyNotice | None:
    """The privacy request a delivery carries, if its adapter reads any (None otherwise)."""
    reader = getattr(adapter, "webhook_privacy", None)
    return None if reader is None else reader(delivery)


@dataclass
class StockItem:
    """What the channel may sell of one SKU (never negative), and its channel-side id if known."""

    sku: str
    quantity: int
    external_id: str = ""


@dataclass
class StockResult:
    sku: str
    ok: bool
    error: str = ""


@dataclass
class FulfilmentLine:
    external_line_id: str
    sku: str
    quantity: int


@dataclass
class FulfilmentPush:
    """A shipped parcel of a channel order, to be reported to the channel with its tracking."""

    order_external_id: str
    reference: str  # ours, unique per shipment: the idempotency key of the push
    lines: list[FulfilmentLine]
    carrier: str
    service: str
    tracking_number: str
    tracking_url: str
    shipped_at: dt.datetime


@dataclass
class CancelPush:
    order_external_id: str
    reference: str
    reason: str
    #: (external_line_id, sku, quantity); empty means the whole order.
    lines: list[FulfilmentLine] = field(default_factory=list)


@dataclass
class RefundPush:
    order_external_id: str
    reference: str  # our refund's idempotency key
    amount: Decimal
    currency: str
    reason: str
    #: True when the channel pays the refund back (its payment_provider is "channel"); False
    #: when another provider did and the channel only records it (no money moves twice).
    move_money: bool = False


@dataclass
class PushResult:
    """What the channel answered to a push: its own id for what was created, if any."""

    external_id: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


# --- the protocol -----------------------------------------------------------------------------


@dataclass
class AdapterContext:
    """What an adapter gets from the channel: decrypted credentials and where to find the vendor.

    `save_credentials` persists refreshed tokens (encrypted) so other workers reuse them;
    `transport` lets tests and the demo answer with a local fake instead of the network.
    """

    channel_code: str
    currency: str
    #: Never in a repr (a log line or an error report of the context shows no secret).
    credentials: dict[str, Any] = field(repr=False)
    save_credentials: Callable[[dict[str, Any]], None] = lambda _creds: None
    transport: httpx.BaseTransport | None = None
    #: channel-side location id -> our location code (POS stores, Shopify locations).
    location_map: dict[str, str] = field(default_factory=dict)


class ChannelAdapter(Protocol):
    vendor: str

    def orders_page(self, *, since: dt.datetime, page: str | None) -> OrderPage:
        """Orders changed at or after `since`; `page` is the token of a previous OrderPage."""
        ...

    def webhook_verify(
        self, *, headers: Mapping[str, str], body: bytes, url: str
    ) -> WebhookDelivery:
        """Check the signature on the raw body, then parse. Raises SignatureInvalid."""
        ...

    def webhook_orders(self, delivery: WebhookDelivery) -> OrderPage:
        """The orders a verified delivery carries (an empty page for topics we ignore)."""
        ...

    def stock_push(self, items: Sequence[StockItem]) -> list[StockResult]:
        """Set the channel's sellable quantity of each SKU (absolute, never negative)."""
        ...

    def fulfilment_push(self, push: FulfilmentPush) -> PushResult: ...

    def cancel_push(self, push: CancelPush) -> PushResult: ...

    def refund_push(self, push: RefundPush) -> PushResult: ...


# --- shared rate limiting ---------------------------------------------------------------------


class RateLimiter:
    """A per-second budget per key, shared by all workers through the cache (Redis in production).

    A 429 blocks the key for Retry-After seconds for everyone. Waits shorter than `max_wait`
    are slept; longer ones raise RateLimited so the Celery task retries later.
    """

    def __init__(self, *, max_wait: float = 5.0, sleep: Callable[[float], None] = time.sleep):
        self.max_wait = max_wait
        self.sleep = sleep

    @staticmethod
    def _block_key(key: str) -> str:
        return f"ratelimit:block:{key}"

    def block(self, key: str, seconds: float) -> None:
        if seconds > 0:
            until = time.time() + seconds
            cache.set(self._block_key(key), until, timeout=int(seconds) + 1)

    def blocked_for(self, key: str) -> float:
        until = cache.get(self._block_key(key))
        return max(0.0, float(until) - time.time()) if until else 0.0

    def acquire(self, key: str, per_second: float) -> None:
        waited = 0.0
        while True:
            blocked = self.blocked_for(key)
            if blocked:
                if waited + blocked > self.max_wait:
                    raise RateLimited(f"{key}: rate limited", retry_after=blocked)
                self.sleep(blocked)
                waited += blocked
                continue
            if per_second <= 0:
                return
            if per_second < 1:
                # Slow quotas (Amazon's searchOrders: about one call in 3 minutes): one slot per
                # interval, held by whoever took it.
                interval = 1 / per_second
                slot = f"ratelimit:slot:{key}"
                if cache.add(slot, time.time() + interval, timeout=math.ceil(interval)):
                    return
                taken_until = cache.get(slot) or (time.time() + interval)
                wait = max(0.0, float(taken_until) - time.time())
                raise RateLimited(f"{key}: one call per {interval:.0f}s", retry_after=wait)
            window = int(time.time())
            counter = f"ratelimit:{key}:{window}"
            cache.add(counter, 0, timeout=2)
            try:
                used = cache.incr(counter)
            except ValueError:  # expired between add and incr
                continue
            if used <= per_second:
                return
            pause = window + 1 - time.time()
            if waited + pause > self.max_wait:
                raise RateLimited(f"{key}: over {per_second}/s", retry_after=pause)
            self.sleep(max(pause, 0.01))
            waited += pause


# --- the HTTP client --------------------------------------------------------------------------


class VendorHttp:
    """One httpx.Client per adapter, rate limited per (vendor, account, operation)."""

    def __init__(
        self,
        *,
        vendor: str,
        account: str,
        base_url: str,
        transport: httpx.BaseTransport | None = None,
        headers: Callable[[], Mapping[str, str]] | None = None,
        on_unauthorised: Callable[[], None] | None = None,
        limits: Mapping[str, float] | None = None,
        limiter: RateLimiter | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.vendor = vendor
        self.account = account
        self.client = httpx.Client(base_url=base_url, transport=transport, timeout=timeout)
        self.headers = headers or (lambda: {})
        self.on_unauthorised = on_unauthorised
        self.limits = dict(limits or {})
        self.limiter = limiter or RateLimiter()

    def close(self) -> None:
        self.client.close()

    def request(
        self, op: str, method: str, url: str, *, expect_json: bool = True, **kwargs: Any
    ) -> Any:
        """Send one call; returns the parsed JSON (or the response when expect_json is False)."""
        key = f"{self.vendor}:{self.account}:{op}"
        self.limiter.acquire(key, self.limits.get(op, self.limits.get("*", 0)))
        response = self._send(method, url, **kwargs)
        if response.status_code == 401 and self.on_unauthorised is not None:
            self.on_unauthorised()
            response = self._send(method, url, **kwargs)
        if response.status_code == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After")) or 1.0
            self.limiter.block(key, wait)
            raise RateLimited(f"{self.vendor} {op}: 429, retry after {wait:g}s", retry_after=wait)
        if response.status_code == 408 or response.status_code >= 500:
            raise TransientError(f"{self.vendor} {op}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise PermanentError(
                f"{self.vendor} {op}: HTTP {response.status_code}: {response.text[:500]}"
            )
        if not expect_json:
            return response
        if response.status_code == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError as exc:
            raise PermanentError(
                f"{self.vendor} {op}: the answer is not JSON: {response.text[:200]!r}"
            ) from exc

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        try:
            return self.client.request(method, url, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{self.vendor}: timed out ({exc})") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"{self.vendor}: connection failed ({exc})") from exc


def json_object(value: Any, what: str) -> dict[str, Any]:
    """`value` if it is a JSON object, else PermanentError (a channel answering garbage)."""
    if not isinstance(value, dict):
        raise PermanentError(f"{what}: expected a JSON object, got {type(value).__name__}.")
    return value


def credential_flag(value: Any) -> bool | None:
    """A yes/no setting from the credentials, which the admin and the API store as text:
    true/false, 1/0, yes/no, on/off (any case). None when absent or unreadable."""
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off"}:
        return False
    return None


def credential_list(value: Any) -> list[str]:
    """A list setting from the credentials: a JSON list, or text separated by commas."""
    items = value if isinstance(value, list | tuple) else str(value or "").split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def decimal_or_none(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    return Decimal(str(value))


def lines_less_refunded(
    lines: list[dict[str, Any]], refunded: Mapping[str, int], currency: str, *, tax_on_top: bool
) -> Decimal:
    """Take the units the channel refunded (external line id -> units) off the mapped `lines`,
    in place: each line keeps its remaining units with their share of its discount and tax
    (oms.money.allocate: no cent lost), a line refunded in full is left out (as Shopify's
    current quantities do). Returns the value of what was taken off (tax included when it is
    on top of the prices), for the total to compare: the order's current total."""
    from oms.money import allocate, is_currency

    removed = Decimal(0)
    kept = []
    for line in lines:
        quantity = int(line["quantity"])
        gone = min(quantity, max(0, int(refunded.get(str(line.get("external_line_id")), 0))))
        if not gone:
            kept.append(line)
            continue
        unit = Decimal(str(line["unit_price"]))
        discount, tax = Decimal(str(line["discount"])), Decimal(str(line["tax"]))
        left = quantity - gone
        if left and is_currency(currency):
            discount_left = allocate(discount, [left, gone], currency)[0]
            tax_left = allocate(tax, [left, gone], currency)[0]
        else:
            discount_left = tax_left = Decimal(0)
        removed += unit * gone - (discount - discount_left)
        if tax_on_top:
            removed += tax - tax_left
        if left:
            line.update(quantity=left, discount=discount_left, tax=tax_left)
            kept.append(line)
    lines[:] = kept
    return removed


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
