"""How the order screens show things: money with the currency's decimals, countries, addresses,
(the timeline's sentences: orders.admin.timeline).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe
from django_countries import countries

from oms.money import round_money

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
