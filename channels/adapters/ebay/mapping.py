"""Reading eBay orders into CanonicalOrder: amounts on the currency's grid (line totals split
into unit price and discount so they add up exactly), addresses, lines; eBay's timestamps. A
record that cannot be read raises Unreadable, which the adapter turns into a RecordFailure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from moneyed import CURRENCIES

from channels.adapters.base import (
    FULFILLED_BY_CHANNEL,
    FULFILLED_BY_US,
    FULFILLED_ELSEWHERE,
    CanonicalOrder,
    lines_less_refunded,
)
from channels.adapters.ebay.api import PAYMENT_STATUSES
from oms.money import money_quantum, round_money_read, unit_and_discount
from oms.vendor_http import parse_datetime


class Unreadable(ValueError):
    """An eBay record the mapper cannot read; becomes a RecordFailure with this reason."""


# --- small helpers --------------------------------------------------------------------------


def ebay_timestamp(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as eBay writes and reads them."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def currency_quantum(currency: str) -> Decimal:
    """The currency's minor unit; a cent for a code that is no currency (refused later)."""
    return money_quantum(currency) if currency.upper() in CURRENCIES else Decimal("0.01")


def text_value(value: Any) -> str:
    return (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )


def dict_value(value: Any) -> dict[str, Any]:
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
    given = text_value(container.get("currency")).upper()
    if currency and given and given != currency:
        raise Unreadable(f"{what} is in {given}, the order in {currency}")
    return value


def _order_currency(order: Mapping[str, Any], default: str) -> str:
    pricing = dict_value(order.get("pricingSummary"))
    for name in ("total", "priceSubtotal"):
        currency = text_value(dict_value(pricing.get(name)).get("currency")).upper()
        if currency:
            return currency
    for item in order.get("lineItems") or []:
        currency = text_value(
            dict_value(dict_value(item).get("lineItemCost")).get("currency")
        ).upper()
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
    line_id = text_value(item.get("lineItemId"))
    sku = text_value(item.get("sku"))
    if not sku and not text_value(item.get("title")):
        # A listing without a custom label has no SKU: kept by its title (unknown SKU).
        raise Unreadable(f"{what} ({line_id or 'no lineItemId'}) has neither a SKU nor a title")
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
    unit_price, rounding = unit_and_discount(
        line_total, line_total, quantity, -int(quantum.as_tuple().exponent)
    )
    promotions = _list(item.get("appliedPromotions"), f"{what}.appliedPromotions")
    discount = Decimal(0)
    for number, promotion in enumerate(promotions):
        amount = _amount(
            dict_value(promotion).get("discountAmount"),
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
            _amount(dict_value(entry).get("amount"), f"{what}.taxes[{number}].amount", currency)
            or Decimal(0)
        )
    return {
        "sku": sku,
        "quantity": quantity,
        "name": text_value(item.get("title")),
        "external_line_id": line_id,
        # Plain decimals ("0.00", never "0E-2"): capture refuses exponents.
        "unit_price": f"{unit_price:f}",
        "discount": f"{round_money_read(discount + rounding, currency):f}",
        "tax": f"{round_money_read(tax, currency):f}",
    }


def _shipping_and_total(order: Mapping[str, Any], currency: str) -> tuple[Decimal, Decimal | None]:
    """(delivery less its discount, the order's total or None) from the pricing summary."""
    pricing = dict_value(order.get("pricingSummary"))
    delivery = _amount(pricing.get("deliveryCost"), "pricingSummary.deliveryCost", currency)
    delivery_discount = _amount(
        pricing.get("deliveryDiscount"), "pricingSummary.deliveryDiscount", currency
    )
    shipping = max(Decimal(0), (delivery or Decimal(0)) - abs(delivery_discount or Decimal(0)))
    total = _amount(pricing.get("total"), "pricingSummary.total", currency)
    return shipping, total


def _address_and_customer(order: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(shipping address, customer), empty fields left out: the first fulfilment instruction's
    ship-to, the buyer's registration address filling in the e-mail, name and phone."""
    instructions = _list(order.get("fulfillmentStartInstructions"), "fulfillmentStartInstructions")
    instruction = dict_value(instructions[0] if instructions else None)
    ship_to = dict_value(dict_value(instruction.get("shippingStep")).get("shipTo"))
    place = dict_value(ship_to.get("contactAddress"))
    phone = text_value(dict_value(ship_to.get("primaryPhone")).get("phoneNumber"))
    full_name = text_value(ship_to.get("fullName"))
    address = {
        "name": full_name,
        "line1": text_value(place.get("addressLine1")),
        "line2": text_value(place.get("addressLine2")),
        "city": text_value(place.get("city")),
        "region": text_value(place.get("stateOrProvince")),
        "postal_code": text_value(place.get("postalCode")),
        "country": text_value(place.get("countryCode")).upper(),
        "phone": phone,
    }
    buyer = dict_value(order.get("buyer"))
    registration = dict_value(buyer.get("buyerRegistrationAddress"))
    email = text_value(ship_to.get("email")) or text_value(registration.get("email"))
    first_name, last_name = _split_name(full_name or text_value(registration.get("fullName")))
    customer = {
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "phone": phone
        or text_value(dict_value(registration.get("primaryPhone")).get("phoneNumber")),
    }
    return {k: v for k, v in address.items() if v}, {k: v for k, v in customer.items() if v}


def _cancellation(order: Mapping[str, Any]) -> tuple[bool, str]:
    """(cancelled, the first cancel reason given) of an order."""
    cancel = dict_value(order.get("cancelStatus"))
    cancelled = text_value(cancel.get("cancelState")).upper() == "CANCELED"
    reasons = [
        text_value(dict_value(request).get("cancelReason"))
        for request in cancel.get("cancelRequests") or []
        if isinstance(request, dict)
    ]
    return cancelled, next((r for r in reasons if r), "") if cancelled else ""


def _refunded_units(items: list[Any], lines: list[dict[str, Any]], currency: str) -> dict[str, int]:
    """Units of each line eBay refunded (line id -> units): its `refunds` amounts add up to the
    value of how many whole units after the line's discount (eBay's LineItemRefund carries
    an amount, no quantity; a refund below one unit's value takes none off)."""
    refunded: dict[str, int] = {}
    for index, (item, line) in enumerate(zip(items, lines, strict=True)):
        amount = Decimal(0)
        for number, refund in enumerate(_list(item.get("refunds"), f"lineItems[{index}].refunds")):
            amount += abs(
                _amount(
                    dict_value(refund).get("amount"),
                    f"lineItems[{index}].refunds[{number}].amount",
                    currency,
                )
                or Decimal(0)
            )
        quantity = int(line["quantity"])
        net = Decimal(line["unit_price"]) * quantity - Decimal(line["discount"])
        unit = round_money_read(net / quantity, currency)  # one unit's value, on the grid
        if amount <= 0 or unit <= 0:
            continue
        units = min(quantity, int(amount // unit))
        if units:
            refunded[line["external_line_id"]] = units
    return refunded


def _refund_restocks(refunded: dict[str, int]) -> list[dict[str, Any]]:
    """The refunded units as restocks (see CanonicalOrder.restocks), one entry per unit
    (eBay's LineItemRefund has an amount, no quantity and no restock flag: the units follow
    from the amounts, the channel's `refund_restock` setting decides whether they come back):
    the n-th refunded unit of a line is the same entry in every later version of the order,
    so each unit comes back once whatever refunds follow."""
    return [
        {
            "refund": f"{line_id}#{number}",
            "external_line_id": line_id,
            "quantity": 1,
            "location": "",
            "by_setting": True,
        }
        for line_id, units in sorted(refunded.items())
        for number in range(1, units + 1)
    ]


def map_order(order: Any, *, default_currency: str) -> CanonicalOrder:
    """One eBay Order (Sell Fulfillment API) as a CanonicalOrder. Raises Unreadable."""
    if not isinstance(order, dict):
        raise Unreadable("the order is not an object")
    order_id = text_value(order.get("orderId"))
    if not order_id:
        raise Unreadable("the order has no orderId")
    updated_at = parse_datetime(order.get("lastModifiedDate"))
    if updated_at is None:
        raise Unreadable(f"lastModifiedDate {order.get('lastModifiedDate')!r} is not a date")
    currency = _order_currency(order, default_currency)
    if not currency:
        raise Unreadable("the order names no currency")
    quantum = currency_quantum(currency)
    items = _list(order.get("lineItems"), "lineItems")
    if not items:
        raise Unreadable("the order has no lineItems")
    lines = [_line(item, index, currency, quantum) for index, item in enumerate(items)]
    shipping, total = _shipping_and_total(order, currency)
    address, customer = _address_and_customer(order)
    cancelled, cancel_reason = _cancellation(order)
    refunded = {} if cancelled else _refunded_units(items, lines, currency)
    if refunded:
        # What eBay refunded leaves the lines, and the total we compare is the current one.
        # (Every line refunded leaves none: a known order's units are then all cancelled.)
        removed = lines_less_refunded(lines, refunded, currency, tax_on_top=True)
        total = None if total is None else total - removed
    program = dict_value(order.get("program"))
    return CanonicalOrder(
        external_id=order_id,
        updated_at=updated_at,
        currency=currency,
        lines=lines,
        placed_at=parse_datetime(order.get("creationDate")),
        external_number=text_value(order.get("salesRecordReference")) or order_id,
        customer=customer,
        shipping_address=address,
        shipping_price=f"{round_money_read(shipping, currency):f}",
        total=None if total is None else str(round_money_read(total, currency)),
        payment_status=PAYMENT_STATUSES.get(
            text_value(order.get("orderPaymentStatus")).upper(), "pending"
        ),
        prices_include_tax=False,
        notes=text_value(order.get("buyerCheckoutNotes")),
        cancelled=cancelled,
        cancel_reason=cancel_reason,
        # Orders eBay's own fulfilment programme ships consume none of our stock; an order
        # FULFILLED when first seen was shipped by the seller outside the OMS (never ours to
        # ship again; its stock per the channel's setting).
        fulfilled_by=(
            FULFILLED_BY_CHANNEL
            if program.get("fulfillmentProgram")
            else FULFILLED_ELSEWHERE
            if text_value(order.get("orderFulfillmentStatus")).upper() == "FULFILLED"
            else FULFILLED_BY_US
        ),
        restocks=_refund_restocks(refunded),
        raw=order,
    )
