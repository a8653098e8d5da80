"""Property: money allocation loses no cent.

- `allocate` splits any amount (negative too) over any weights into parts on the currency's
  grid that add up to the amount exactly, each within one minor unit of its exact share;
  `units_share` is the sum of the positions of an equal split; `round_money` is idempotent and
  within half a minor unit of the amount.
- A channel's line total split into a unit price and a line discount (`unit_and_discount`, of
  Square, WooCommerce, eBay and Amazon) gives back the line total exactly, on the currency's
  grid, with a discount never negative and the rounding under one minor unit per item.
- What a shopper paid per unit (returns' `unit_value`: the price less its share of the line's
  discount, plus its share of the tax unless prices include it), times the quantity and rounded
  to the currency, is exactly what the line cost: refunding a whole line loses or adds no cent.

EUR (2 digits), JPY (0) and BHD (3); deterministic examples.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from oms.money import (
    allocate,
    currency_exponent,
    from_minor,
    money_on_grid,
    money_quantum,
    round_money,
    to_minor,
    unit_and_discount,
    units_share,
)
from orders.models import Order, OrderLine
from returns.services._common import line_paid, unit_value, units_paid
from tests.properties import bounded

CURRENCIES = ["EUR", "JPY", "BHD"]


@st.composite
def amounts(draw: st.DrawFn, currency: str, *, most: int = 10**7) -> Decimal:
    """An amount of `currency` on its grid, from 0 to `most` minor units."""
    return draw(st.integers(min_value=0, max_value=most)) * money_quantum(currency)


@st.composite
def channel_lines(draw: st.DrawFn) -> tuple[str, Decimal, Decimal, int]:
    """(currency, gross, net, quantity) of a channel's line: net may exceed gross (a surcharge)."""
    currency = draw(st.sampled_from(CURRENCIES))
    return (
        currency,
        draw(amounts(currency)),
        draw(amounts(currency)),
        draw(st.integers(min_value=1, max_value=1000)),
    )


@bounded(300)
@given(line=channel_lines())
def test_a_line_total_split_into_unit_price_and_discount_loses_no_cent(line):
    currency, gross, net, quantity = line
    unit, discount = unit_and_discount(gross, net, quantity, currency_exponent(currency))
    assert unit * quantity - discount == net
    assert money_on_grid(unit, currency)
    assert money_on_grid(discount, currency)
    assert discount >= 0
    # What rounding the unit price up added is less than one minor unit per item.
    assert discount - (max(gross, net) - net) < quantity * money_quantum(currency)


@st.composite
def paid_lines(draw: st.DrawFn) -> tuple[Order, OrderLine]:
    """An order line as capture stores it: price, discount and tax on the currency's grid, the
    discount at most the line's price, tax on top or included."""
    currency = draw(st.sampled_from(CURRENCIES))
    quantity = draw(st.integers(min_value=1, max_value=500))
    unit_price = draw(amounts(currency, most=10**6))
    discount = draw(
        st.integers(min_value=0, max_value=int(unit_price * quantity / money_quantum(currency)))
    ) * money_quantum(currency)
    tax = draw(amounts(currency, most=10**6))
    order = Order(currency=currency, prices_include_tax=draw(st.booleans()))
    line_total = unit_price * quantity - discount + (0 if order.prices_include_tax else tax)
    line = OrderLine(
        order=order,
        quantity=quantity,
        unit_price=unit_price,
        discount=discount,
        tax=tax,
        line_total=line_total,
    )
    return order, line


@bounded(300)
@given(paid=paid_lines())
def test_a_whole_line_refunded_unit_by_unit_value_is_what_it_cost(paid):
    order, line = paid
    assert round_money(unit_value(line, order) * line.quantity, order.currency) == line.line_total


@bounded(300)
@given(paid=paid_lines(), data=st.data())
def test_a_line_refunded_in_any_goes_gives_back_exactly_what_it_cost(paid, data):
    """Units refunded in goes of any sizes, each go taking the next units: the refunds add up
    to the line's total and each is within one minor unit of its units' exact value."""
    order, line = paid
    assert line_paid(line, order) == line.line_total
    start, refunds = 0, []
    while start < line.quantity:
        count = data.draw(st.integers(min_value=1, max_value=line.quantity - start))
        refund = units_paid(line, order, start, count)
        assert money_on_grid(refund, order.currency)
        assert abs(refund - unit_value(line, order) * count) < money_quantum(order.currency)
        refunds.append(refund)
        start += count
    assert sum(refunds) == line.line_total


@st.composite
def splits(draw: st.DrawFn) -> tuple[str, Decimal, list[Decimal]]:
    """(currency, total, weights): a total of either sign, weights of zero or more (zeros and
    all-zero lists included), as line totals or quantities would be."""
    currency = draw(st.sampled_from(CURRENCIES))
    total = draw(st.integers(min_value=-(10**9), max_value=10**9)) * money_quantum(currency)
    weights = draw(
        st.lists(
            st.one_of(
                st.just(Decimal(0)),
                st.integers(min_value=0, max_value=1000).map(Decimal),
                amounts(currency, most=10**6),
            ),
            min_size=1,
            max_size=30,
        )
    )
    return currency, total, weights


@bounded(400)
@given(split=splits())
def test_allocation_loses_no_cent_and_each_part_is_within_a_cent_of_its_share(split):
    currency, total, weights = split
    parts = allocate(total, weights, currency)
    quantum = money_quantum(currency)
    assert len(parts) == len(weights)
    assert sum(parts) == total
    assert all(money_on_grid(part, currency) for part in parts)
    whole = sum(weights)
    shares = (
        [total * w / whole for w in weights] if whole else [total / len(weights)] * len(weights)
    )
    for part, share in zip(parts, shares, strict=True):
        assert abs(part - share) < quantum
        assert part == 0 or (part > 0) == (total > 0)  # a part never has the other sign
    if whole:
        assert all(part == 0 for part, w in zip(parts, weights, strict=True) if w == 0)
    assert allocate(-total, weights, currency) == [-part for part in parts]


@bounded(300)
@given(
    currency=st.sampled_from(CURRENCIES),
    minor=st.integers(min_value=-(10**9), max_value=10**9),
    quantity=st.integers(min_value=1, max_value=200),
    data=st.data(),
)
def test_units_taken_in_any_goes_add_up_to_the_total(currency, minor, quantity, data):
    total = from_minor(minor, currency)
    start, goes = 0, []
    while start < quantity:
        count = data.draw(st.integers(min_value=1, max_value=quantity - start))
        share = units_share(total, quantity, start, count, currency)
        assert money_on_grid(share, currency)
        assert abs(share - total * count / quantity) < money_quantum(currency)
        goes.append(share)
        start += count
    assert sum(goes) == total


@bounded(300)
@given(
    currency=st.sampled_from(CURRENCIES),
    amount=st.decimals(
        min_value=-(10**9), max_value=10**9, places=6, allow_nan=False, allow_infinity=False
    ),
)
def test_round_money_is_idempotent_on_the_grid_and_within_half_a_unit(currency, amount):
    rounded = round_money(amount, currency)
    assert money_on_grid(rounded, currency)
    assert round_money(rounded, currency) == rounded
    assert abs(rounded - amount) <= money_quantum(currency) / 2
    assert from_minor(to_minor(rounded, currency), currency) == rounded
