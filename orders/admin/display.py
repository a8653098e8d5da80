"""How the order screens show things: money with the currency's decimals, countries, addresses,
a timeline event in a sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe
from django_countries import countries

from oms.money import round_money
from orders.models import OrderEvent
from orders.states import HoldReason, OrderStatus, PaymentStatus

NONE = "\N{EN DASH}"  # shown where there is no value


ADDRESS_LABELS = {
    "name": "Name",
    "line1": "Street and number",
    "line2": "Address line 2",
    "postal_code": "Postal code",
    "city": "City",
    "region": "Region / state",
    "country": "Country",
    "phone": "Phone",
}


def money(amount: Decimal | None, currency: str) -> str:
    """An amount with as many decimals as the currency has (EUR 2, JPY 0, BHD 3)."""
    if amount is None:
        return NONE
    try:
        value = round_money(Decimal(amount), currency)
    except KeyError:  # not a currency code (an old row): two decimals, as EUR has
        value = round_money(Decimal(amount), "EUR")
    return f"{value:,} {currency}"


def country_label(code: str) -> str:
    name = countries.name(code) if code else ""
    return f"{code} {name}" if name else code


def address_lines(address: Mapping[str, Any]) -> list[str]:
    """A stored address as the lines of a label."""
    if not address:
        return []
    town = " ".join(str(address.get(k) or "") for k in ("postal_code", "city")).strip()
    country = str(address.get("country") or "")
    lines = [
        str(address.get("name") or ""),
        str(address.get("line1") or ""),
        str(address.get("line2") or ""),
        town,
        str(address.get("region") or ""),
        country_label(country),
    ]
    if address.get("phone"):
        lines.append(f"Phone {address['phone']}")
    return [line for line in lines if line]


def address_html(address: Mapping[str, Any]) -> SafeString | str:
    lines = address_lines(address)
    if not lines:
        return "No address"
    return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))


def choice_labels(choices: Any, values: Sequence[str]) -> str:
    names = dict(choices)
    return ", ".join(str(names.get(v, v)) for v in values)


def event_summary(event: OrderEvent) -> str:
    """The event's data in words (the timeline shows this instead of raw JSON)."""
    data: dict[str, Any] = event.data if isinstance(event.data, dict) else {}
    kind = event.kind
    if kind == "captured":
        return (
            f"From channel {data.get('channel', '?')} (reference {data.get('external_id', '?')}),"
            f" {data.get('lines', '?')} line(s), total {data.get('total', '?')} "
            f"{data.get('currency', '')}".rstrip()
        )
    if kind == "hold_placed":
        note = f": {data['note']}" if data.get("note") else ""
        return f"{choice_labels(HoldReason.choices, [data.get('reason', '')])}{note}"
    if kind == "hold_released":
        note = f" ({data['note']})" if data.get("note") else ""
        return f"Released {choice_labels(HoldReason.choices, data.get('reasons') or [])}{note}"
    if kind == "status_changed":
        return (
            choice_labels(OrderStatus.choices, [data.get("from", "?")])
            + " → "
            + (choice_labels(OrderStatus.choices, [data.get("to", "?")]))
        )
    if kind == "payment_status_changed":
        return (
            choice_labels(PaymentStatus.choices, [data.get("before", "?")])
            + " → "
            + (choice_labels(PaymentStatus.choices, [data.get("after", "?")]))
        )
    if kind in ("cancelled", "lines_cancelled"):
        items = data.get("lines") or []
        units = sum(int(item.get("quantity") or 0) for item in items if isinstance(item, dict))
        reason = f". Reason: {data['reason']}" if data.get("reason") else ""
        return f"{units} unit(s) on {len(items)} line(s){reason}"
    if kind == "fulfilled_by_channel":
        if not data.get("shipped_elsewhere"):
            return "Fulfilled by the channel: never ours to ship, none of our stock used"
        taken = (
            f"its units taken from {data['location']}" if data.get("location") else "no stock taken"
        )
        missing = data.get("not_in_ledger") or {}
        short = (
            "; not in the ledger there: "
            + ", ".join(f"{sku} x {units}" for sku, units in sorted(missing.items()))
            if missing
            else ""
        )
        return f"Already shipped on the channel when imported: never shipped here, {taken}{short}"
    if kind == "channel_refunded_shipped_units":
        items = data.get("lines") or []
        parts = [
            f"{item.get('sku') or 'line ' + str(item.get('line'))} x {item.get('quantity')}"
            for item in items
            if isinstance(item, dict)
        ]
        return f"Refunded or removed on the channel after shipping: {', '.join(parts)}"
    if kind == "note":
        return str(data.get("text", ""))
    if kind == "address_changed":
        before = ", ".join(address_lines(data.get("before") or {})) or "no address"
        after = ", ".join(address_lines(data.get("after") or {})) or "no address"
        return f"{before} → {after}"
    if kind == "converted":
        return (
            f"{data.get('total_base', '?')} {data.get('base_currency', '')} at rate "
            f"{data.get('rate', '?')} ({data.get('source', '?')}, {data.get('date', '?')})"
        )
    return "; ".join(f"{key}: {value}" for key, value in data.items())
