"""Reading Shopify's orders into CanonicalOrder: GraphQL order nodes (pulls) and REST-shaped
webhook bodies; ids (numeric legacy id <-> gid), presentment amounts, addresses and lines.
A record that cannot be read raises Unmappable, which the adapter turns into a RecordFailure."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from channels.adapters.base import (
    FULFILLED_BY_CHANNEL,
    FULFILLED_BY_US,
    FULFILLED_ELSEWHERE,
    CanonicalOrder,
)
from oms.money import allocate, is_currency
from oms.vendor_http import parse_datetime

PAYMENT_STATUSES = {
    "PAID": "paid",
    "AUTHORIZED": "authorized",
    "PARTIALLY_REFUNDED": "partially_refunded",
    "REFUNDED": "refunded",
    "VOIDED": "voided",
}

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


def money_value(
    bag: Any, what: str, currency: str, *, graphql: bool, required: bool = False
) -> Decimal:
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


def object_value(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def text_value(value: Any) -> str:
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
    name = text_value(raw.get("name"))
    if not name and not graphql:
        name = " ".join(
            p for p in (text_value(raw.get("first_name")), text_value(raw.get("last_name"))) if p
        )
    address = {
        "name": name,
        "line1": text_value(raw.get("address1")),
        "line2": text_value(raw.get("address2")),
        "city": text_value(raw.get("city")),
        "region": text_value(raw.get("provinceCode" if graphql else "province_code")),
        "postal_code": text_value(raw.get("zip")),
        "country": text_value(raw.get("countryCodeV2" if graphql else "country_code")).upper(),
        "phone": text_value(raw.get("phone")),
        "latitude": _coordinate(raw.get("latitude")),
        "longitude": _coordinate(raw.get("longitude")),
    }
    return {k: v for k, v in address.items() if v not in ("", None)}


def _payment_status(value: Any) -> str:
    return PAYMENT_STATUSES.get(text_value(value).upper(), "pending")


def _moment(value: Any) -> dt.datetime | None:
    return parse_datetime(value)


def _required_moment(value: Any, what: str) -> dt.datetime:
    moment = parse_datetime(value)
    if moment is None:
        raise Unmappable(f"{what}: {value!r} is not a timestamp.")
    return moment


def _current_share(amount: Decimal, quantity: int, original: int, currency: str) -> Decimal:
    """The part of a line's `amount` (for its `original` units) that its `quantity` units keep
    after a refund or an edit, without losing a cent (oms.money.allocate)."""
    if quantity >= original or original <= 0 or not amount:
        return amount
    if not is_currency(currency):
        return amount
    return allocate(amount, [quantity, original - quantity], currency)[0]


def _line_discount(raw: dict[str, Any], what: str, currency: str, *, graphql: bool) -> Decimal:
    """The line's discount: the sum of its discount allocations (discount codes, automatic and
    order-level discounts, spread over the lines by Shopify), else its total discount.
    (Shopify documents that totalDiscountSet leaves order-level discounts out.)"""
    allocations = raw.get("discountAllocations" if graphql else "discount_allocations")
    if isinstance(allocations, list):
        total = Decimal(0)
        for allocation in allocations:
            if isinstance(allocation, dict):
                total += money_value(
                    allocation.get("allocatedAmountSet" if graphql else "amount_set"),
                    f"{what} discount",
                    currency,
                    graphql=graphql,
                )
        return total
    return money_value(
        raw.get("totalDiscountSet" if graphql else "total_discount_set"),
        f"{what} discount",
        currency,
        graphql=graphql,
    )


def _line(
    raw: Any, index: int, currency: str, *, graphql: bool, cancelled: bool
) -> dict[str, Any] | None:
    """One order line in our names (`ships`: whether it needs shipping); None for a line left
    out (nothing left of it after refunds and edits)."""
    if not isinstance(raw, dict):
        raise Unmappable(f"line {index}: not an object.")
    line_id = legacy_id(raw.get("id"))
    if not line_id:
        raise Unmappable(f"line {index}: no id.")
    sku = text_value(raw.get("sku"))
    ships = raw.get("requiresShipping" if graphql else "requires_shipping") is not False
    gift_card = raw.get("isGiftCard" if graphql else "gift_card") is True
    name = text_value(raw.get("name") or raw.get("title"))[:255]
    if not sku and not name:
        raise Unmappable(f"line {line_id}: neither a SKU nor a title.")
    original = raw.get("quantity")
    current = raw.get("currentQuantity" if graphql else "current_quantity")
    quantity = original if cancelled or current is None else current
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
        raise Unmappable(f"line {line_id}: quantity {quantity!r} is not a whole number.")
    if quantity == 0:
        return None  # removed by an order edit or a refund
    what = f"line {line_id}"
    unit = money_value(
        raw.get("originalUnitPriceSet" if graphql else "price_set"),
        f"{what} unit price",
        currency,
        graphql=graphql,
        required=True,
    )
    discount = _line_discount(raw, what, currency, graphql=graphql)
    tax = Decimal(0)
    for tax_line in raw.get("taxLines" if graphql else "tax_lines") or []:
        if isinstance(tax_line, dict):
            tax += money_value(
                tax_line.get("priceSet" if graphql else "price_set"),
                f"{what} tax",
                currency,
                graphql=graphql,
            )
    # The allocations and tax lines are for the units ordered: what is left keeps its share.
    if isinstance(original, int) and not isinstance(original, bool):
        discount = _current_share(discount, quantity, original, currency)
        tax = _current_share(tax, quantity, original, currency)
    return {
        "sku": sku,
        "quantity": quantity,
        "name": name,
        "external_line_id": line_id,
        "unit_price": unit,
        "discount": discount,
        "tax": tax,
        "ships": ships,
        "gift_card": gift_card,
    }


def _lines(
    raw_lines: Any, currency: str, *, graphql: bool, cancelled: bool, taxes_included: bool
) -> tuple[list[dict[str, Any]], Decimal, bool]:
    """(the lines we capture, the amount of the lines left out, whether any line ships).

    A gift card (with or without a SKU: Shopify issues it, it is no stock of ours) or a line
    without a SKU that needs no shipping (a tip) is left out of an order that has something to
    ship, and its amount out of the total we compare; an order with nothing to ship keeps all
    its lines (it is recorded fulfilled by the channel)."""
    if not isinstance(raw_lines, list):
        raise Unmappable("no line items.")
    lines = []
    for index, raw in enumerate(raw_lines):
        line = _line(raw, index, currency, graphql=graphql, cancelled=cancelled)
        if line is not None:
            lines.append(line)
    if not lines:
        raise Unmappable("no line left on the order.")
    ships = any(line["ships"] for line in lines)
    left_out = Decimal(0)
    if ships:
        kept = []
        for line in lines:
            if (line["ships"] or line["sku"]) and not line["gift_card"]:
                kept.append(line)
            else:
                left_out += (
                    line["unit_price"] * line["quantity"]
                    - line["discount"]
                    + (Decimal(0) if taxes_included else line["tax"])
                )
        lines = kept
    for line in lines:
        del line["ships"], line["gift_card"]
    return lines, left_out, ships


def _fulfilled_by(status: Any, ships: bool) -> str:
    """Nothing on it needs shipping (digital goods, gift cards): complete on the channel, no
    address needed, none of our stock. Shown fulfilled by Shopify (shipped before we saw it,
    or fulfilled in Shopify's admin): shipped outside the OMS."""
    if not ships:
        return FULFILLED_BY_CHANNEL
    if text_value(status).upper() == "FULFILLED":
        return FULFILLED_ELSEWHERE
    return FULFILLED_BY_US


def _fulfilled_from(fulfilments: list[dict[str, Any]]) -> str:
    """The Shopify location id the order's first fulfilment left from ("" when none): where an
    order shipped before we saw it takes its stock (channels.services.sync)."""
    for fulfilment in fulfilments:
        if fulfilment["location"]:
            return str(fulfilment["location"])
    return ""


#: Refund line restock types whose units come back to the merchant's stock (a return after
#: shipment; "legacy_restock": a refund made before Shopify told the kinds apart). "cancel"
#: (units never shipped) and "no_restock" bring nothing back.
RESTOCK_TYPES = {"RETURN", "LEGACY_RESTOCK"}


def _restocks(refunds: Any, *, graphql: bool) -> list[dict[str, Any]]:
    """The units the order's refunds put back in stock, by refund and line (see
    CanonicalOrder.restocks): REST `refunds[].refund_line_items`, GraphQL
    `refunds.refundLineItems.nodes`."""
    found: list[dict[str, Any]] = []
    for refund in refunds if isinstance(refunds, list) else []:
        if not isinstance(refund, dict) or not legacy_id(refund.get("id")):
            continue
        items = refund.get("refundLineItems" if graphql else "refund_line_items")
        if graphql:
            items = object_value(items).get("nodes")
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            kind = text_value(item.get("restockType" if graphql else "restock_type")).upper()
            quantity = item.get("quantity")
            line = (
                legacy_id(object_value(item.get("lineItem")).get("id"))
                if graphql
                else legacy_id(item.get("line_item_id"))
            )
            if kind not in RESTOCK_TYPES or not line:
                continue
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
                raise Unmappable(f"refund {refund.get('id')}: quantity {quantity!r} is not valid.")
            location = (
                legacy_id(object_value(item.get("location")).get("id"))
                if graphql
                else legacy_id(item.get("location_id"))
            )
            found.append(
                {
                    "refund": legacy_id(refund.get("id")),
                    "external_line_id": line,
                    "quantity": quantity,
                    "location": location,
                }
            )
    return found


#: Fulfilment statuses that shipped nothing (REST lower case, GraphQL upper case).
VOID_FULFILMENT_STATUSES = {"CANCELLED", "ERROR", "FAILURE"}


def _fulfilments(fulfillments: Any, *, graphql: bool) -> list[dict[str, Any]]:
    """The order's fulfilments that shipped something (see CanonicalOrder.fulfilments): REST
    `fulfillments[].line_items[]` (the line item's `id` and `quantity`), GraphQL
    `fulfillments.fulfillmentLineItems.nodes` (`lineItem.id`, `quantity`). Cancelled, failed
    or errored fulfilments are left out. Raises Unmappable (a unit count that is not one)."""
    found: list[dict[str, Any]] = []
    for fulfillment in fulfillments if isinstance(fulfillments, list) else []:
        if not isinstance(fulfillment, dict) or not legacy_id(fulfillment.get("id")):
            continue
        if text_value(fulfillment.get("status")).upper() in VOID_FULFILMENT_STATUSES:
            continue
        items = fulfillment.get("fulfillmentLineItems" if graphql else "line_items")
        if graphql:
            items = object_value(items).get("nodes")
        units: dict[str, int] = {}
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            line = legacy_id(
                object_value(item.get("lineItem")).get("id") if graphql else item.get("id")
            )
            quantity = item.get("quantity")
            if not line:
                continue
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
                raise Unmappable(
                    f"fulfilment {fulfillment.get('id')}: quantity {quantity!r} is not valid."
                )
            units[line] = units.get(line, 0) + quantity
        location = (
            object_value(fulfillment.get("location")).get("id")
            if graphql
            else fulfillment.get("location_id")
        )
        found.append(
            {
                "id": legacy_id(fulfillment.get("id")),
                "lines": units,
                "location": legacy_id(location),
            }
        )
    return found


def _compared_total(
    current: Any, original: Any, currency: str, *, graphql: bool, cancelled: bool, left_out: Decimal
) -> Decimal:
    """The channel total we compare with ours: after refunds and edits (current) for a live
    order, as placed for a cancelled one (we keep its original quantities), less the lines
    left out (gift cards, tips)."""
    bag = original if cancelled or not isinstance(current, dict) else current
    total = money_value(bag, "total", currency, graphql=graphql, required=True)
    if total < left_out:
        raise Unmappable(f"total {total} is less than the lines without shipping ({left_out}).")
    return total - left_out


def _currency(value: Any) -> str:
    currency = text_value(value).upper()
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
    shipping = object_value(node.get("shippingLine"))
    shipping_bag = shipping.get("discountedPriceSet") or shipping.get("originalPriceSet")
    customer = object_value(node.get("customer"))
    email_box = object_value(customer.get("defaultEmailAddress"))
    phone_box = object_value(customer.get("defaultPhoneNumber"))
    cancelled = cancelled_at is not None
    taxes_included = bool(node.get("taxesIncluded"))
    lines, left_out, ships = _lines(
        line_nodes, currency, graphql=True, cancelled=cancelled, taxes_included=taxes_included
    )
    fulfilments = _fulfilments(node.get("fulfillments"), graphql=True)
    return CanonicalOrder(
        external_id=external_id,
        external_number=text_value(node.get("name")),
        updated_at=_required_moment(node.get("updatedAt"), "updatedAt"),
        placed_at=_moment(node.get("processedAt")),
        currency=currency,
        lines=lines,
        customer={
            k: v
            for k, v in {
                "email": text_value(node.get("email") or email_box.get("emailAddress")),
                "first_name": text_value(customer.get("firstName")),
                "last_name": text_value(customer.get("lastName")),
                "phone": text_value(node.get("phone") or phone_box.get("phoneNumber")),
            }.items()
            if v
        },
        shipping_address=_address(node.get("shippingAddress"), graphql=True),
        billing_address=_address(node.get("billingAddress"), graphql=True),
        shipping_price=money_value(shipping_bag, "shipping", currency, graphql=True),
        total=_compared_total(
            node.get("currentTotalPriceSet"),
            node.get("totalPriceSet"),
            currency,
            graphql=True,
            cancelled=cancelled,
            left_out=left_out,
        ),
        payment_status=_payment_status(node.get("displayFinancialStatus")),
        prices_include_tax=taxes_included,
        notes=text_value(node.get("note")),
        cancelled=cancelled,
        cancel_reason=text_value(node.get("cancelReason")).lower() if cancelled_at else "",
        fulfilled_by=_fulfilled_by(node.get("displayFulfillmentStatus"), ships),
        store_location=_fulfilled_from(fulfilments),
        restocks=_restocks(node.get("refunds"), graphql=True),
        fulfilments=fulfilments,
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
            shipping += money_value(bag, f"shipping line {index}", currency, graphql=False)
    customer = object_value(body.get("customer"))
    cancelled = cancelled_at is not None
    taxes_included = bool(body.get("taxes_included"))
    lines, left_out, ships = _lines(
        body.get("line_items"),
        currency,
        graphql=False,
        cancelled=cancelled,
        taxes_included=taxes_included,
    )
    fulfilments = _fulfilments(body.get("fulfillments"), graphql=False)
    return CanonicalOrder(
        external_id=external_id,
        external_number=text_value(body.get("name")),
        updated_at=_required_moment(body.get("updated_at"), "updated_at"),
        placed_at=_moment(body.get("processed_at") or body.get("created_at")),
        currency=currency,
        lines=lines,
        customer={
            k: v
            for k, v in {
                "email": text_value(
                    body.get("email") or body.get("contact_email") or customer.get("email")
                ),
                "first_name": text_value(customer.get("first_name")),
                "last_name": text_value(customer.get("last_name")),
                "phone": text_value(body.get("phone") or customer.get("phone")),
            }.items()
            if v
        },
        shipping_address=_address(body.get("shipping_address"), graphql=False),
        billing_address=_address(body.get("billing_address"), graphql=False),
        shipping_price=shipping,
        total=_compared_total(
            body.get("current_total_price_set"),
            body.get("total_price_set"),
            currency,
            graphql=False,
            cancelled=cancelled,
            left_out=left_out,
        ),
        payment_status=_payment_status(body.get("financial_status")),
        prices_include_tax=taxes_included,
        notes=text_value(body.get("note")),
        cancelled=cancelled,
        cancel_reason=text_value(body.get("cancel_reason")).lower() if cancelled_at else "",
        fulfilled_by=_fulfilled_by(body.get("fulfillment_status"), ships),
        store_location=_fulfilled_from(fulfilments),
        restocks=_restocks(body.get("refunds"), graphql=False),
        fulfilments=fulfilments,
        raw=dict(body),
    )
