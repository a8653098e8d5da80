"""A point of sale, modelled on Square (REST API v2), over VendorHttp.

Invariants:
- every call sends `Authorization: Bearer <access_token>` and a pinned `Square-Version`
  (SQUARE_VERSION, or `credentials["square_version"]`); the base URL is
  https://connect.squareup.com unless `credentials["base_url"]` says otherwise (the sandbox);
- store sales are already paid and handed over: every order maps with
  fulfilled_by=FULFILLED_BY_STORE and `store_location` = Square's raw location id (the sync
  engine maps it to ours); COMPLETED -> paid, CANCELED -> cancelled (payment voided); other
  states (OPEN, DRAFT) are not sales yet and are left out, as are orders of locations outside
  `credentials["location_ids"]` when a webhook brings them;
- orders are pulled with SearchOrders over `location_ids` (at most 10, Square's limit),
  filtered on `updated_at >= since` and sorted by UPDATED_AT ascending (Square wants the sort
  field equal to the filtered one), 500 a page; the page token is Square's cursor;
- money is in the currency's smallest unit as integers (`{"amount", "currency"}`), converted
  with the currency's exponent (JPY 0, EUR 2, BHD 3); an amount that is not an integer, or in
  another currency than the order's, makes the order a RecordFailure;
- line items carry the catalog object id of the item variation, not the SKU: the SKUs of a
  page are resolved once with BatchRetrieveCatalogObjects (deleted objects included, answers
  cached for the adapter's life); a line without a resolvable SKU (a custom amount, a
  variation without SKU) or with a quantity that is not a positive whole number (weighed
  items: "1.25") makes its order a RecordFailure; the other orders still map;
- unit price = `base_price_money` (with modifiers: `gross_sales_money / quantity` rounded up,
  the discount taking up the rounding), discount = `total_discount_money` (order discounts
  come apportioned on the lines), tax = `total_tax_money`; an order with a tax of `type`
  INCLUSIVE has prices_include_tax; service charges, tips and orders mixing inclusive and
  additive taxes are not reconciled (Square's `total_money` is only compared: a mismatch
  puts the order on hold);
- webhooks: `x-square-hmacsha256-signature` is the base64 HMAC-SHA256, with the subscription's
  signature key, of the notification URL followed by the raw body; the event's `event_id` is
  the delivery id and `type` the topic; order events carry only ids, so their orders are
  fetched with BatchRetrieveOrders;
- stock: one PHYSICAL_COUNT (IN_STOCK, absolute) per item at `location_ids[0]`, 100 changes a
  BatchChangeInventory call with a fresh idempotency key (repeating an absolute count is
  harmless); an item without a catalog object id fails as "not mapped"; Square applies a batch
  wholly or not at all, so its errors raise;
- fulfilment, cancellation and refund pushes are NotSupported: the till did them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from channels.adapters.base import (
    FULFILLED_BY_STORE,
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
    credential_list,
    json_object,
)
from fulfilment.adapters.carriers._common import header, parse_datetime
from oms import jsonsafe
from oms.currencies import currency_exponent
from oms.errors import PermanentError

VENDOR = "square"
DEFAULT_BASE_URL = "https://connect.squareup.com"
SQUARE_VERSION = "2025-10-16"
PAGE_LIMIT = 500
MAX_LOCATIONS = 10  # SearchOrders takes at most 10 location ids
CATALOG_BATCH = 100
INVENTORY_BATCH = 100  # BatchChangeInventory takes at most 100 changes
SIGNATURE_HEADER = "x-square-hmacsha256-signature"
ORDER_TOPICS = frozenset({"order.created", "order.updated"})
#: Calls per second per operation (Square publishes no figure; it answers 429 past its own).
LIMITS = {"*": 10.0}

#: Square order state -> (payment status, cancelled); other states are not sales yet.
STATES: dict[str, tuple[str, bool]] = {
    "COMPLETED": ("paid", False),
    "CANCELED": ("voided", True),
}


class _Unreadable(ValueError):
    """A record the mapper cannot read: becomes a RecordFailure with this message."""


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def unit_and_discount(
    gross: Decimal, net: Decimal, quantity: int, exponent: int
) -> tuple[Decimal, Decimal]:
    """(unit price, line discount) with unit * quantity - discount == net exactly; the unit
    price is gross / quantity rounded up to the currency's unit, so the discount stays >= 0."""
    quantum = Decimal(1).scaleb(-exponent)
    gross = max(gross, net)
    unit = (gross / quantity).quantize(quantum, rounding=ROUND_CEILING)
    return unit, unit * quantity - net


class _Money:
    """Reads Square Money objects of one order: integers in the smallest unit of `currency`."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        try:
            self.exponent = currency_exponent(currency)
        except KeyError:
            raise _Unreadable(f"unknown currency {currency!r}") from None

    def minor(self, money: Any, what: str) -> int:
        if money is None:
            return 0
        if not isinstance(money, dict):
            raise _Unreadable(f"{what} is not a Money object")
        amount = money.get("amount", 0)
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise _Unreadable(f"{what}.amount {amount!r} is not an integer")
        currency = _text(money.get("currency")).upper()
        if currency and currency != self.currency:
            raise _Unreadable(f"{what} is in {currency}, the order in {self.currency}")
        return amount

    def major(self, minor: int) -> Decimal:
        return Decimal(minor).scaleb(-self.exponent)


def _quantity(value: Any, what: str) -> int:
    try:
        quantity = Decimal(_text(value))
    except (InvalidOperation, ValueError):
        raise _Unreadable(f"{what}: quantity {value!r} is not a number") from None
    if not quantity.is_finite() or quantity != quantity.to_integral_value() or quantity <= 0:
        raise _Unreadable(f"{what}: quantity {value!r} is not a positive whole number")
    return int(quantity)


def _line(raw: Any, index: int, money: _Money, skus: Mapping[str, str]) -> dict[str, Any]:
    what = f"line_items[{index}]"
    if not isinstance(raw, dict):
        raise _Unreadable(f"{what} is not an object")
    name = _text(raw.get("name"))
    variation = _text(raw.get("variation_name"))
    label = f"{name} ({variation})" if name and variation else name or variation
    catalog_id = _text(raw.get("catalog_object_id"))
    if not catalog_id:
        raise _Unreadable(f"{what} ({label!r}) is not a catalog item: it has no SKU")
    sku = skus.get(catalog_id, "")
    if not sku:
        raise _Unreadable(f"{what} ({label!r}): no SKU found for catalog object {catalog_id}")
    quantity = _quantity(raw.get("quantity"), what)
    base = money.minor(raw.get("base_price_money"), f"{what}.base_price_money")
    gross = base * quantity
    if raw.get("gross_sales_money") is not None:  # base price plus modifiers, times quantity
        gross = max(gross, money.minor(raw.get("gross_sales_money"), f"{what}.gross_sales_money"))
    discount = money.minor(raw.get("total_discount_money"), f"{what}.total_discount_money")
    tax = money.minor(raw.get("total_tax_money"), f"{what}.total_tax_money")
    if min(base, discount, tax) < 0:
        raise _Unreadable(f"{what}: negative amount")
    if discount > gross:
        raise _Unreadable(f"{what}: a discount above the line's price")
    unit, line_discount = unit_and_discount(
        money.major(gross), money.major(gross - discount), quantity, money.exponent
    )
    return {
        "sku": sku,
        "quantity": quantity,
        "name": label,
        "external_line_id": _text(raw.get("uid")),
        "unit_price": unit,
        "discount": line_discount,
        "tax": money.major(tax),
    }


def catalog_ids(order: Mapping[str, Any]) -> set[str]:
    """The catalog object ids the lines of a Square order refer to."""
    items = order.get("line_items")
    return {
        _text(item.get("catalog_object_id"))
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict) and _text(item.get("catalog_object_id"))
    }


def order_from_square(
    raw: Mapping[str, Any], *, skus: Mapping[str, str], default_currency: str = ""
) -> CanonicalOrder:
    """A Square Order (state COMPLETED or CANCELED) as a CanonicalOrder. Raises _Unreadable."""
    external_id = _text(raw.get("id"))
    if not external_id:
        raise _Unreadable("the order has no id")
    state = _text(raw.get("state"))
    if state not in STATES:
        raise _Unreadable(f"order state {state!r} is not a sale")
    payment_status, cancelled = STATES[state]
    location = _text(raw.get("location_id"))
    if not location:
        raise _Unreadable("the order has no location_id")
    updated_at = parse_datetime(raw.get("updated_at")) or parse_datetime(raw.get("created_at"))
    if updated_at is None:
        raise _Unreadable("the order has no updated_at")
    total_money = raw.get("total_money")
    currency = _text(total_money.get("currency") if isinstance(total_money, dict) else "")
    money = _Money((currency or default_currency).upper())
    items = raw.get("line_items")
    if not isinstance(items, list) or not items:
        raise _Unreadable("the order has no line_items")
    lines = [_line(item, i, money, skus) for i, item in enumerate(items)]
    taxes = raw.get("taxes")
    inclusive = any(
        isinstance(t, dict) and t.get("type") == "INCLUSIVE"
        for t in (taxes if isinstance(taxes, list) else [])
    )
    total = (
        money.major(money.minor(total_money, "total_money")) if total_money is not None else None
    )
    return CanonicalOrder(
        external_id=external_id,
        external_number=_text(raw.get("reference_id")) or _text(raw.get("ticket_name")),
        updated_at=updated_at,
        placed_at=parse_datetime(raw.get("closed_at")) or parse_datetime(raw.get("created_at")),
        currency=money.currency,
        lines=lines,
        shipping_price=Decimal(0),
        total=total,
        payment_status=payment_status,
        prices_include_tax=inclusive,
        cancelled=cancelled,
        cancel_reason="canceled in Square" if cancelled else "",
        fulfilled_by=FULFILLED_BY_STORE,
        store_location=location,
        raw=dict(raw),
    )


def _signature(key: str, url: str, body: bytes) -> str:
    digest = hmac.new(key.encode("utf-8"), url.encode("utf-8") + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SquareAdapter:
    """A Square seller's point of sale. See the module docstring."""

    vendor = VENDOR

    def __init__(self, context: AdapterContext, *, limiter: RateLimiter | None = None) -> None:
        self.context = context
        credentials = context.credentials
        token = _text(credentials.get("access_token"))
        if not token:
            raise PermanentError("Square: the access_token is required.")
        version = _text(credentials.get("square_version")) or SQUARE_VERSION
        # A JSON list, or "L1,L2" as the admin's text-only credentials hold it.
        self.location_ids = credential_list(credentials.get("location_ids"))
        self.signature_key = str(credentials.get("signature_key") or "")
        self.sku_cache: dict[str, str] = {}
        self.http = VendorHttp(
            vendor=VENDOR,
            account=context.channel_code,
            base_url=_text(credentials.get("base_url")).rstrip("/") or DEFAULT_BASE_URL,
            transport=context.transport,
            headers=lambda: {
                "Authorization": f"Bearer {token}",
                "Square-Version": version,
                "Accept": "application/json",
            },
            limits=LIMITS,
            limiter=limiter,
        )

    def close(self) -> None:
        self.http.close()

    # --- orders -------------------------------------------------------------------------------

    def orders_page(self, *, since: dt.datetime, page: str | None) -> OrderPage:
        if not self.location_ids:
            raise PermanentError("Square: list the store locations (credentials location_ids).")
        if len(self.location_ids) > MAX_LOCATIONS:
            raise PermanentError(
                f"Square searches at most {MAX_LOCATIONS} locations at once: split the channel."
            )
        moment = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
        start_at = moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")
        body: dict[str, Any] = {
            "location_ids": self.location_ids,
            "limit": PAGE_LIMIT,
            "return_entries": False,
            "query": {
                "filter": {
                    "date_time_filter": {
                        "updated_at": {"start_at": start_at.replace("+00:00", "Z")}
                    },
                    "state_filter": {"states": sorted(STATES)},
                },
                "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"},
            },
        }
        if page:
            body["cursor"] = page
        answer = json_object(
            self.http.request("orders", "POST", "/v2/orders/search", json=body),
            "Square SearchOrders",
        )
        result = self._map_orders(self._orders_of(answer, "SearchOrders"), only_ours=False)
        result.next_page = _text(answer.get("cursor")) or None
        return result

    @staticmethod
    def _orders_of(answer: Mapping[str, Any], what: str) -> list[Any]:
        orders = answer.get("orders", [])
        if not isinstance(orders, list):
            raise PermanentError(f"Square {what}: `orders` is not a list.")
        return orders

    def _map_orders(self, records: Sequence[Any], *, only_ours: bool) -> OrderPage:
        page = OrderPage(orders=[])
        sales: list[dict[str, Any]] = []
        for record in records:
            if not isinstance(record, dict):
                page.failures.append(RecordFailure("", "the order is not a JSON object"))
            elif _text(record.get("state")) not in STATES:
                continue  # OPEN or DRAFT: it comes back once completed or canceled
            elif (
                only_ours
                and self.location_ids
                and _text(record.get("location_id")) not in self.location_ids
            ):
                continue  # another store of the seller, served by another channel
            else:
                sales.append(record)
        wanted: set[str] = set()
        for record in sales:
            wanted |= catalog_ids(record)
        skus = self.skus_for(wanted)
        for record in sales:
            try:
                page.orders.append(
                    order_from_square(record, skus=skus, default_currency=self.context.currency)
                )
            except _Unreadable as exc:
                page.failures.append(RecordFailure(_text(record.get("id")), str(exc), record))
        return page

    def skus_for(self, object_ids: Iterable[str]) -> dict[str, str]:
        """catalog object id -> SKU of the item variation ("" when it has none)."""
        missing = sorted({i for i in object_ids if i and i not in self.sku_cache})
        for batch in chunks(missing, CATALOG_BATCH):
            answer = json_object(
                self.http.request(
                    "catalog",
                    "POST",
                    "/v2/catalog/batch-retrieve",
                    json={
                        "object_ids": list(batch),
                        "include_related_objects": False,
                        "include_deleted_objects": True,
                    },
                ),
                "Square BatchRetrieveCatalogObjects",
            )
            objects = answer.get("objects", [])
            if not isinstance(objects, list):
                raise PermanentError("Square BatchRetrieveCatalogObjects: `objects` is not a list.")
            for obj in objects:
                if not isinstance(obj, dict) or obj.get("type") != "ITEM_VARIATION":
                    continue
                data = obj.get("item_variation_data")
                sku = _text(data.get("sku")) if isinstance(data, dict) else ""
                self.sku_cache[_text(obj.get("id"))] = sku
            for object_id in batch:
                self.sku_cache.setdefault(object_id, "")
        return {i: self.sku_cache.get(i, "") for i in object_ids}

    # --- webhooks -----------------------------------------------------------------------------

    def webhook_verify(
        self, *, headers: Mapping[str, str], body: bytes, url: str
    ) -> WebhookDelivery:
        if not self.signature_key:
            raise SignatureInvalid("Square webhook: no signature key is configured.")
        given = header(headers, SIGNATURE_HEADER).strip()
        expected = _signature(self.signature_key, url, body)
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise SignatureInvalid("Square webhook: the signature does not match.")
        try:
            event = jsonsafe.loads(body)
        except ValueError:
            raise PermanentError("Square webhook: the body is not JSON.") from None
        if not isinstance(event, dict):
            raise PermanentError("Square webhook: the body is not a JSON object.")
        event_id, topic = _text(event.get("event_id")), _text(event.get("type"))
        if not event_id or not topic:
            raise PermanentError("Square webhook: the event has no event_id or type.")
        return WebhookDelivery(delivery_id=event_id, topic=topic, payload=event)

    def webhook_orders(self, delivery: WebhookDelivery) -> OrderPage:
        if delivery.topic not in ORDER_TOPICS:
            return OrderPage(orders=[])
        data = delivery.payload.get("data")
        data = data if isinstance(data, dict) else {}
        obj = data.get("object")
        obj = obj if isinstance(obj, dict) else {}
        change = obj.get(delivery.topic.replace(".", "_"))
        change = change if isinstance(change, dict) else {}
        state = _text(change.get("state"))
        if state and state not in STATES:
            return OrderPage(orders=[])  # still open: its COMPLETED or CANCELED event follows
        order_id = _text(change.get("order_id")) or _text(data.get("id"))
        if not order_id:
            raise PermanentError(
                f"Square {delivery.topic} event {delivery.delivery_id}: no order id."
            )
        body: dict[str, Any] = {"order_ids": [order_id]}
        if _text(change.get("location_id")):
            body["location_id"] = _text(change.get("location_id"))
        answer = json_object(
            self.http.request("orders", "POST", "/v2/orders/batch-retrieve", json=body),
            "Square BatchRetrieveOrders",
        )
        return self._map_orders(self._orders_of(answer, "BatchRetrieveOrders"), only_ours=True)

    # --- stock --------------------------------------------------------------------------------

    def stock_push(self, items: Sequence[StockItem]) -> list[StockResult]:
        if not self.location_ids:
            raise PermanentError("Square: list the store locations (credentials location_ids).")
        location = self.location_ids[0]
        results: list[StockResult | None] = [None] * len(items)
        mapped = []
        for index, item in enumerate(items):
            if _text(item.external_id):
                mapped.append(index)
            else:
                results[index] = StockResult(item.sku, False, "not mapped to a Square catalog id")
        for batch in chunks(mapped, INVENTORY_BATCH):
            occurred_at = _now_rfc3339()
            body = {
                "idempotency_key": str(uuid.uuid4()),
                "changes": [
                    {
                        "type": "PHYSICAL_COUNT",
                        "physical_count": {
                            "catalog_object_id": _text(items[i].external_id),
                            "location_id": location,
                            "quantity": str(max(0, int(items[i].quantity))),
                            "state": "IN_STOCK",
                            "occurred_at": occurred_at,
                        },
                    }
                    for i in batch
                ],
            }
            answer = json_object(
                self.http.request(
                    "inventory", "POST", "/v2/inventory/changes/batch-create", json=body
                ),
                "Square BatchChangeInventory",
            )
            errors = answer.get("errors")
            if errors:
                raise PermanentError(f"Square BatchChangeInventory refused: {errors!r:.500}")
            for i in batch:
                results[i] = StockResult(items[i].sku, True)
        return [r or StockResult(items[i].sku, False, "not sent") for i, r in enumerate(results)]

    # --- pushes: the till already did them -----------------------------------------------------

    def fulfilment_push(self, push: FulfilmentPush) -> PushResult:
        raise NotSupported("Square store sales are handed over at the till: nothing to ship.")

    def cancel_push(self, push: CancelPush) -> PushResult:
        raise NotSupported("Square store sales are settled at the till: nothing to cancel.")

    def refund_push(self, push: RefundPush) -> PushResult:
        raise NotSupported("Square store sales are refunded at the till, not from here.")
