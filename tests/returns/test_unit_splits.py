"""Refunding a line in several goes gives back what it cost, to the cent.

A line of 3 units costing 10.00 together (3.34 each less a 0.02 discount) is worth 3.333...
per unit: refunded unit by unit, cancelled unit by unit, or returned in several returns, the
refunds add up to 10.00 (3.34 + 3.33 + 3.33), never 9.99 (oms.money.units_share).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.services import order_cancel, order_capture
from returns import services
from returns.models import Refund
from tests.fulfilment.conftest import put
from tests.returns.conftest import ship_all


def _order(network, currency="EUR", unit_price="3.34", discount="0.02", quantity=3, other=False):
    """A paid order of a line of A (by default 3 units for 10.00), and one B at 10.00."""
    put(network, "BER", "A", 10)
    put(network, "BER", "B", 10)
    network["channel"].currency = currency
    network["channel"].save(update_fields=["currency"])
    return order_capture(
        channel="web",
        external_id=f"SPLIT-{currency}-{unit_price}",
        currency=currency,
        lines=[{"sku": "A", "quantity": quantity, "unit_price": unit_price, "discount": discount}]
        + ([{"sku": "B", "quantity": 1, "unit_price": "10.00"}] if other else []),
        customer={"email": "split@example.com"},
        shipping_address={
            "name": "Test Person",
            "line1": "Street 1",
            "postal_code": "20095",
            "city": "Hamburg",
            "country": "DE",
            "latitude": 53.5511,
            "longitude": 9.9937,
        },
        payment_status="paid",
    ).order


def test_cancelling_a_line_unit_by_unit_refunds_what_it_cost(
    network, reasons, eager, django_capture_on_commit_callbacks
):
    o = _order(network)
    line = o.lines.get()
    assert line.line_total == Decimal("10.00")
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            order_cancel(order=o, lines=[(line.pk, 1)], reason="out of stock")
    amounts = sorted(Refund.objects.filter(order=o).values_list("amount", flat=True))
    assert amounts == [Decimal("3.33"), Decimal("3.33"), Decimal("3.34")]


def test_cancelling_two_units_then_one_refunds_what_it_cost(
    network, reasons, eager, django_capture_on_commit_callbacks
):
    o = _order(network)
    line = o.lines.get()
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=o, lines=[(line.pk, 2)], reason="out of stock")
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=o, lines=[(line.pk, 1)], reason="out of stock")
    amounts = list(Refund.objects.filter(order=o).order_by("pk").values_list("amount", flat=True))
    assert amounts == [Decimal("6.67"), Decimal("3.33")]


@pytest.mark.parametrize(
    ("currency", "unit_price", "discount", "total"),
    [
        ("EUR", "3.34", "0.02", "10.00"),
        ("JPY", "334", "2", "1000"),
        ("BHD", "3.334", "0.002", "10"),
    ],
)
def test_returning_a_line_in_three_returns_refunds_what_it_cost(
    network, reasons, currency, unit_price, discount, total
):
    o = ship_all(_order(network, currency, unit_price, discount))
    line = o.lines.get()
    for _ in range(3):
        ret = services.return_create(
            order=o, lines=[{"order_line": line.pk, "quantity": 1, "reason": "damaged"}]
        )
        services.return_authorise(return_request=ret)
        services.return_receive(
            return_request=ret,
            location="BER",
            lines=[{"order_line": line.pk, "quantity": 1, "condition": "sellable"}],
        )
        services.return_refund(return_request=ret, reason="return")
    amounts = list(Refund.objects.filter(order=o).values_list("amount", flat=True))
    assert len(amounts) == 3
    assert sum(amounts) == Decimal(total)


def test_receiving_a_return_in_goes_refunds_what_it_cost(network, reasons):
    o = ship_all(_order(network))
    line = o.lines.get()
    ret = services.return_create(
        order=o, lines=[{"order_line": line.pk, "quantity": 3, "reason": "damaged"}]
    )
    services.return_authorise(return_request=ret)
    for _ in range(3):
        services.return_receive(
            return_request=ret,
            location="BER",
            lines=[{"order_line": line.pk, "quantity": 1, "condition": "sellable"}],
        )
        services.return_refund(return_request=ret, reason="return")
    amounts = list(Refund.objects.filter(order=o).values_list("amount", flat=True))
    assert sum(amounts) == Decimal("10.00")


def test_cancellations_refunded_late_and_out_of_order_still_add_up(
    network, reasons, eager, django_capture_on_commit_callbacks
):
    """Two cancellations commit before either refund task runs, and the tasks run in the other
    order: each still takes its own units (counted from the cancellation events before it).
    The order has another line, so what is left to refund never caps these refunds."""
    o = _order(network, other=True)
    line = o.lines.get(sku_code="A")
    with django_capture_on_commit_callbacks() as first:
        order_cancel(order=o, lines=[(line.pk, 1)], reason="out of stock")
    with django_capture_on_commit_callbacks() as second:
        order_cancel(order=o, lines=[(line.pk, 1)], reason="out of stock")
    with django_capture_on_commit_callbacks(execute=True):
        for callback in second + first:
            callback()
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=o, lines=[(line.pk, 1)], reason="out of stock")
    amounts = list(Refund.objects.filter(order=o).values_list("amount", flat=True))
    assert len(amounts) == 3
    assert sum(amounts) == Decimal("10.00")
