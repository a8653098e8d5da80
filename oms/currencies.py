"""ISO 4217 currencies: the one check every app uses.

Invariant: "XXX" (no currency) is never accepted; codes are compared upper-case.
"""

from __future__ import annotations

from moneyed import CURRENCIES


def is_currency(code: object) -> bool:
    """True for an ISO 4217 code that can price an order ("eur" counts as EUR)."""
    return isinstance(code, str) and code.upper() in CURRENCIES and code.upper() != "XXX"


def currency_choices(*, exclude: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(code, "CODE Name") pairs for forms, sorted by code."""
    return sorted(
        (code, f"{code} {currency.name}")
        for code, currency in CURRENCIES.items()
        if is_currency(code) and code not in exclude
    )
