"""WooCommerce (REST API wc/v3) as a sales channel, over VendorHttp.

Invariants:
- the store is self-hosted: `credentials["base_url"]` (e.g. https://shop.example) is required,
  the API lives under `/wp-json/wc/v3`; the consumer key and secret go as HTTP basic auth and
  are never sent over plain HTTP except to a loopback host (tests, a local dev store);
- orders are pulled by `modified_after` with `dates_are_gmt=true`, oldest change first
  (`orderby=modified&order=asc`), 100 a page; the page token is the page number and the last
  page is the one `X-WP-TotalPages` names; dates are read from the `*_gmt` fields;
- status -> payment: pending/on-hold -> pending; processing/completed -> paid; refunded ->
  refunded; cancelled/failed -> cancelled with payment voided; checkout drafts are skipped and
  any other status is a RecordFailure (a plugin's custom status must be mapped first);
- Woo line amounts are always net of tax (`subtotal` before, `total` after coupons, taxes in
  `subtotal_tax`/`total_tax`); when the store shows prices with tax, the canonical unit price
  and discount include the tax, so that order_capture's total equals Woo's `total`. The unit
  price is `subtotal / quantity` rounded UP to the currency's unit, the discount takes up the
  rounding: the line's net amount is always exact. `shipping_price` is `shipping_total +
  shipping_tax` (the canonical record has no shipping tax); `fee_lines` are not mapped (an
  order with fees is captured on hold for a totals mismatch);
- a line without a SKU, a quantity that is not a positive integer or an unreadable amount makes
  the order a RecordFailure; the other orders of the page still map;
- stock: `POST products/batch` with `{"update": [{"id", "stock_quantity", "manage_stock"}]}`,
  100 a call; StockItem.external_id is the product id, or "<parent id>/<variation id>" for a
  variation (sent to `products/{parent}/variations/batch`); an item without one is looked up
  by `GET products?sku=` (simple products only: a variable product's stock lives on its
  variations, whose ids must then be given); per-item errors of the batch answer are failed
  StockResults, never raised;
- fulfilment: Woo core has no tracking: a customer note "Shipped with <carrier>: <tracking>
  <url>" is added (not twice: an existing customer note naming the same tracking number is
  reused) and the order is set `completed`. FulfilmentPush does not say whether it is the last
  parcel, so every push completes the order;
- cancel sets `cancelled` (whole orders only: Woo has no line cancellation); a refund is
  recorded with `api_refund: false` (the money is not moved by the gateway) and its reason
  ends with "(ref <our reference>)", by which a retried refund finds the first one;
- webhooks: `X-WC-Webhook-Signature` is the base64 HMAC-SHA256 of the raw body with the
  webhook secret, checked before anything is parsed; Woo's unsigned ping (`webhook_id=N`) is
  therefore refused like any unsigned delivery.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import httpx

from channels.adapters.base import (
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
from oms.currencies import currency_exponent
from oms.errors import PermanentError

VENDOR = "woocommerce"
API = "/wp-json/wc/v3"
PER_PAGE = 100
BATCH_SIZE = 100  # Woo's batch endpoints take at most 100 objects
SKU_LOOKUP_SIZE = 50
SIGNATURE_HEADER = "X-WC-Webhook-Signature"
TOPIC_HEADER = "X-WC-Webhook-Topic"
DELIVERY_HEADER = "X-WC-Webhook-Delivery-ID"
ORDER_TOPICS = frozenset({"order.created", "order.updated"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: Calls per second per operation: Woo publishes no limit (the store's host decides).
LIMITS = {"*": 5.0}

#: Woo order status -> (payment status, cancelled).
STATUSES: dict[str, tuple[str, bool]] = {
    "pending": ("pending", False),
    "on-hold": ("pending", False),
    "processing": ("paid", False),
    "completed": ("paid", False),
    "refunded": ("refunded", False),
    "cancelled": ("voided", True),
    "failed": ("voided", True),
}
#: Carts in progress (block checkout) and deleted orders: not orders yet, or not any more.
SKIPPED_STATUSES = frozenset({"checkout-draft", "auto-draft", "trash"})

_PING = re.compile(rb"^webhook_id=(\d+)$")


class _Unreadable(ValueError):
    """A record the mapper cannot read: becomes a RecordFailure with this message."""


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _amount(value: Any, what: str) -> Decimal:
    """A Woo amount: a decimal string ("12.50"), or a JSON number (read through str)."""
    if value in (None, ""):
        return Decimal(0)
    if isinstance(value, bool):
        raise _Unreadable(f"{what}: {value!r} is not an amount")
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise _Unreadable(f"{what}: {value!r} is not an amount") from None
    if not amount.is_finite():
        raise _Unreadable(f"{what}: {value!r} is not an amount")
    return amount


def unit_and_discount(
    gross: Decimal, net: Decimal, quantity: int, exponent: int
) -> tuple[Decimal, Decimal]:
    """(unit price, line discount) such that unit * quantity - discount == net exactly.

    The unit price is gross / quantity rounded up to the currency's unit, so the discount never
    goes negative; a net above the gross (a plugin's surcharge) counts as the gross.
    """
    quantum = Decimal(1).scaleb(-exponent)
    gross = max(gross, net)
    unit = (gross / quantity).quantize(quantum, rounding=ROUND_CEILING)
    return unit, unit * quantity - net


def _address(raw: Any) -> dict[str, Any]:
    """A Woo billing/shipping address in our names (empty parts left out)."""
    if not isinstance(raw, dict):
        return {}
    name = " ".join(p for p in (_text(raw.get("first_name")), _text(raw.get("last_name"))) if p)
    address = {
        "name": name or _text(raw.get("company")),
        "line1": _text(raw.get("address_1")),
        "line2": _text(raw.get("address_2")),
        "city": _text(raw.get("city")),
        "region": _text(raw.get("state")),
        "postal_code": _text(raw.get("postcode")),
        "country": _text(raw.get("country")).upper(),
        "phone": _text(raw.get("phone")),
    }
    return {k: v for k, v in address.items() if v}


def _line(raw: Any, index: int, *, with_tax: bool, exponent: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _Unreadable(f"line_items[{index}] is not an object")
    what = f"line_items[{index}]"
    sku = _text(raw.get("sku"))
    if not sku:
        raise _Unreadable(f"{what} ({_text(raw.get('name'))!r}) has no SKU")
    quantity = raw.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise _Unreadable(f"{what}: quantity {quantity!r} is not a positive whole number")
    total = _amount(raw.get("total"), f"{what}.total")
    if raw.get("subtotal") in (None, ""):
        # No subtotal: `price` is the unit price after coupons.
        subtotal = _amount(raw.get("price"), f"{what}.price") * quantity
    else:
        subtotal = _amount(raw.get("subtotal"), f"{what}.subtotal")
    tax = _amount(raw.get("total_tax"), f"{what}.total_tax")
    if with_tax:
        subtotal += _amount(raw.get("subtotal_tax"), f"{what}.subtotal_tax")
        total += tax
    if min(subtotal, total, tax) < 0:
        raise _Unreadable(f"{what}: negative amount")
    unit, discount = unit_and_discount(subtotal, total, quantity, exponent)
    return {
        "sku": sku,
        "quantity": quantity,
        "name": _text(raw.get("name")),
        "external_line_id": _text(raw.get("id")),
        "unit_price": unit,
        "discount": discount,
        "tax": tax,
    }


def _moment(raw: Mapping[str, Any], *names: str) -> dt.datetime | None:
    for name in names:
        moment = parse_datetime(raw.get(name))
        if moment is not None:
            return moment
    return None


def order_from_woo(raw: Mapping[str, Any], *, default_currency: str = "") -> CanonicalOrder:
    """One Woo order resource (REST or webhook body) as a CanonicalOrder. Raises _Unreadable."""
    external_id = _text(raw.get("id"))
    if not external_id or external_id == "0":
        raise _Unreadable("the order has no id")
    status = _text(raw.get("status"))
    if status not in STATUSES:
        raise _Unreadable(f"unknown order status {status!r}")
    payment_status, cancelled = STATUSES[status]
    # `_gmt` dates are naive UTC; the local ones are only a fallback for old stores.
    updated_at = _moment(raw, "date_modified_gmt", "date_created_gmt")
    if updated_at is None:
        raise _Unreadable("the order has no date_modified_gmt")
    currency = _text(raw.get("currency") or default_currency).upper()
    try:
        exponent = currency_exponent(currency)
    except KeyError:
        raise _Unreadable(f"unknown currency {currency!r}") from None
    with_tax = raw.get("prices_include_tax") is True
    items = raw.get("line_items")
    if not isinstance(items, list) or not items:
        raise _Unreadable("the order has no line_items")
    lines = [_line(item, i, with_tax=with_tax, exponent=exponent) for i, item in enumerate(items)]
    shipping = _amount(raw.get("shipping_total"), "shipping_total") + _amount(
        raw.get("shipping_tax"), "shipping_tax"
    )
    billing = raw.get("billing")
    if not isinstance(billing, dict):
        billing = {}
    customer = {
        "email": _text(billing.get("email")),
        "first_name": _text(billing.get("first_name")),
        "last_name": _text(billing.get("last_name")),
        "phone": _text(billing.get("phone")),
    }
    return CanonicalOrder(
        external_id=external_id,
        external_number=_text(raw.get("number")) or external_id,
        updated_at=updated_at,
        placed_at=_moment(raw, "date_created_gmt"),
        currency=currency,
        lines=lines,
        customer={k: v for k, v in customer.items() if v},
        shipping_address=_address(raw.get("shipping")),
        billing_address=_address(raw.get("billing")),
        shipping_price=shipping,
        total=_amount(raw.get("total"), "total") if raw.get("total") not in (None, "") else None,
        payment_status=payment_status,
        prices_include_tax=with_tax,
        notes=_text(raw.get("customer_note")),
        cancelled=cancelled,
        cancel_reason=f"WooCommerce status {status}" if cancelled else "",
        fulfilled_by=FULFILLED_BY_US,
        raw=dict(raw),
    )


def _map_orders(records: Sequence[Any], default_currency: str) -> OrderPage:
    page = OrderPage(orders=[])
    for record in records:
        if not isinstance(record, dict):
            page.failures.append(RecordFailure("", "the order is not a JSON object"))
            continue
        if _text(record.get("status")) in SKIPPED_STATUSES:
            continue
        try:
            page.orders.append(order_from_woo(record, default_currency=default_currency))
        except _Unreadable as exc:
            page.failures.append(RecordFailure(_text(record.get("id")), str(exc), record))
    return page


def _id(value: str, what: str) -> int:
    text = _text(value)
    if not text.isdigit() or int(text) <= 0:
        raise PermanentError(f"WooCommerce {what} {value!r} is not a numeric id.")
    return int(text)


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise PermanentError(
            f"WooCommerce {what}: the answer is not JSON: {response.text[:200]!r}"
        ) from None


class WooCommerceAdapter:
    """A WooCommerce store. See the module docstring."""

    vendor = VENDOR

    def __init__(self, context: AdapterContext, *, limiter: RateLimiter | None = None) -> None:
        self.context = context
        credentials = context.credentials
        base_url = _text(credentials.get("base_url")).rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PermanentError("WooCommerce: set the store's address (credentials base_url).")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            raise PermanentError(
                "WooCommerce: the store must be reached over HTTPS (the API keys go as basic auth)."
            )
        key = _text(credentials.get("consumer_key"))
        secret = _text(credentials.get("consumer_secret"))
        if not key or not secret:
            raise PermanentError("WooCommerce: consumer_key and consumer_secret are required.")
        token = base64.b64encode(f"{key}:{secret}".encode()).decode("ascii")
        self.webhook_secret = str(credentials.get("webhook_secret") or "")
        self.http = VendorHttp(
            vendor=VENDOR,
            account=context.channel_code,
            base_url=base_url,
            transport=context.transport,
            headers=lambda: {"Authorization": f"Basic {token}", "Accept": "application/json"},
            limits=LIMITS,
            limiter=limiter,
        )

    def close(self) -> None:
        self.http.close()

    # --- orders -------------------------------------------------------------------------------

    def orders_page(self, *, since: dt.datetime, page: str | None) -> OrderPage:
        number = 1 if page is None else _id(page, "page token")
        moment = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
        params: dict[str, str | int] = {
            "modified_after": moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "dates_are_gmt": "true",
            "orderby": "modified",
            "order": "asc",
            "per_page": PER_PAGE,
            "page": number,
        }
        response = self.http.request(
            "orders", "GET", f"{API}/orders", params=params, expect_json=False
        )
        records = _json(response, "orders")
        if not isinstance(records, list):
            raise PermanentError(
                f"WooCommerce orders: expected a JSON list, got {type(records).__name__}."
            )
        result = _map_orders(records, self.context.currency)
        total_pages = _text(response.headers.get("X-WP-TotalPages"))
        # Without the header (a proxy dropped it) a full page may have a next one.
        more = number < int(total_pages) if total_pages.isdigit() else len(records) >= PER_PAGE
        result.next_page = str(number + 1) if more else None
        return result

    # --- webhooks -----------------------------------------------------------------------------

    def webhook_verify(
        self, *, headers: Mapping[str, str], body: bytes, url: str
    ) -> WebhookDelivery:
        if not self.webhook_secret:
            raise SignatureInvalid("WooCommerce webhook: no webhook secret is configured.")
        given = header(headers, SIGNATURE_HEADER).strip()
        digest = hmac.new(self.webhook_secret.encode("utf-8"), body, hashlib.sha256).digest()
        expected = base64.b64encode(digest).decode("ascii")
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise SignatureInvalid("WooCommerce webhook: the signature does not match.")
        topic = header(headers, TOPIC_HEADER).strip()
        delivery_id = header(headers, DELIVERY_HEADER).strip()
        try:
            payload = jsonsafe.loads(body)
        except ValueError:
            ping = _PING.match(body.strip())
            if ping is None:
                raise PermanentError("WooCommerce webhook: the body is not JSON.") from None
            # A signed ping (webhook_id=N, form encoded): answered, never processed.
            webhook_id = ping.group(1).decode("ascii")
            payload = {"webhook_id": webhook_id}
            topic = topic or "ping"
            delivery_id = delivery_id or f"ping-{webhook_id}"
        if not isinstance(payload, dict):
            raise PermanentError("WooCommerce webhook: the body is not a JSON object.")
        if not delivery_id:
            raise PermanentError(f"WooCommerce webhook: no {DELIVERY_HEADER} header.")
        return WebhookDelivery(delivery_id=delivery_id, topic=topic, payload=payload)

    def webhook_orders(self, delivery: WebhookDelivery) -> OrderPage:
        if delivery.topic not in ORDER_TOPICS:
            return OrderPage(orders=[])
        return _map_orders([delivery.payload], self.context.currency)

    # --- stock --------------------------------------------------------------------------------

    def stock_push(self, items: Sequence[StockItem]) -> list[StockResult]:
        results: list[StockResult | None] = [None] * len(items)
        # (parent id or 0, product/variation id) of every item that has one
        targets: dict[int, tuple[int, int]] = {}
        lookup: dict[str, list[int]] = {}
        for index, item in enumerate(items):
            external = _text(item.external_id)
            if not external:
                lookup.setdefault(item.sku, []).append(index)
                continue
            head, _, child = external.rpartition("/")
            if child.isdigit() and (not head or head.isdigit()):
                targets[index] = (int(head or 0), int(child))
            else:
                results[index] = StockResult(
                    item.sku, False, f"WooCommerce id {external!r} is not <id> or <parent>/<id>."
                )
        for sku, found in self._products_by_sku(list(lookup)).items():
            for index in lookup[sku]:
                if isinstance(found, str):
                    results[index] = StockResult(sku, False, found)
                else:
                    targets[index] = found
        groups: dict[int, list[int]] = {}
        for index, (parent, _) in targets.items():
            groups.setdefault(parent, []).append(index)
        for parent, indexes in groups.items():
            path = (
                f"{API}/products/{parent}/variations/batch" if parent else f"{API}/products/batch"
            )
            for batch in chunks(indexes, BATCH_SIZE):
                body = {
                    "update": [
                        {
                            "id": targets[i][1],
                            "stock_quantity": max(0, int(items[i].quantity)),
                            "manage_stock": True,
                        }
                        for i in batch
                    ]
                }
                answer = json_object(
                    self.http.request("stock", "POST", path, json=body), "WooCommerce batch"
                )
                outcome = self._batch_outcome(answer)
                for i in batch:
                    error = outcome.get(targets[i][1], "missing from WooCommerce's answer")
                    results[i] = StockResult(items[i].sku, error is None, error or "")
        return [
            r if r is not None else StockResult(items[i].sku, False, "not sent")
            for i, r in enumerate(results)
        ]

    @staticmethod
    def _batch_outcome(answer: Mapping[str, Any]) -> dict[int, str | None]:
        """product id -> None when updated, else Woo's error message."""
        outcome: dict[int, str | None] = {}
        for entry in answer.get("update") or []:
            if not isinstance(entry, dict):
                continue
            try:
                product_id = int(entry.get("id") or 0)
            except (TypeError, ValueError):
                continue
            error = entry.get("error")
            if isinstance(error, dict):
                code, message = _text(error.get("code")), _text(error.get("message"))
                outcome[product_id] = f"{code}: {message}" if code else message or "refused"
            else:
                outcome[product_id] = None
        return outcome

    def _products_by_sku(self, skus: list[str]) -> dict[str, tuple[int, int] | str]:
        """SKU -> (parent id or 0, id) of a simple product or variation, or why not."""
        found: dict[str, tuple[int, int] | str] = {}
        plain = [s for s in skus if s and "," not in s]
        for sku in skus:
            if sku not in plain:
                found[sku] = "a SKU with a comma cannot be looked up: give its product id"
        for batch in chunks(plain, SKU_LOOKUP_SIZE):
            products = self.http.request(
                "products",
                "GET",
                f"{API}/products",
                params={"sku": ",".join(batch), "per_page": PER_PAGE},
            )
            if not isinstance(products, list):
                raise PermanentError("WooCommerce products: expected a JSON list.")
            for product in products:
                if not isinstance(product, dict) or _text(product.get("sku")) not in batch:
                    continue
                sku, parent = _text(product["sku"]), product.get("parent_id") or 0
                if product.get("type") == "variable":
                    found[sku] = (
                        "a variable product: its variations hold the stock"
                        " (give <parent id>/<variation id>)"
                    )
                elif isinstance(product.get("id"), int):
                    found[sku] = (int(parent), product["id"])
            for sku in batch:
                found.setdefault(sku, "no WooCommerce product has this SKU")
        return found

    # --- pushes -------------------------------------------------------------------------------

    def fulfilment_push(self, push: FulfilmentPush) -> PushResult:
        order_id = _id(push.order_external_id, "order id")
        text = " ".join(
            p
            for p in (f"Shipped with {push.carrier}:", push.tracking_number, push.tracking_url)
            if p
        )
        notes_path = f"{API}/orders/{order_id}/notes"
        notes = self.http.request("notes", "GET", notes_path, params={"type": "customer"})
        note: dict[str, Any] | None = None
        for existing in notes if isinstance(notes, list) else []:
            said = _text(existing.get("note")) if isinstance(existing, dict) else ""
            if said and ((push.tracking_number and push.tracking_number in said) or said == text):
                note = existing
                break
        if note is None:
            note = json_object(
                self.http.request(
                    "notes", "POST", notes_path, json={"note": text, "customer_note": True}
                ),
                "WooCommerce order note",
            )
        order = json_object(
            self.http.request(
                "orders_write", "PUT", f"{API}/orders/{order_id}", json={"status": "completed"}
            ),
            "WooCommerce order",
        )
        return PushResult(
            external_id=_text(note.get("id")),
            detail={"note_id": note.get("id"), "status": order.get("status")},
        )

    def cancel_push(self, push: CancelPush) -> PushResult:
        if push.lines:
            raise NotSupported("WooCommerce cancels whole orders only, not lines.")
        order_id = _id(push.order_external_id, "order id")
        order = json_object(
            self.http.request(
                "orders_write", "PUT", f"{API}/orders/{order_id}", json={"status": "cancelled"}
            ),
            "WooCommerce order",
        )
        return PushResult(external_id=str(order_id), detail={"status": order.get("status")})

    def refund_push(self, push: RefundPush) -> PushResult:
        order_id = _id(push.order_external_id, "order id")
        try:
            exponent = currency_exponent(push.currency.upper())
        except KeyError:
            raise PermanentError(
                f"WooCommerce refund: unknown currency {push.currency!r}."
            ) from None
        amount = Decimal(push.amount).quantize(Decimal(1).scaleb(-exponent))
        if amount <= 0:
            raise PermanentError(f"WooCommerce refund: the amount {amount} is not positive.")
        tag = f"(ref {push.reference})"
        path = f"{API}/orders/{order_id}/refunds"
        refunds = self.http.request("refunds", "GET", path)
        for refund in refunds if isinstance(refunds, list) else []:
            if isinstance(refund, dict) and _text(refund.get("reason")).endswith(tag):
                return PushResult(external_id=_text(refund.get("id")), detail=refund)
        reason = f"{push.reason.strip()} {tag}".strip()
        refund = json_object(
            self.http.request(
                "refunds",
                "POST",
                path,
                json={"amount": str(amount), "reason": reason, "api_refund": False},
            ),
            "WooCommerce refund",
        )
        return PushResult(external_id=_text(refund.get("id")), detail=refund)
