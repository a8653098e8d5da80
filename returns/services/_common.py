"""Helpers shared by the services of returns: locking and money."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db.models import Sum

from oms.errors import NotFound
from oms.money import round_money, units_share
from orders.models import Order, OrderLine
from returns.models import ReturnLine, ReturnRequest
from returns.states import ReturnStatus

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


def unit_value(line: OrderLine, order: Order) -> Decimal:
    """What the shopper paid for one unit of a line: its price less its share of the line's
    discount, plus its share of the line's tax unless prices include tax (unrounded)."""
    unit = line.unit_price - line.discount / line.quantity
    if not order.prices_include_tax:
        unit += line.tax / line.quantity
    return unit


def line_paid(line: OrderLine, order: Order) -> Decimal:
    """What the shopper paid for a whole line: its price times its quantity less its discount,
    plus its tax unless prices include tax; on the currency's grid (the line's total)."""
    tax = ZERO if order.prices_include_tax else line.tax
    return round_money(line.unit_price * line.quantity - line.discount + tax, order.currency)


def units_paid(line: OrderLine, order: Order, start: int, count: int) -> Decimal:
    """What the shopper paid for `count` units of a line from unit `start` on (0-based): the
    line's total split over its units to the cent (oms.money.units_share), so the units of a
    line refunded in several goes, each taking the next ones, add up to exactly what it cost.
    Returned units count from the line's first unit on, cancelled ones from its last back;
    `start` and `count` are kept within the line."""
    start = max(0, min(start, line.quantity))
    count = max(0, min(count, line.quantity - start))
    return units_share(line_paid(line, order), line.quantity, start, count, order.currency)


#: Returns whose units are never refunded: they take no units of a line.
_NO_UNITS = (ReturnStatus.REJECTED, ReturnStatus.CANCELLED)


def return_line_starts(ret: ReturnRequest, lines: Sequence[ReturnLine]) -> dict[int, int]:
    """The first unit (0-based) of its order line each of `lines` (the return's lines) counts
    from: after the units of that order line in the order's earlier returns (rejected and
    cancelled ones aside) and in the return's earlier lines. One query."""
    order_line_ids = {rl.order_line_id for rl in lines}
    earlier = dict(
        ReturnLine.objects.filter(order_line_id__in=order_line_ids, return_request_id__lt=ret.pk)
        .exclude(return_request__status__in=_NO_UNITS)
        .values_list("order_line_id")
        .annotate(units=Sum("quantity"))
        .order_by()
    )
    starts: dict[int, int] = {}
    for rl in sorted(lines, key=lambda rl: rl.pk):
        starts[rl.pk] = earlier.get(rl.order_line_id, 0)
        earlier[rl.order_line_id] = starts[rl.pk] + rl.quantity
    return starts
