"""Property: money allocation loses no cent.

- A channel's line total split into a unit price and a line discount (Square's and
  WooCommerce's `unit_and_discount`) gives back the line total exactly, on the currency's grid,
  with a discount never negative and the rounding under one minor unit per item.
- What a shopper paid per unit (returns' `unit_value`: the price less its share of the line's
  discount, plus its share of the tax unless prices include it), times the quantity and rounded
  to the currency, is exactly what the line cost: refunding a whole line loses or adds no cent.

EUR (2 digits), JPY (0) and BHD (3); deterministic examples.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.adapters import square, woocommerce
from oms.currencies import currency_exponent, money_on_grid, money_quantum
from orders.models import Order, OrderLine
from returns.services._common import money, unit_value
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


@pytest.mark.parametrize("split", [square.unit_and_discount, woocommerce.unit_and_discount])
@bounded(300)
@given(line=channel_lines())
def test_a_line_total_split_into_unit_price_and_discount_loses_no_cent(split, line):
    currency, gross, net, quantity = line
    unit, discount = split(gross, net, quantity, currency_exponent(currency))
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
    assert money(unit_value(line, order) * line.quantity, order.currency) == line.line_total
