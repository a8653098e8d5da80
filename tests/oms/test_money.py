"""oms.money: rounding, minor units and splitting amounts, by example (properties in
test_money_properties.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.money import allocate, from_minor, round_money, to_minor, units_share

D = Decimal


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("2.345", "EUR", "2.35"),
        ("-2.345", "EUR", "-2.35"),
        ("2.344", "eur", "2.34"),
        ("1.5", "JPY", "2"),
        ("2.5", "JPY", "3"),
        ("1.0005", "BHD", "1.001"),
        ("19.9500", "EUR", "19.95"),
    ],
)
def test_round_money_rounds_half_up_to_the_minor_unit(amount, currency, rounded):
    value = round_money(D(amount), currency)
    assert value == D(rounded)
    assert str(value) == rounded


def test_minor_units_both_ways():
    assert to_minor(D("12.34"), "EUR") == 1234
    assert to_minor(D("500"), "JPY") == 500
    assert to_minor(D("-1.234"), "BHD") == -1234
    assert from_minor(1234, "EUR") == D("12.34")
    assert str(from_minor(5, "BHD")) == "0.005"
    with pytest.raises(ValueError, match="not an amount of EUR"):
        to_minor(D("0.001"), "EUR")


@pytest.mark.parametrize(
    ("total", "weights", "currency", "parts"),
    [
        ("10.00", [1, 1, 1], "EUR", ["3.34", "3.33", "3.33"]),
        ("-10.00", [1, 1, 1], "EUR", ["-3.34", "-3.33", "-3.33"]),
        ("0.05", [D("19.99"), D("0"), D("5.01")], "EUR", ["0.04", "0", "0.01"]),
        ("1.00", [0, 0, 0], "EUR", ["0.34", "0.33", "0.33"]),  # no weight: equal
        ("100", [2, 1], "JPY", ["67", "33"]),
        ("1", [1, 1, 1], "JPY", ["1", "0", "0"]),
        ("10", [1, 1, 1], "BHD", ["3.334", "3.333", "3.333"]),
        ("0.02", [1, 3, 1, 3], "EUR", ["0", "0.01", "0", "0.01"]),  # largest remainders
        ("0.00", [5, 1], "EUR", ["0", "0"]),
    ],
)
def test_allocate_examples(total, weights, currency, parts):
    got = allocate(D(total), weights, currency)
    assert got == [D(p) for p in parts]
    assert sum(got) == D(total)


def test_allocate_refuses_what_cannot_be_split():
    with pytest.raises(ValueError, match="no weights"):
        allocate(D("1.00"), [], "EUR")
    with pytest.raises(ValueError, match="never negative"):
        allocate(D("1.00"), [1, -1], "EUR")
    with pytest.raises(ValueError, match="not an amount"):
        allocate(D("1.001"), [1], "EUR")
    with pytest.raises(KeyError):
        allocate(D("1.00"), [1], "ZZZ")


def test_units_share_spreads_the_extra_cents_over_the_units():
    assert [units_share(D("10.00"), 3, i, 1, "EUR") for i in range(3)] == [
        D("3.33"),
        D("3.34"),
        D("3.33"),
    ]
    assert units_share(D("10.00"), 3, 1, 2, "EUR") == D("6.67")
    assert units_share(D("10.00"), 3, 0, 3, "EUR") == D("10.00")
    assert units_share(D("10.00"), 3, 3, 0, "EUR") == D("0.00")
    # 0.50 over 100 units: the half cents go to every other unit, never 50 to the first ones.
    assert units_share(D("0.50"), 100, 0, 50, "EUR") == D("0.25")
    assert units_share(D("-1"), 3, 0, 2, "JPY") == D("-1")
    with pytest.raises(ValueError, match="not units of 3"):
        units_share(D("10.00"), 3, 2, 2, "EUR")


def test_amounts_read_from_a_payload_round_half_up_on_the_grid():
    from oms.money import round_money_read

    # Decimal's own quantize rounds half to even (2.34): the kernel rounds half up.
    assert round_money_read(Decimal("2.345"), "EUR") == Decimal("2.35")
    assert round_money_read(Decimal("1.5"), "JPY") == Decimal("2")
    assert round_money_read(Decimal("0.0005"), "BHD") == Decimal("0.001")
    # A code that is no currency (refused later by the capture) rounds to a cent meanwhile.
    assert round_money_read(Decimal("2.345"), "ZZZ") == Decimal("2.35")


def test_refundable_amounts_are_money_of_one_currency():
    """The refundable computation adds refunds as django-money's Money: mixing currencies
    raises instead of adding euros to yen."""
    from djmoney.money import Money

    with pytest.raises(TypeError):
        Money(Decimal("1.00"), "EUR") - Money(Decimal("1"), "JPY")
