"""Money: ISO 4217 currencies, rounding and splitting amounts. The one place every app uses.

Invariants:
- "XXX" (no currency) is never accepted; codes are compared upper-case;
- an amount of a currency has at most the currency's minor-unit digits (EUR 2, JPY 0, BHD 3),
  and the API writes every amount with exactly those digits;
- rounding to a currency is ROUND_HALF_UP to its minor unit (`round_money`), nowhere by hand;
- an amount split into parts (`allocate`, `units_share`, `unit_and_discount`) loses and invents
  no minor unit: the parts are on the currency's grid and add up to the amount exactly.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache
from typing import Any

from moneyed import CURRENCIES


def is_currency(code: object) -> bool:
    """True for an ISO 4217 code that can price an order ("eur" counts as EUR)."""
    return isinstance(code, str) and code.upper() in CURRENCIES and code.upper() != "XXX"


@lru_cache(maxsize=1)
def current_currencies() -> frozenset[str]:
    """The ISO 4217 codes legal tender somewhere today (CLDR's territory currencies, from babel):
    no Andorran peseta, no Deutsche Mark, no precious metals or fund codes."""
    from babel.core import get_global
    from babel.numbers import get_territory_currencies

    today = dt.datetime.now(tz=dt.UTC).date()
    found: set[str] = set()
    for territory in get_global("territory_currencies"):
        found.update(get_territory_currencies(territory, start_date=today, tender=True))
    return frozenset(found)


def is_current_currency(code: object) -> bool:
    """True for an ISO 4217 code legal tender somewhere today: what a new price may be in."""
    return is_currency(code) and str(code).upper() in current_currencies()


def currency_choices(*, exclude: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(code, "CODE Name") pairs for forms, sorted by code: current currencies only (an old
    order's currency is still accepted by `is_currency`; forms offer only what is in use)."""
    current = current_currencies()
    return sorted(
        (code, f"{code} {currency.name}")
        for code, currency in CURRENCIES.items()
        if is_currency(code) and code in current and code not in exclude
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
    return f"{round_money(amount, code):f}"


def money_display(amount: Decimal | str, code: str, *, locale: str = "en") -> str:
    """An amount as people read it, in the currency's own format ("€76.95", "¥1,000",
    "BHD1.234"): the back office's timeline and pages. Not for the API (money_format)."""
    from babel.numbers import format_currency  # babel comes with django-money

    value = Decimal(amount)
    if not is_currency(code):  # an old row without a currency: the figure alone
        return f"{value:,.2f}"
    return format_currency(round_money(value, code), code.upper(), locale=locale)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half up (away from zero) to the currency's minor unit: EUR 2.345 ->
    2.35, -2.345 -> -2.35, JPY 1.5 -> 2. Idempotent: an amount on the grid is unchanged."""
    return amount.quantize(money_quantum(currency), rounding=ROUND_HALF_UP)


def round_money_read(amount: Decimal, code: str) -> Decimal:
    """`round_money` for an amount read from a channel's payload whose currency code is not
    checked yet (it is refused later if it is no currency): such a code rounds to a cent."""
    if is_currency(code):
        return round_money(amount, code)
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def to_minor(amount: Decimal, currency: str) -> int:
    """`amount` in minor units (EUR 12.34 -> 1234, JPY 500 -> 500). ValueError off the grid:
    convert only amounts that are amounts of the currency (round them first)."""
    if not money_on_grid(amount, currency):
        raise ValueError(f"{amount} is not an amount of {currency.upper()}.")
    return int(amount.scaleb(currency_exponent(currency)))


def from_minor(units: int, currency: str) -> Decimal:
    """`units` minor units as an amount with exactly the currency's digits (1234 -> 12.34)."""
    return Decimal(units).scaleb(-currency_exponent(currency))


def allocate(total: Decimal, weights: Sequence[Decimal | int], currency: str) -> list[Decimal]:
    """`total` split over `weights` (line totals, quantities ...): one part per weight.

    Invariants: every part is on the currency's grid; the parts add up to `total` exactly;
    each part is within one minor unit of its exact share (total * weight / sum of weights);
    a zero weight gets 0 unless every weight is zero (then the split is equal); the result is
    deterministic: the minor units left after rounding every share down go to the largest
    remainders, ties to the earlier position; a negative total (a refund, a discount) is split
    like its opposite, negated. ValueError for no weights, a negative weight, or a total off
    the currency's grid.
    """
    if not weights:
        raise ValueError("Nothing to allocate over: no weights.")
    exact_weights = [Fraction(w) for w in weights]
    if any(w < 0 for w in exact_weights):
        raise ValueError("Weights are never negative.")
    minor = to_minor(total, currency)
    if minor < 0:
        return [-part for part in allocate(-total, weights, currency)]
    whole = sum(exact_weights)
    if whole == 0:
        exact_weights, whole = [Fraction(1)] * len(weights), Fraction(len(weights))
    shares = [minor * w / whole for w in exact_weights]
    parts = [int(share) for share in shares]  # rounded down (shares are >= 0)
    left = minor - sum(parts)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - parts[i]), i))
    for index in by_remainder[:left]:
        parts[index] += 1
    return [from_minor(part, currency) for part in parts]


def units_share(total: Decimal, quantity: int, start: int, count: int, currency: str) -> Decimal:
    """What units `start` .. `start + count - 1` (0-based) of `quantity` units costing `total`
    together cost: the first `start + count` units' share of `total` less the first `start`
    units' share, each share rounded half up to the minor unit.

    Invariants: the result is on the currency's grid and within one minor unit of its exact
    value (total * count / quantity), for one unit as for many; the units of a line refunded
    in several goes, each go taking the next units, add up to the total exactly (the shares
    telescope): 10.00 for 3 units is 3.33 + 3.34 + 3.33, never 3 x 3.33 = 9.99; a negative
    total is split like its opposite, negated. ValueError for units outside 0 .. quantity or a
    total off the currency's grid."""
    if quantity <= 0 or start < 0 or count < 0 or start + count > quantity:
        raise ValueError(f"Units {start} + {count} are not units of {quantity}.")
    minor = to_minor(total, currency)
    sign, minor = (-1, -minor) if minor < 0 else (1, minor)

    def first(units: int) -> int:  # the first `units` units' share, rounded half up
        return (2 * minor * units + quantity) // (2 * quantity)

    return from_minor(sign * (first(start + count) - first(start)), currency)


def unit_and_discount(
    gross: Decimal, net: Decimal, quantity: int, exponent: int
) -> tuple[Decimal, Decimal]:
    """(unit price, line discount) of a line of `quantity` units priced `gross` before and `net`
    after discounts, with unit * quantity - discount == net exactly. The unit price is
    gross / quantity rounded UP to the minor unit (`exponent` digits), so the discount never
    goes negative; a net above the gross (a surcharge) counts as the gross."""
    quantum = Decimal(1).scaleb(-exponent)
    gross = max(gross, net)
    unit = (gross / quantity).quantize(quantum, rounding=ROUND_CEILING)
    return unit, unit * quantity - net


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
