"""Reading Square orders into CanonicalOrder: money in the currency's smallest unit, SKUs through
the catalog object ids of the lines, whole quantities, inclusive taxes, service charges (the
merchant's beside the goods; gratuities, like tips, kept out). A record that cannot be
read raises Unreadable, which becomes a RecordFailure."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from channels.adapters.base import FULFILLED_BY_STORE, CanonicalOrder
from channels.adapters.square.api import STATES
from oms.money import currency_exponent, unit_and_discount
from oms.vendor_http import parse_datetime


class Unreadable(ValueError):
    """A record the mapper cannot read: becomes a RecordFailure with this message."""


def text_value(value: Any) -> str:
    return "" if value is None else str(value).strip()


class _Money:
    """Reads Square Money objects of one order: integers in the smallest unit of `currency`."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        try:
            self.exponent = currency_exponent(currency)
        except KeyError:
            raise Unreadable(f"unknown currency {currency!r}") from None

    def minor(self, money: Any, what: str) -> int:
        if money is None:
            return 0
        if not isinstance(money, dict):
            raise Unreadable(f"{what} is not a Money object")
        amount = money.get("amount", 0)
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise Unreadable(f"{what}.amount {amount!r} is not an integer")
        currency = text_value(money.get("currency")).upper()
        if currency and currency != self.currency:
            raise Unreadable(f"{what} is in {currency}, the order in {self.currency}")
        return amount

    def major(self, minor: int) -> Decimal:
        return Decimal(minor).scaleb(-self.exponent)


def _quantity(value: Any, what: str) -> int:
    try:
        quantity = Decimal(text_value(value))
    except (InvalidOperation, ValueError):
        raise Unreadable(f"{what}: quantity {value!r} is not a number") from None
    if not quantity.is_finite() or quantity != quantity.to_integral_value() or quantity <= 0:
        raise Unreadable(f"{what}: quantity {value!r} is not a positive whole number")
    return int(quantity)


def _line(raw: Any, index: int, money: _Money, skus: Mapping[str, str]) -> dict[str, Any]:
    what = f"line_items[{index}]"
    if not isinstance(raw, dict):
        raise Unreadable(f"{what} is not an object")
    name = text_value(raw.get("name"))
    variation = text_value(raw.get("variation_name"))
    label = f"{name} ({variation})" if name and variation else name or variation
    catalog_id = text_value(raw.get("catalog_object_id"))
    if catalog_id:
        sku = skus.get(catalog_id, "")
        if not sku:
            raise Unreadable(f"{what} ({label!r}): no SKU found for catalog object {catalog_id}")
    else:
        # A custom amount rung up at the till: no catalog item, no SKU; kept by its name (a
        # store sale takes no stock for it).
        sku = ""
        label = label or "Custom amount"
    quantity = _quantity(raw.get("quantity"), what)
    base = money.minor(raw.get("base_price_money"), f"{what}.base_price_money")
    gross = base * quantity
    if raw.get("gross_sales_money") is not None:  # base price plus modifiers, times quantity
        gross = max(gross, money.minor(raw.get("gross_sales_money"), f"{what}.gross_sales_money"))
    discount = money.minor(raw.get("total_discount_money"), f"{what}.total_discount_money")
    tax = money.minor(raw.get("total_tax_money"), f"{what}.total_tax_money")
    if min(base, discount, tax) < 0:
        raise Unreadable(f"{what}: negative amount")
    if discount > gross:
        raise Unreadable(f"{what}: a discount above the line's price")
    unit, line_discount = unit_and_discount(
        money.major(gross), money.major(gross - discount), quantity, money.exponent
    )
    return {
        "sku": sku,
        "quantity": quantity,
        "name": label,
        "external_line_id": text_value(raw.get("uid")),
        "unit_price": unit,
        "discount": line_discount,
        "tax": money.major(tax),
    }


#: Service charges that are the staff's like a tip (a restaurant's automatic gratuity).
GRATUITY_TYPES = {"AUTO_GRATUITY"}


def _service_charges(raw: Mapping[str, Any], money: _Money) -> tuple[int, int]:
    """(the charges that are the merchant's, the gratuities), in minor units, of an order's
    `service_charges`: each counted by its `total_money` (its tax with it, as Square counts it in
    the order's total). A charge of the APPORTIONED kinds is spread by Square over the lines'
    `total_service_charge_money`, counted here all the same: it is priced on no line of ours.
    Without the list, `total_service_charge_money` (with no tax known) is the merchant's."""
    charges = raw.get("service_charges")
    if not isinstance(charges, list):
        total = money.minor(raw.get("total_service_charge_money"), "total_service_charge_money")
        if total < 0:
            raise Unreadable("total_service_charge_money: negative amount")
        return total, 0
    ours = gratuity = 0
    for index, charge in enumerate(charges):
        what = f"service_charges[{index}]"
        if not isinstance(charge, dict):
            raise Unreadable(f"{what} is not an object")
        amount = money.minor(charge.get("total_money"), f"{what}.total_money")
        if amount < 0:
            raise Unreadable(f"{what}: negative amount")
        if text_value(charge.get("type")).upper() in GRATUITY_TYPES:
            gratuity += amount
        else:
            ours += amount
    return ours, gratuity


def catalog_ids(order: Mapping[str, Any]) -> set[str]:
    """The catalog object ids the lines of a Square order refer to."""
    items = order.get("line_items")
    return {
        text_value(item.get("catalog_object_id"))
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict) and text_value(item.get("catalog_object_id"))
    }


def order_from_square(
    raw: Mapping[str, Any], *, skus: Mapping[str, str], default_currency: str = ""
) -> CanonicalOrder:
    """A Square Order (state COMPLETED or CANCELED) as a CanonicalOrder. Raises Unreadable."""
    external_id = text_value(raw.get("id"))
    if not external_id:
        raise Unreadable("the order has no id")
    state = text_value(raw.get("state"))
    if state not in STATES:
        raise Unreadable(f"order state {state!r} is not a sale")
    payment_status, cancelled = STATES[state]
    location = text_value(raw.get("location_id"))
    if not location:
        raise Unreadable("the order has no location_id")
    updated_at = parse_datetime(raw.get("updated_at")) or parse_datetime(raw.get("created_at"))
    if updated_at is None:
        raise Unreadable("the order has no updated_at")
    total_money = raw.get("total_money")
    currency = text_value(total_money.get("currency") if isinstance(total_money, dict) else "")
    money = _Money((currency or default_currency).upper())
    items = raw.get("line_items")
    if not isinstance(items, list) or not items:
        raise Unreadable("the order has no line_items")
    lines = [_line(item, i, money, skus) for i, item in enumerate(items)]
    taxes = raw.get("taxes")
    inclusive = any(
        isinstance(t, dict) and t.get("type") == "INCLUSIVE"
        for t in (taxes if isinstance(taxes, list) else [])
    )
    # A tip or an automatic gratuity is the staff's, on no line: it stays out of the total we
    # compare. Another service charge (delivery, a large party's fee) is the merchant's: a
    # charge of the order beside its goods (its shipping price), like shipping.
    tip = money.minor(raw.get("total_tip_money"), "total_tip_money")
    charges, gratuity = _service_charges(raw, money)
    total = (
        money.major(money.minor(total_money, "total_money") - tip - gratuity)
        if total_money is not None
        else None
    )
    return CanonicalOrder(
        external_id=external_id,
        external_number=text_value(raw.get("reference_id")) or text_value(raw.get("ticket_name")),
        updated_at=updated_at,
        placed_at=parse_datetime(raw.get("closed_at")) or parse_datetime(raw.get("created_at")),
        currency=money.currency,
        lines=lines,
        shipping_price=money.major(charges),
        total=total,
        payment_status=payment_status,
        prices_include_tax=inclusive,
        cancelled=cancelled,
        cancel_reason="canceled in Square" if cancelled else "",
        fulfilled_by=FULFILLED_BY_STORE,
        store_location=location,
        raw=dict(raw),
    )
