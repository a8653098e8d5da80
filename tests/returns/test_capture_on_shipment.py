"""Capture on shipment: an authorised order is captured shipment by shipment, exactly what
shipped (a split order captures its total to the cent), what is cancelled is voided, a lost
answer is looked up and never captured twice, and payment_status follows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fulfilment.models import Shipment
from fulfilment.services import shipment_pack, shipment_pick, shipment_ship
from inventory.models import Channel
from oms.errors import PermanentError, TransientError
from orders.services import order_cancel, order_capture
from returns import services
from returns.models import Payment
from returns.payments import payment_provider_override
from tests.fulfilment.conftest import CITIES, put
from tests.outbox import run_outbox
from tests.returns.fakes import FakeCapturingProvider


@pytest.fixture
def psp(network, reasons):
    Channel.objects.filter(pk=network["channel"].pk).update(
        payment_provider="stripe", capture_on_shipment=True
    )
    fake = FakeCapturingProvider()
    payment_provider_override(fake)  # the autouse fake_payments fixture restores it
    return fake


def split_order(network, *, lines=None, external_id="SPLIT-1"):
    """An authorised order whose A ships from Berlin and B from Munich (two shipments), with
    prices that do not split evenly: A 3 x 9.99 less 0.01, B 2 x 7.35 with 1.40 tax."""
    put(network, "BER", "A", 10)
    put(network, "MUC", "B", 10)
    country, postal, city, lat, lon = CITIES["HAMBURG"]
    placed = order_capture(
        channel="web",
        external_id=external_id,
        currency="EUR",
        lines=lines
        or [
            {"sku": "A", "quantity": 3, "unit_price": "9.99", "discount": "0.01"},
            {"sku": "B", "quantity": 2, "unit_price": "7.35", "tax": "1.40"},
        ],
        customer={"email": "split@example.com"},
        shipping_address={
            "name": "S",
            "line1": "Street 1",
            "postal_code": postal,
            "city": city,
            "country": country,
            "latitude": lat,
            "longitude": lon,
        },
        shipping_price="4.95",
        payment_status="authorized",
    ).order
    services.payment_record(
        order=placed, kind="authorization", amount=placed.total, reference="pi_1"
    )
    return placed


def ship(shipment: Shipment, units: dict[int, int] | None = None) -> None:
    lines = [
        (ln.order_line_id, (units or {}).get(ln.order_line_id, ln.quantity))
        for ln in shipment.lines.all()
    ]
    shipment_pick(shipment=shipment, lines=lines)
    shipment_pack(shipment=shipment, parcels=[{"weight_grams": 500}])
    shipment_ship(shipment=shipment, carrier="dhl", tracking_number=f"T{shipment.pk}")


def captures(order) -> list[Decimal]:
    return list(
        Payment.objects.filter(order=order, kind="capture")
        .order_by("pk")
        .values_list("amount", flat=True)
    )


def test_a_split_order_captures_exactly_what_each_shipment_shipped(network, psp):
    placed = split_order(network)
    assert placed.total == Decimal("29.96") + Decimal("16.10") + Decimal("4.95")
    first, second = Shipment.objects.filter(order=placed).order_by("pk")
    ship(first)
    assert run_outbox("returns.payment_capture") == 1
    placed.refresh_from_db()
    assert placed.payment_status == "partially_paid"
    ship(second)
    assert run_outbox("returns.payment_capture") == 1
    amounts = captures(placed)
    assert len(amounts) == 2
    assert sum(amounts) == placed.total  # not a cent lost or invented
    assert amounts[0] == services.shipment_capture_amount(shipment_id=first.pk)
    assert sorted(psp.received.values()) == [placed.total]
    placed.refresh_from_db()
    assert placed.payment_status == "paid"
    # Run again (a redelivery): nothing is captured twice.
    assert services.payment_capture_shipment(shipment_id=first.pk).status == "succeeded"
    assert len(psp.captures) == 2


def test_units_of_one_line_shipped_in_goes_add_up_to_the_line(network, psp):
    placed = split_order(
        network,
        lines=[
            {"sku": "A", "quantity": 3, "unit_price": "3.33", "discount": "0.00", "tax": "0.01"}
        ],
    )
    [shipment] = Shipment.objects.filter(order=placed)
    line = shipment.lines.get()
    ship(shipment, {line.order_line_id: 1})  # a short pick: the rest is routed again
    run_outbox("returns.payment_capture")
    for again in Shipment.objects.filter(order=placed, status="pending"):
        ship(again)
    run_outbox("returns.payment_capture")
    assert sum(captures(placed)) == placed.total


def test_the_rest_of_a_cancelled_order_is_voided(network, psp):
    placed = split_order(network)
    first, _ = Shipment.objects.filter(order=placed).order_by("pk")
    ship(first)
    run_outbox("returns.payment_capture")
    b_line = placed.lines.get(sku_code="B")
    order_cancel(order=placed, lines=[(b_line.pk, 2)], reason="out of stock")
    assert run_outbox("returns.payment_void") == 1
    void = Payment.objects.get(order=placed, kind="void")
    assert void.amount == placed.total - sum(captures(placed))
    assert psp.voids == [void.key]
    placed.refresh_from_db()
    assert placed.payment_status == "paid"
    # A cancelled order that never shipped is voided whole.
    one = [{"sku": "A", "quantity": 1, "unit_price": "5.00"}]
    other = split_order(network, lines=one, external_id="SPLIT-2")
    order_cancel(order=other, reason="fraud")
    run_outbox("returns.payment_void")
    other.refresh_from_db()
    assert other.payment_status == "voided"
    assert not services.refundable_amount(other)


def test_a_lost_capture_answer_is_looked_up_and_never_captured_twice(network, psp):
    placed = split_order(network)
    first, _ = Shipment.objects.filter(order=placed).order_by("pk")
    ship(first)
    psp.lose_next_answer = True
    with pytest.raises(TransientError):
        services.payment_capture_shipment(shipment_id=first.pk)
    assert Payment.objects.get(order=placed, kind="capture").status == "pending"
    done = services.payment_capture_shipment(shipment_id=first.pk)
    assert done.status == "succeeded"
    assert len(psp.captures) == 1
    assert sum(psp.received.values()) == done.amount


def test_a_refused_capture_fails_on_the_timeline(network, psp):
    placed = split_order(network)
    first, _ = Shipment.objects.filter(order=placed).order_by("pk")
    ship(first)
    psp.fail_next = PermanentError("Stripe: the authorisation expired")
    done = services.payment_capture_shipment(shipment_id=first.pk)
    assert (done.status, done.failure_reason) == ("failed", "Stripe: the authorisation expired")
    assert placed.events.filter(kind="payment_capture_failed").count() == 1


def test_refunds_never_exceed_what_was_captured(network, psp):
    placed = split_order(network)
    first, _ = Shipment.objects.filter(order=placed).order_by("pk")
    ship(first)
    run_outbox("returns.payment_capture")
    captured = sum(captures(placed))
    assert services.refundable_amount(placed) == captured
    from oms.errors import Conflict

    with pytest.raises(Conflict):
        services.refund_create(order=placed, amount=captured + Decimal("0.01"))
    refund = services.refund_create(order=placed, amount=captured)
    services.refund_execute(refund=refund)
    placed.refresh_from_db()
    assert placed.payment_status == "partially_refunded"  # B is still to ship
