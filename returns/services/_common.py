"""Helpers shared by the services of returns: locking and money."""

from __future__ import annotations

from decimal import Decimal

from oms.errors import NotFound
from oms.money import round_money
from orders.models import Order, OrderLine
from returns.models import ReturnRequest

ZERO = Decimal("0")


def return_id_of(return_request: ReturnRequest | int) -> int:
    return return_request if isinstance(return_request, int) else int(return_request.pk)


def order_id_of_return(return_id: int) -> int:
    order_id = ReturnRequest.objects.filter(pk=return_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound(f"Return {return_id} does not exist.")
    return int(order_id)


def lock_return(return_id: int) -> ReturnRequest:
    return ReturnRequest.objects.select_for_update().get(pk=return_id)


def money(value: Decimal, currency: str) -> Decimal:
    """`value` rounded to the currency's minor unit (EUR cents, whole yen)."""
    return round_money(value, currency)


def unit_value(line: OrderLine, order: Order) -> Decimal:
    """What the shopper paid for one unit of a line: its price less its share of the line's
    discount, plus its share of the line's tax unless prices include tax (unrounded)."""
    unit = line.unit_price - line.discount / line.quantity
    if not order.prices_include_tax:
        unit += line.tax / line.quantity
    return unit
