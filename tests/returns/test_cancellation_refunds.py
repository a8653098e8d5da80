"""Cancelling a paid order uses the refund service: once the cancellation commits, a task
refunds the cancelled units' value, once per cancellation (also when the event is delivered
twice); the refund is executed by the refund task like every other."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms import events
from orders.events import OrderCancelled
from orders.models import Order
from orders.services import order_cancel
from returns import services
from returns.models import Refund
from returns.states import RefundStatus
from tests.fulfilment.conftest import order, put


@pytest.fixture
def paid(network, reasons, eager):
    """A paid, allocated order of 2 A and 1 B (10.00 each) with 4.90 shipping; tasks run."""
    put(network, "BER", "A", 5)
    put(network, "BER", "B", 5)
    o = order("HAMBURG", {"A": 2, "B": 1}, shipping_price="4.90")
    lines = {ln.sku_code: ln for ln in o.lines.all()}
    return o, lines


def test_cancelling_a_paid_order_refunds_it_all_with_shipping(
    paid, django_capture_on_commit_callbacks
):
    o, _ = paid
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=o, reason="customer asked", actor="care")
    refund = Refund.objects.get(order=o)
    assert refund.amount == Decimal("34.90")
    assert refund.actor == "care"
    assert refund.idempotency_key.startswith(f"cancel-{o.pk}-")
    assert "customer asked" in refund.reason
    # Executed by the refund task (enqueued after the refund's commit).
    assert refund.status == RefundStatus.SUCCEEDED
    o.refresh_from_db()
    assert o.payment_status == "refunded"
    kinds = list(o.events.values_list("kind", flat=True))
    assert kinds.index("cancelled") < kinds.index("refund_requested")


def test_nothing_is_refunded_before_the_cancellation_commits(paid):
    o, _ = paid
    order_cancel(order=o, reason="customer asked")  # the test's transaction never commits
    assert not Refund.objects.filter(order=o).exists()


def test_a_partial_cancellation_refunds_the_cancelled_units(
    paid, django_capture_on_commit_callbacks
):
    o, lines = paid
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=o, lines=[(lines["A"].pk, 1)], reason="out of stock")
    assert Refund.objects.get(order=o).amount == Decimal("10.00")
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=o, lines=[(lines["A"].pk, 1)], reason="out of stock")
    # Another cancellation of the same quantity is another refund.
    assert Refund.objects.filter(order=o).count() == 2


def test_the_same_cancellation_delivered_twice_is_one_refund(
    paid, django_capture_on_commit_callbacks
):
    o, lines = paid
    event = OrderCancelled(
        order_id=o.pk, line_quantities=((lines["B"].pk, 1),), full=False, reason="late"
    )
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=o, lines=[(lines["B"].pk, 1)], reason="late")
        events.publish(event)  # delivered again
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(event)  # and again, later
    assert Refund.objects.filter(order=o).count() == 1
    assert o.events.filter(kind="refund_requested").count() == 1


def test_the_refund_never_exceeds_what_is_left(paid, django_capture_on_commit_callbacks):
    o, _ = paid
    services.refund_create(order=o, amount=Decimal("30.00"), reason="goodwill")
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=o, reason="fraud")
    refund = Refund.objects.filter(order=o).order_by("pk").last()
    assert refund.amount == Decimal("4.90")  # 34.90 paid, 30.00 refunded already


def test_an_unpaid_order_is_cancelled_without_a_refund(
    network, reasons, eager, django_capture_on_commit_callbacks
):
    put(network, "BER", "A", 5)
    o = order("HAMBURG", {"A": 1}, payment_status="authorized")
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=o, reason="changed mind")
    assert not Refund.objects.filter(order=o).exists()
    assert Order.objects.get(pk=o.pk).status == "cancelled"
