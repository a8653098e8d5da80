"""GS1 numbers printed on labels: the mod-10 check digit, the SSCC and the GS1-128 element
strings of AI (00) (SSCC) and AI (420) (ship-to postcode).

Invariants: an SSCC is 18 digits (extension digit, GS1 company prefix, serial reference,
check digit) and its last digit is the check digit of the first 17; the serial reference of
a parcel is its id modulo the room the company prefix leaves, so that a parcel id always gives
the same SSCC (labels are reprinted identically).
"""

from __future__ import annotations

import re

#: FNC1, as reportlab's Code 128 writes it: in first position it makes Code 128 a GS1-128.
FNC1 = "\xf1"
_POSTCODE_CHARS = re.compile(r"[^0-9A-Z]")


def gs1_check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit of `digits` (GTIN, SSCC, GLN... without their check digit).

    From the right, digits are weighted 3, 1, 3, 1...; the check digit brings the sum to a
    multiple of 10. Raises ValueError for anything but digits.
    """
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"Only digits have a GS1 check digit, not {digits!r}.")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def gs1_valid(number: str) -> bool:
    """Whether the last digit of `number` is the check digit of the others."""
    return (
        len(number) > 1
        and number.isdigit()
        and number.isascii()
        and gs1_check_digit(number[:-1]) == int(number[-1])
    )


def sscc(*, company_prefix: str, serial: int, extension_digit: int = 0) -> str:
    """The 18-digit SSCC of a logistic unit (our parcel).

    Raises ValueError for a company prefix that is not 7 to 10 digits, or an extension digit
    outside 0-9.
    """
    if not (
        company_prefix.isdigit() and company_prefix.isascii() and 7 <= len(company_prefix) <= 10
    ):
        raise ValueError(f"A GS1 company prefix is 7 to 10 digits, not {company_prefix!r}.")
    if not 0 <= extension_digit <= 9:
        raise ValueError("The SSCC extension digit is 0 to 9.")
    room = 16 - len(company_prefix)  # 17 digits before the check digit
    body = f"{extension_digit}{company_prefix}{serial % 10**room:0{room}d}"
    return body + str(gs1_check_digit(body))


def sscc_text(number: str, *, company_prefix_length: int = 7) -> str:
    """The human-readable form printed under the bars: "(00) 0 4000001 000000123 4"."""
    ext, rest = number[0], number[1:]
    prefix, serial, check = (
        rest[:company_prefix_length],
        rest[company_prefix_length:-1],
        rest[-1],
    )
    return f"(00) {ext} {prefix} {serial} {check}"


def postcode_element(postal_code: str) -> str:
    """The data of AI (420): the ship-to postcode in the characters GS1 allows (A-Z, 0-9),
    at most 20; "" when nothing is left."""
    return _POSTCODE_CHARS.sub("", postal_code.upper())[:20]


def gs1_128_data(ai: str, value: str) -> str:
    """What a Code 128 symbol encodes for one element string: FNC1, the AI, the data."""
    return f"{FNC1}{ai}{value}"
