"""Reading WooCommerce orders into CanonicalOrder: statuses, net or gross line amounts split into
an exact unit price and discount, addresses, the customer. A record that cannot be read raises
Unreadable, which becomes a RecordFailure."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from channels.adapters.base import (
    FULFILLED_BY_CHANNEL,
    FULFILLED_BY_US,
    FULFILLED_ELSEWHERE,
    CanonicalOrder,
    OrderPage,
    RecordFailure,
    lines_less_refunded,
)
from channels.adapters.woocommerce.api import SKIPPED_STATUSES, STATUSES
from oms.money import allocate, currency_exponent, round_money, unit_and_discount
from oms.vendor_http import parse_datetime


class Unreadable(ValueError):
    """A record the mapper cannot read: becomes a RecordFailure with this message."""


def text_value(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _amount(value: Any, what: str) -> Decimal:
    """A Woo amount: a decimal string ("12.50"), or a JSON number (read through str)."""
    if value in (None, ""):
        return Decimal(0)
    if isinstance(value, bool):
        raise Unreadable(f"{what}: {value!r} is not an amount")
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Unreadable(f"{what}: {value!r} is not an amount") from None
    if not amount.is_finite():
        raise Unreadable(f"{what}: {value!r} is not an amount")
    return amount


def _address(raw: Any) -> dict[str, Any]:
    """A Woo billing/shipping address in our names (empty parts left out)."""
    if not isinstance(raw, dict):
        return {}
    name = " ".join(
        p for p in (text_value(raw.get("first_name")), text_value(raw.get("last_name"))) if p
    )
    address = {
        "name": name or text_value(raw.get("company")),
        "line1": text_value(raw.get("address_1")),
        "line2": text_value(raw.get("address_2")),
        "city": text_value(raw.get("city")),
        "region": text_value(raw.get("state")),
        "postal_code": text_value(raw.get("postcode")),
        "country": text_value(raw.get("country")).upper(),
        "phone": text_value(raw.get("phone")),
    }
    return {k: v for k, v in address.items() if v}


def _line(raw: Any, index: int, *, with_tax: bool, exponent: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise Unreadable(f"line_items[{index}] is not an object")
    what = f"line_items[{index}]"
    sku = text_value(raw.get("sku"))
    # SKUs are optional in WooCommerce (its documentation's own orders have "sku": ""): such a
    # line is kept by its name, as an unknown-SKU line.
    name = html.unescape(text_value(raw.get("name")))[:255]
    if not sku and not name:
        raise Unreadable(f"{what} has neither a SKU nor a name")
    quantity = raw.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise Unreadable(f"{what}: quantity {quantity!r} is not a positive whole number")
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
        raise Unreadable(f"{what}: negative amount")
    unit, discount = unit_and_discount(subtotal, total, quantity, exponent)
    return {
        "sku": sku,
        "quantity": quantity,
        "name": name,
        "external_line_id": text_value(raw.get("id")),
        "unit_price": unit,
        "discount": discount,
        "tax": tax,
    }


def _order_discounts_spread(
    fee_lines: Any, lines: list[dict[str, Any]], *, currency: str, with_tax: bool
) -> Decimal:
    """A negative fee line is an order-level discount (WooCommerce adds one so, and so do
    discount plugins): its amount is spread over the lines by their value as discount, its tax
    over their tax (oms.money.allocate: no cent lost), so the lines add up to the order's total.
    A positive fee (a gift-wrap or handling fee, a payment surcharge) is a charge on no line of
    merchandise: returned with its tax (WooCommerce counts both in the order's total), for the
    order's charges beside the goods (its shipping price)."""
    amount = tax = charges = Decimal(0)
    for index, fee in enumerate(fee_lines if isinstance(fee_lines, list) else []):
        if not isinstance(fee, dict):
            raise Unreadable(f"fee_lines[{index}] is not an object")
        total = _amount(fee.get("total"), f"fee_lines[{index}].total")
        fee_tax = _amount(fee.get("total_tax"), f"fee_lines[{index}].total_tax")
        if total < 0:
            amount -= total
            tax -= min(Decimal(0), fee_tax)
        elif total > 0:
            if fee_tax < 0:
                raise Unreadable(f"fee_lines[{index}]: a negative tax on a charge")
            charges += total + fee_tax
    amount, tax = round_money(amount, currency), round_money(tax, currency)
    if not amount or not lines:
        return charges
    taxes = [line["tax"] for line in lines]
    if tax > sum(taxes):
        raise Unreadable(f"fee_lines: a tax refund of {tax} above the lines' tax")
    values = [line["unit_price"] * line["quantity"] - line["discount"] for line in lines]
    off = allocate(amount + (tax if with_tax else Decimal(0)), values, currency)
    if any(part > value for part, value in zip(off, values, strict=True)):
        raise Unreadable(f"fee_lines: a discount of {amount} above the lines' value")
    tax_off = allocate(tax, taxes, currency) if tax else [Decimal(0)] * len(lines)
    for line, part, tax_part in zip(lines, off, tax_off, strict=True):
        line["discount"] += part
        line["tax"] -= tax_part
    return charges


def _moment(raw: Mapping[str, Any], *names: str) -> dt.datetime | None:
    for name in names:
        moment = parse_datetime(raw.get(name))
        if moment is not None:
            return moment
    return None


def _fulfilled_by(raw: Mapping[str, Any], status: str) -> str:
    """Nothing to ship (no shipping line and no shipping address: WooCommerce asks for neither
    when the cart holds only virtual or downloadable products): complete on the channel, no
    address needed. "completed" when first seen: shipped (or handed over) outside the OMS."""
    shipping_lines = raw.get("shipping_lines")
    if not shipping_lines and not _address(raw.get("shipping")).get("line1"):
        return FULFILLED_BY_CHANNEL
    return FULFILLED_ELSEWHERE if status == "completed" else FULFILLED_BY_US


def order_from_woo(raw: Mapping[str, Any], *, default_currency: str = "") -> CanonicalOrder:
    """One Woo order resource (REST or webhook body) as a CanonicalOrder. Raises Unreadable."""
    external_id = text_value(raw.get("id"))
    if not external_id or external_id == "0":
        raise Unreadable("the order has no id")
    status = text_value(raw.get("status"))
    if status not in STATUSES:
        raise Unreadable(f"unknown order status {status!r}")
    payment_status, cancelled = STATUSES[status]
    # `_gmt` dates are naive UTC; the local ones are only a fallback for old stores.
    updated_at = _moment(raw, "date_modified_gmt", "date_created_gmt")
    if updated_at is None:
        raise Unreadable("the order has no date_modified_gmt")
    currency = text_value(raw.get("currency") or default_currency).upper()
    try:
        exponent = currency_exponent(currency)
    except KeyError:
        raise Unreadable(f"unknown currency {currency!r}") from None
    with_tax = raw.get("prices_include_tax") is True
    items = raw.get("line_items")
    if not isinstance(items, list) or not items:
        raise Unreadable("the order has no line_items")
    lines = [_line(item, i, with_tax=with_tax, exponent=exponent) for i, item in enumerate(items)]
    charges = _order_discounts_spread(
        raw.get("fee_lines"), lines, currency=currency, with_tax=with_tax
    )
    shipping = (
        _amount(raw.get("shipping_total"), "shipping_total")
        + _amount(raw.get("shipping_tax"), "shipping_tax")
        + charges
    )
    billing = raw.get("billing")
    if not isinstance(billing, dict):
        billing = {}
    customer = {
        "email": text_value(billing.get("email")),
        "first_name": text_value(billing.get("first_name")),
        "last_name": text_value(billing.get("last_name")),
        "phone": text_value(billing.get("phone")),
    }
    return CanonicalOrder(
        external_id=external_id,
        external_number=text_value(raw.get("number")) or external_id,
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
        notes=text_value(raw.get("customer_note")),
        cancelled=cancelled,
        cancel_reason=f"WooCommerce status {status}" if cancelled else "",
        fulfilled_by=_fulfilled_by(raw, status),
        raw=dict(raw),
    )


def refunded_units(refunds: Any) -> dict[str, int]:
    """Units of each order line WooCommerce's refunds gave back (line id -> units), from the
    answer of GET /orders/<id>/refunds: each refund's line items carry a negative quantity and
    the refunded line's id in their `_refunded_item_id` meta. Raises Unreadable."""
    if not isinstance(refunds, list):
        raise Unreadable("the order's refunds are not a list")
    units: dict[str, int] = {}
    for index, refund in enumerate(refunds):
        items = refund.get("line_items") if isinstance(refund, dict) else None
        for number, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict):
                raise Unreadable(f"refunds[{index}].line_items[{number}] is not an object")
            meta = item.get("meta_data")
            line_id = next(
                (
                    text_value(entry.get("value"))
                    for entry in (meta if isinstance(meta, list) else [])
                    if isinstance(entry, dict) and entry.get("key") == "_refunded_item_id"
                ),
                "",
            )
            quantity = item.get("quantity")
            if not line_id or not isinstance(quantity, int) or isinstance(quantity, bool):
                continue  # an amount refunded on the line, no units back
            units[line_id] = units.get(line_id, 0) + abs(quantity)
    return units


def refund_restocks(refunds: Any) -> list[dict[str, Any]]:
    """The units of each refund, by line (see CanonicalOrder.restocks), marked `by_setting`:
    WooCommerce's refund resource does not say whether they went back to stock (`api_restock`
    is write-only: it is sent when the refund is made and never read back), so the channel's
    `refund_restock` setting decides. Read after refunded_units (which checked the shape)."""
    found: list[dict[str, Any]] = []
    for refund in refunds if isinstance(refunds, list) else []:
        refund_id = text_value(refund.get("id")) if isinstance(refund, dict) else ""
        items = refund.get("line_items") if refund_id else None
        for item in items if isinstance(items, list) else []:
            meta = item.get("meta_data")
            line_id = next(
                (
                    text_value(entry.get("value"))
                    for entry in (meta if isinstance(meta, list) else [])
                    if isinstance(entry, dict) and entry.get("key") == "_refunded_item_id"
                ),
                "",
            )
            quantity = item.get("quantity")
            units = quantity if isinstance(quantity, int) and not isinstance(quantity, bool) else 0
            if line_id and units:
                found.append(
                    {
                        "refund": refund_id,
                        "external_line_id": line_id,
                        "quantity": abs(units),
                        "location": "",
                        "by_setting": True,
                    }
                )
    return found


def order_less_refunds(record: CanonicalOrder, refunds: Any) -> CanonicalOrder:
    """The order as it stands after its refunds (WooCommerce keeps the lines as placed): the
    refunded units off its lines, the compared total less their value (an amount refunded
    without units, e.g. goodwill, leaves both as they are). A cancelled order keeps its lines
    as placed, as on every channel."""
    units = refunded_units(refunds)
    if record.cancelled or not units:
        return record
    record.restocks = refund_restocks(refunds)
    removed = lines_less_refunded(
        record.lines, units, record.currency, tax_on_top=not record.prices_include_tax
    )
    if record.total is not None:
        record.total = Decimal(str(record.total)) - removed
    return record


def map_orders(records: Sequence[Any], default_currency: str) -> OrderPage:
    """A page of Woo orders: checkout drafts and trashed orders left out, an unreadable one a
    RecordFailure."""
    page = OrderPage(orders=[])
    for record in records:
        if not isinstance(record, dict):
            page.failures.append(RecordFailure("", "the order is not a JSON object"))
            continue
        if text_value(record.get("status")) in SKIPPED_STATUSES:
            continue
        try:
            page.orders.append(order_from_woo(record, default_currency=default_currency))
        except Unreadable as exc:
            page.failures.append(RecordFailure(text_value(record.get("id")), str(exc), record))
    return page
