"""A small seeded history whose report figures are worked out by hand in the tests.

Three days in March 2025 (Mon 3 to Wed 5) and one in April, two channels (web, shop), two
locations (L1, L2), two SKUs (S1, S2). Times are UTC (the test settings' TIME_ZONE).

orders (placed; base-currency total; lines as SKU x ordered/cancelled/shipped):
  o1 web  3 Mar 10:00  EUR 100.00 -> 100.00  S1 x2 (2 shipped), S2 x1 (1 shipped)
          shipment A at L1: shipped 3 Mar 16:00 (promised 3 Mar), delivered 5 Mar 10:00
          (promised 4 Mar); arrived in the OMS at 10:05
  o2 web  3 Mar 12:00  USD 50.00 -> 45.50 (rate 0.91)  S1 x1 (1 shipped); split in two
          shipments: B at L1 shipped 4 Mar 12:00 (promised 3 Mar), C at L2 shipped 4 Mar 14:30
          (promised 4 Mar); arrived at 12:00:30
  o3 shop 4 Mar 09:00  GBP 80.00, not converted yet  S2 x3 (1 cancelled); routing found no
          stock (decision "none"); backordered still
  o4 web  4 Mar 08:00  cancelled (left out of sales)
  o5 shop 1 Apr 09:00  EUR 30.00  S1 x1
stock ledger:
  L1 S1: +5 on 3 Mar 08:00, -3 shipped 3 Mar 16:00, -2 shipped 4 Mar 12:00
  L1 S2: +4 on 3 Mar 08:00 (never ships: dead stock)
  L2 S1: +1 on 4 Mar 10:00, -1 shipped 4 Mar 14:30
  short pick: 2 units of S1 released at L1 on 4 Mar 11:00 (o1)
returns: o1 received: S1 x1 damaged (written off), S2 x1 too_big (restocked); o2 requested
  only (not counted); refunds succeeded: o2 USD 10.00 on 4 Mar (9.10 EUR), o1 EUR 20.00 on
  5 Mar; a failed one of o1 on 5 Mar
channels: web sync runs on 3 Mar (succeeded; partial with 2 failed records), 4 Mar (failed);
  web pushes on 3 Mar (one failed, one succeeded)
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from channels.models import ChannelPush, ChannelSyncRun
from fulfilment.models import RoutingDecision, Shipment
from inventory.models import MovementKind, StockMovement
from orders.models import Order, OrderLine
from returns.models import Refund, ReturnLine, ReturnReason, ReturnRequest
from tests.factories import ChannelFactory, LocationFactory, SkuFactory

UTC = dt.UTC
D1, D2, D3 = dt.date(2025, 3, 3), dt.date(2025, 3, 4), dt.date(2025, 3, 5)
APRIL = dt.date(2025, 4, 1)


def at(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


def _order(channel: Any, key: str, placed: dt.datetime, **fields: Any) -> Order:
    arrived = fields.pop("arrived", placed)
    order = Order.objects.create(
        channel=channel,
        external_id=key,
        number=key,
        base_currency="EUR",
        placed_at=placed,
        status=fields.pop("status", "allocated"),
        **fields,
    )
    Order.objects.filter(pk=order.pk).update(created_at=arrived)
    return order


def _line(order: Order, n: int, sku: Any, quantity: int, **fields: Any) -> OrderLine:
    return OrderLine.objects.create(
        order=order, line_number=n, sku=sku, sku_code=sku.code, quantity=quantity, **fields
    )


def _move(sku: Any, location: Any, when: dt.datetime, kind: str, **deltas: Any) -> None:
    StockMovement.objects.create(sku=sku, location=location, kind=kind, created_at=when, **deltas)


def _stamp(model: Any, obj: Any, **fields: Any) -> None:
    model.objects.filter(pk=obj.pk).update(**fields)


@pytest.fixture
def history(db: Any) -> dict[str, Any]:
    web, shop = ChannelFactory(code="web"), ChannelFactory(code="shop")
    l1, l2 = LocationFactory(code="L1"), LocationFactory(code="L2")
    s1, s2 = SkuFactory(code="S1"), SkuFactory(code="S2")
    eur = {"currency": "EUR"}
    o1 = _order(
        web,
        "o1",
        at(D1, 10),
        total=Decimal(100),
        total_base=Decimal(100),
        arrived=at(D1, 10, 5),
        status="delivered",
        **eur,
    )
    o1s1 = _line(o1, 1, s1, 2, quantity_shipped=2)
    o1s2 = _line(o1, 2, s2, 1, quantity_shipped=1)
    o2 = _order(
        web,
        "o2",
        at(D1, 12),
        currency="USD",
        total=Decimal(50),
        total_base=Decimal("45.50"),
        fx_rate=Decimal("0.91"),
        arrived=at(D1, 12, 0, 30),
        status="shipped",
    )
    o2s1 = _line(o2, 1, s1, 1, quantity_shipped=1)
    o3 = _order(shop, "o3", at(D2, 9), currency="GBP", total=Decimal(80), status="backordered")
    _line(o3, 1, s2, 3, quantity_cancelled=1)
    RoutingDecision.objects.create(order=o3, trigger="captured", outcome="none")
    o4 = _order(web, "o4", at(D2, 8), total=Decimal(10), total_base=Decimal(10), **eur)
    _line(o4, 1, s1, 5)
    _stamp(Order, o4, status="cancelled")
    o5 = _order(shop, "o5", at(APRIL, 9), total=Decimal(30), total_base=Decimal(30), **eur)
    _line(o5, 1, s1, 1)

    a = Shipment.objects.create(
        order=o1,
        location=l1,
        status="delivered",
        expected_ship_date=D1,
        expected_delivery_date=D2,
        shipped_at=at(D1, 16),
        delivered_at=at(D3, 10),
    )
    b = Shipment.objects.create(
        order=o2, location=l1, status="shipped", expected_ship_date=D1, shipped_at=at(D2, 12)
    )
    c = Shipment.objects.create(
        order=o2,
        location=l2,
        status="shipped",
        expected_ship_date=D2,
        shipped_at=at(D2, 14, 30),
    )
    for shipment, made in ((a, at(D1, 10)), (b, at(D1, 12)), (c, at(D1, 12))):
        _stamp(Shipment, shipment, created_at=made)

    _move(s1, l1, at(D1, 8), MovementKind.RECEIPT, on_hand_delta=5)
    _move(s2, l1, at(D1, 8), MovementKind.RECEIPT, on_hand_delta=4)
    _move(s1, l1, at(D1, 16), MovementKind.SHIPMENT, on_hand_delta=-3, order_id=o1.pk)
    _move(s1, l1, at(D2, 12), MovementKind.SHIPMENT, on_hand_delta=-2, order_id=o2.pk)
    _move(s1, l2, at(D2, 10), MovementKind.RECEIPT, on_hand_delta=1)
    _move(s1, l2, at(D2, 14, 30), MovementKind.SHIPMENT, on_hand_delta=-1, order_id=o2.pk)
    _move(
        s1,
        l1,
        at(D2, 11),
        MovementKind.RELEASE,
        reserved_delta=-2,
        order_id=o1.pk,
        reason="short pick at L1",
    )

    damaged = ReturnReason.objects.update_or_create(code="damaged", defaults={"label": "Damaged"})[
        0
    ]
    too_big = ReturnReason.objects.update_or_create(code="too_big", defaults={"label": "Too big"})[
        0
    ]
    r1 = ReturnRequest.objects.create(number="R1", order=o1, status="received", source="staff")
    ReturnLine.objects.create(
        return_request=r1,
        order_line=o1s1,
        quantity=1,
        reason=damaged,
        quantity_received=1,
        quantity_damaged=1,
        quantity_written_off=1,
    )
    ReturnLine.objects.create(
        return_request=r1,
        order_line=o1s2,
        quantity=1,
        reason=too_big,
        quantity_received=1,
        quantity_sellable=1,
        quantity_restocked=1,
    )
    r2 = ReturnRequest.objects.create(number="R2", order=o2, status="requested", source="shopper")
    ReturnLine.objects.create(return_request=r2, order_line=o2s1, quantity=1, reason=damaged)
    for order, amount, currency, status, day in (
        (o2, "10.00", "USD", "succeeded", D2),
        (o1, "20.00", "EUR", "succeeded", D3),
        (o1, "5.00", "EUR", "failed", D3),
    ):
        refund = Refund.objects.create(
            order=order, amount=Decimal(amount), currency=currency, status=status
        )
        _stamp(Refund, refund, created_at=at(day, 15))

    for day, status, failed in ((D1, "succeeded", 0), (D1, "partial", 2), (D2, "failed", 0)):
        run = ChannelSyncRun.objects.create(
            channel=web, trigger="schedule", status=status, failed=failed
        )
        _stamp(ChannelSyncRun, run, started_at=at(day, 6), finished_at=at(day, 6, 1))
    for n, status in enumerate(("failed", "succeeded")):
        push = ChannelPush.objects.create(
            channel=web, kind="stock", reference=f"p{n}", status=status
        )
        _stamp(ChannelPush, push, created_at=at(D1, 7))
    return {
        "web": web,
        "shop": shop,
        "l1": l1,
        "l2": l2,
        "s1": s1,
        "s2": s2,
        "orders": {"o1": o1, "o2": o2, "o3": o3, "o4": o4, "o5": o5},
    }
