"""Reading SP-API orders (v2026-01-01) into CanonicalOrder: money in the order's currency,
proceeds breakdowns, per-unit prices, addresses, the buyer, cancellations. A record that cannot be
read raises Unreadable, which becomes a RecordFailure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from channels.adapters.amazon.api import (
    CANCELLED_STATUS,
    PAID_STATUSES,
    PENDING_STATUSES,
    SHIPPED_STATUS,
    TAX_EXCLUSIVE_MARKETPLACES,
)
from channels.adapters.base import (
    FULFILLED_BY_CHANNEL,
    FULFILLED_BY_US,
    FULFILLED_ELSEWHERE,
    AdapterContext,
    CanonicalOrder,
    OrderPage,
    RecordFailure,
    credential_flag,
)
from oms.money import unit_and_discount
from oms.vendor_http import parse_datetime


class Unreadable(ValueError):
    """A record the mapper cannot read (becomes a RecordFailure with this message)."""


def text_value(value: Any) -> str:
    return str(value).strip() if value not in (None, "") else ""


def iso_utc(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(value: Any, what: str, currencies: set[str]) -> Decimal | None:
    """The amount of an SP-API Money object ({amount, currencyCode}); None when absent."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Unreadable(f"{what} is not a Money object")
    try:
        amount = Decimal(str(value.get("amount")))
    except (InvalidOperation, ValueError):
        raise Unreadable(f"{what}: amount {value.get('amount')!r} is not a decimal") from None
    if not amount.is_finite():
        raise Unreadable(f"{what}: amount {value.get('amount')!r} is not a decimal")
    currency = text_value(value.get("currencyCode")).upper()
    if len(currency) != 3:
        raise Unreadable(f"{what}: no currencyCode")
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


def _tax_parts(proceeds: Any, what: str, currencies: set[str]) -> tuple[Decimal, Decimal] | None:
    """(item tax, shipping tax) of a proceeds breakdown's TAX entries, split by their
    detailedBreakdowns (subtypes ITEM and SHIPPING; other subtypes count as item tax); a TAX
    entry without details is item tax. None when there is no TAX entry."""
    if not isinstance(proceeds, dict):
        return None
    found = False
    item = shipping = Decimal(0)
    for entry in proceeds.get("breakdowns") or []:
        if not isinstance(entry, dict) or entry.get("type") != "TAX":
            continue
        found = True
        details = entry.get("detailedBreakdowns")
        if isinstance(details, list) and details:
            for detail in details:
                if not isinstance(detail, dict):
                    continue
                amount = _money(detail.get("value"), f"{what} TAX", currencies) or Decimal(0)
                if detail.get("subtype") == "SHIPPING":
                    shipping += abs(amount)
                else:
                    item += abs(amount)
        else:
            item += abs(_money(entry.get("subtotal"), f"{what} TAX", currencies) or Decimal(0))
    return (item, shipping) if found else None


def _per_unit(line_total: Decimal, quantity: int) -> tuple[Decimal, Decimal]:
    """(unit price, rounding discount) of a line total divided by its quantity, to the
    precision of the total: unit * quantity - discount == line_total exactly."""
    exponent = line_total.as_tuple().exponent
    return unit_and_discount(
        line_total, line_total, quantity, -exponent if isinstance(exponent, int) else 2
    )


def _address(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        return {}
    extra = [text_value(data.get(k)) for k in ("addressLine2", "addressLine3")]
    address = {
        "name": text_value(data.get("name")),
        "line1": text_value(data.get("addressLine1")),
        "line2": ", ".join(part for part in extra if part),
        "city": text_value(data.get("city")) or text_value(data.get("municipality")),
        "region": text_value(data.get("stateOrRegion")),
        "postal_code": text_value(data.get("postalCode")),
        "country": text_value(data.get("countryCode")).upper(),
        "phone": text_value(data.get("phone")),
    }
    return {key: value for key, value in address.items() if value}


def _customer(buyer: Any, phone: str) -> dict[str, Any]:
    if not isinstance(buyer, dict):
        return {}
    first, _, last = text_value(buyer.get("buyerName")).rpartition(" ")
    if not first:  # a single word is a first name
        first, last = last, ""
    customer = {
        "email": text_value(buyer.get("buyerEmail")),
        "first_name": first,
        "last_name": last,
        "phone": phone,
    }
    return {key: value for key, value in customer.items() if value}


class AmazonMapping:
    """The order mapper of the adapter (reads the seller's credentials for the tax convention)."""

    context: AdapterContext
    credentials: dict[str, Any]

    def _map_all(self, records: Sequence[Any]) -> OrderPage:
        orders: list[CanonicalOrder] = []
        failures: list[RecordFailure] = []
        for record in records:
            if not isinstance(record, dict):
                failures.append(RecordFailure("", "the order is not a JSON object", {}))
                continue
            try:
                orders.append(self.map_order(record))
            except Unreadable as exc:
                failures.append(RecordFailure(text_value(record.get("orderId")), str(exc), record))
        orders.sort(key=lambda order: order.updated_at)
        return OrderPage(orders=orders, failures=failures)

    def _prices_include_tax(
        self,
        order: Mapping[str, Any],
        lines: Sequence[Mapping[str, Any]],
        shipping: Decimal,
        shipping_tax: Decimal,
        total: Decimal | None,
    ) -> bool:
        """Whether the order's prices include its tax: the seller's setting if given, else what
        the order's own amounts say (its total is the items and shipping with or without the
        tax on top), else the marketplace's convention (US and Canada add tax at checkout)."""
        configured = credential_flag(self.credentials.get("prices_include_tax"))
        if configured is not None:
            return configured
        tax = sum((Decimal(line["tax"]) for line in lines), Decimal(0)) + shipping_tax
        if total is not None and tax:
            net = sum(
                (
                    Decimal(line["unit_price"]) * line["quantity"] - Decimal(line["discount"])
                    for line in lines
                ),
                Decimal(0),
            )
            if net + shipping + tax == total:
                return False
            if net + shipping == total:
                return True
        channel = order.get("salesChannel")
        marketplace = text_value(channel.get("marketplaceId")) if isinstance(channel, dict) else ""
        marketplace = marketplace or text_value(self.credentials.get("marketplace_id"))
        return marketplace not in TAX_EXCLUSIVE_MARKETPLACES

    @staticmethod
    def _payment_status(fulfillment: Mapping[str, Any]) -> str:
        """The canonical payment status of an order's fulfillmentStatus."""
        status = text_value(fulfillment.get("fulfillmentStatus")).upper()
        if status in PAID_STATUSES:
            return "paid"
        if status in PENDING_STATUSES:
            return "pending"
        if status == CANCELLED_STATUS:
            return "voided"
        raise Unreadable(f"unknown fulfillmentStatus {status!r}")

    def _map_items(
        self, items: Any, currencies: set[str], *, cancelled: bool
    ) -> tuple[list[dict[str, Any]], Decimal, Decimal, list[str], list[str]]:
        """(lines, the items' shipping, their shipping tax, cancel reasons, gift messages) of
        the orderItems."""
        lines: list[dict[str, Any]] = []
        reasons: list[str] = []
        gifts: list[str] = []
        item_shipping = shipping_tax = Decimal(0)
        if not isinstance(items, list) or not items:
            raise Unreadable("no orderItems")
        for index, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise Unreadable(f"orderItems[{index}] is not an object")
            line = self._map_item(item, index, currencies)
            shipping = _breakdown(item.get("proceeds"), "SHIPPING", f"item {index}", currencies)
            item_shipping += shipping or Decimal(0)
            taxes = _tax_parts(item.get("proceeds"), f"item {index}", currencies)
            shipping_tax += taxes[1] if taxes else Decimal(0)
            reasons += self._cancel_reasons(item)
            gift = ((item.get("fulfillment") or {}).get("packing") or {}).get("giftOption") or {}
            if isinstance(gift, dict) and text_value(gift.get("giftMessage")):
                gifts.append(text_value(gift.get("giftMessage")))
            if line is not None:
                lines.append(line)
        if not lines and not cancelled:
            raise Unreadable("no order item has a quantity")
        return lines, item_shipping, shipping_tax, reasons, gifts

    @staticmethod
    def _order_amounts(
        proceeds: Any, currencies: set[str]
    ) -> tuple[Decimal | None, Decimal | None]:
        """(the order's shipping, its total less any delivery tip), each None when absent."""
        shipping = _breakdown(proceeds, "SHIPPING", "order", currencies)
        total = None
        if isinstance(proceeds, dict):
            grand = _money(proceeds.get("grandTotal"), "proceeds.grandTotal", currencies)
            tip = _breakdown(proceeds, "DELIVERY_TIP", "order", currencies)
            # A delivery tip is charged apart and belongs to no line: it is not ours to compare.
            total = None if grand is None else grand - (tip or Decimal(0))
        return shipping, total

    def map_order(self, order: Mapping[str, Any]) -> CanonicalOrder:
        """One v2026-01-01 Order as a CanonicalOrder. Raises Unreadable."""
        order_id = text_value(order.get("orderId"))
        if not order_id:
            raise Unreadable("no orderId")
        updated_at = parse_datetime(order.get("lastUpdatedTime"))
        if updated_at is None:
            raise Unreadable(f"lastUpdatedTime {order.get('lastUpdatedTime')!r} is not a date")
        fulfillment = order.get("fulfillment")
        fulfillment = fulfillment if isinstance(fulfillment, dict) else {}
        payment_status = self._payment_status(fulfillment)
        cancelled = payment_status == "voided"  # only a CANCELLED order is voided

        currencies: set[str] = set()
        lines, item_shipping, shipping_tax, reasons, gifts = self._map_items(
            order.get("orderItems"), currencies, cancelled=cancelled
        )
        shipping, total = self._order_amounts(order.get("proceeds"), currencies)
        shipping = shipping if shipping is not None else item_shipping
        prices_include_tax = self._prices_include_tax(order, lines, shipping, shipping_tax, total)
        if not prices_include_tax:
            # We keep no shipping tax of its own: tax on top of the shipping is part of it.
            shipping += shipping_tax
        if len(currencies) > 1:
            raise Unreadable(f"amounts in several currencies: {', '.join(sorted(currencies))}")
        currency = currencies.pop() if currencies else self.context.currency.upper()

        recipient = order.get("recipient")
        delivery = recipient.get("deliveryAddress") if isinstance(recipient, dict) else None
        # A PENDING order must not be routed: no address, even if Amazon sent one.
        address = {} if payment_status == "pending" else _address(delivery)
        # Amazon ships it (FBA: from Amazon's stock), or the seller shipped it before we first
        # saw it (SHIPPED: from the seller's stock, outside the OMS): not ours to ship.
        fulfilled_by = (
            FULFILLED_BY_CHANNEL
            if text_value(fulfillment.get("fulfilledBy")).upper() == "AMAZON"
            else FULFILLED_ELSEWHERE
            if text_value(fulfillment.get("fulfillmentStatus")).upper() == SHIPPED_STATUS
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
            shipping_price=f"{shipping:f}",
            total=None if total is None else str(total),
            payment_status=payment_status,
            prices_include_tax=prices_include_tax,
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
            raise Unreadable(f"{what}: quantityOrdered {quantity!r} is not a count")
        if quantity == 0:
            return None
        product = item.get("product")
        if not isinstance(product, dict):
            raise Unreadable(f"{what}: no product")
        sku = text_value(product.get("sellerSku"))
        if not sku:
            raise Unreadable(f"{what}: no sellerSku")
        price = product.get("price")
        unit = _money(
            price.get("unitPrice") if isinstance(price, dict) else None,
            f"{what} unitPrice",
            currencies,
        )
        proceeds = item.get("proceeds")
        rounding = Decimal(0)
        if unit is None:
            # No per-unit price: the ITEM proceeds are the line total, divided here.
            line_total = _breakdown(proceeds, "ITEM", what, currencies)
            if line_total is None:
                raise Unreadable(f"{what}: no unitPrice and no ITEM proceeds")
            unit, rounding = _per_unit(line_total, quantity)
        taxes = _tax_parts(proceeds, what, currencies)
        tax = taxes[0] if taxes else Decimal(0)  # the shipping's tax goes with the shipping
        discount = _breakdown(proceeds, "DISCOUNT", what, currencies) or Decimal(0)
        return {
            "sku": sku,
            "quantity": quantity,
            "name": text_value(product.get("title")),
            "external_line_id": text_value(item.get("orderItemId")),
            # Plain decimals ("0.00", never "0E-2"): capture refuses exponents.
            "unit_price": f"{unit:f}",
            "discount": f"{abs(discount) + rounding:f}",
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
            if isinstance(part, dict) and text_value(part.get("cancelReason")):
                reasons.append(text_value(part.get("cancelReason")))
        return reasons[:1]
