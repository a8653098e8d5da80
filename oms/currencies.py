"""ISO 4217 currencies: the one check every app uses.

Invariants: "XXX" (no currency) is never accepted; codes are compared upper-case; an amount
of a currency has at most the currency's minor-unit digits (EUR 2, JPY 0, BHD 3), and the API
writes every amount with exactly those digits.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

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


def currency_exponent(code: str) -> int:
    """Digits after the decimal point of a currency (EUR 2, JPY 0, BHD 3)."""
    sub_unit = CURRENCIES[code.upper()].sub_unit or 1
    return len(str(sub_unit)) - 1


def money_quantum(code: str) -> Decimal:
    """The smallest amount of a currency: Decimal("0.01") for EUR, Decimal("1") for JPY."""
    return Decimal(1).scaleb(-currency_exponent(code))


def money_on_grid(amount: Decimal, code: str) -> bool:
    """True when `amount` is a whole number of the currency's minor unit ("19.9500" is)."""
    return amount == amount.quantize(money_quantum(code))


def money_format(amount: Decimal, code: str) -> str:
    """An amount as the API writes it: exactly the currency's digits ("10.00", JPY "1000")."""
    return f"{amount.quantize(money_quantum(code), rounding=ROUND_HALF_UP):f}"


def money_grid_problem(amount: Decimal, code: str) -> str | None:
    """Why `amount` is not an amount of `code` (None when it is)."""
    if money_on_grid(amount, code):
        return None
    exponent = currency_exponent(code)
    if exponent == 0:
        return f"{code.upper()} has no minor unit: give a whole amount."
    return f"At most {exponent} decimal places in {code.upper()}."


#: The largest amount a DECIMAL(14, 4) money column holds: 10 digits before the point.
MAX_AMOUNT = Decimal("9999999999.9999")


def money_problem(amount: Decimal, code: str) -> str | None:
    """Why `amount` cannot be an amount of `code` (None when it can): not finite, more than a
    money column holds, or off the currency's grid. The sign is the caller's business."""
    if not amount.is_finite():
        return "Enter a finite amount."
    if abs(amount) > MAX_AMOUNT:
        return f"At most {MAX_AMOUNT:.0f}."
    return money_grid_problem(amount, code)


#: An amount as text: digits, then optionally a point and digits; an optional minus; no
#: exponent, no spaces, no plus sign.
MONEY_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
_MONEY = re.compile(MONEY_PATTERN)
MONEY_WHOLE_DIGITS = 10
MONEY_DECIMAL_PLACES = 4
#: The longest amount text: a minus, 10 digits, the point and 4 digits.
MONEY_MAX_LENGTH = 1 + MONEY_WHOLE_DIGITS + 1 + MONEY_DECIMAL_PLACES


def parse_money(data: Any) -> Decimal:
    """A decimal string as a Decimal; ValueError with the reason for anything else."""
    if isinstance(data, int | float):  # bool is an int too
        raise ValueError('Give the amount as a decimal string, e.g. "19.95" (not a JSON number).')
    if not isinstance(data, str) or len(data) > MONEY_MAX_LENGTH or not _MONEY.fullmatch(data):
        raise ValueError(
            'Give the amount as a decimal string such as "19.95": digits and an optional '
            "decimal point, no exponent."
        )
    whole, _, fraction = data.lstrip("-").partition(".")
    if len(whole.lstrip("0")) > MONEY_WHOLE_DIGITS:
        raise ValueError(f"At most {MONEY_WHOLE_DIGITS} digits before the decimal point.")
    if len(fraction.rstrip("0")) > MONEY_DECIMAL_PLACES:
        raise ValueError(f"At most {MONEY_DECIMAL_PLACES} decimal places.")
    try:
        return Decimal(data)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValueError("Not a decimal amount.") from None
