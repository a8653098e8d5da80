"""Delivered orders complete once their return window has closed (the beat task
`returns.orders_complete`): with a fake clock (`now`), before and after the window, an open
return or a hold keeps the order delivered, running twice does nothing more, each channel's
window counts, batches are bounded, and two runs at once complete each order once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from fulfilment.models import Shipment
from fulfilment.services import shipment_deliver
from oms.celery import app as celery_app
from orders.models import Order, OrderEvent
from orders.services import order_hold, order_release
from returns import services
from returns.selectors import orders_past_return_window, return_window
from tests.fulfilment.conftest import order, put
from tests.returns.conftest import ship_all

ARRIVED = timezone.now().replace(microsecond=0) - timedelta(days=400)
WINDOW = timedelta(days=30)  # the channel's default


def delivered(network, *, arrived=ARRIVED, lines=None) -> Order:
    """A paid order, shipped and delivered at `arrived`."""
    for sku in lines or {"A": 1}:
        put(network, "BER", sku, 5)
    o = ship_all(order("HAMBURG", lines or {"A": 1}))
    for shipment in Shipment.objects.filter(order=o):
        shipment_deliver(shipment=shipment)
    Shipment.objects.filter(order=o).update(
        shipped_at=arrived - timedelta(days=2), delivered_at=arrived
    )
    o.refresh_from_db()
    assert o.status == "delivered"
    return o


def complete(now, **kwargs) -> int:
    return services.orders_complete_after_return_window(now=now, **kwargs)


def status(o: Order) -> str:
    o.refresh_from_db()
    return o.status


def completions(o: Order) -> list[OrderEvent]:
    return list(OrderEvent.objects.filter(order=o, kind="status_changed", data__to="completed"))


def test_an_order_completes_only_once_its_window_has_closed(network, reasons):
    o = delivered(network)
    closes = return_window(o).closes_at
    assert closes == ARRIVED + WINDOW
    assert complete(closes - timedelta(days=1)) == 0
    assert complete(closes) == 0  # the last moment of the window: still open
    assert status(o) == "delivered"
    assert complete(closes + timedelta(seconds=1)) == 1
    assert status(o) == "completed"
    [event] = completions(o)
    assert event.actor == "system"
    assert event.data["from"] == "delivered"


def test_the_sql_rule_agrees_with_the_return_window_at_its_edge(network, reasons):
    o = delivered(network)
    window = return_window(o)
    for moment in (
        window.closes_at - timedelta(microseconds=1),
        window.closes_at,
        window.closes_at + timedelta(microseconds=1),
    ):
        assert (o.pk in orders_past_return_window(now=moment)) == (not window.is_open(moment))


def test_running_twice_does_nothing_more(network, reasons):
    o = delivered(network)
    later = ARRIVED + WINDOW + timedelta(days=1)
    assert complete(later) == 1
    assert complete(later) == 0
    assert complete(later + timedelta(days=100)) == 0
    assert len(completions(o)) == 1


def test_an_open_return_keeps_the_order_delivered_until_it_is_settled(network, reasons):
    o = delivered(network, lines={"A": 2})
    line = o.lines.get()
    ret = services.return_create(
        order=o,
        lines=[{"order_line": line.pk, "quantity": 1, "reason": "changed_mind"}],
        override_reason="goodwill",
    )
    later = ARRIVED + WINDOW + timedelta(days=1)
    assert complete(later) == 0  # requested
    services.return_authorise(return_request=ret)
    assert complete(later) == 0  # authorised
    assert status(o) == "delivered"
    services.return_cancel(return_request=ret)
    assert complete(later) == 1
    assert status(o) == "completed"


@pytest.mark.parametrize("end", ["rejected", "completed"])
def test_a_settled_return_lets_the_order_complete(network, reasons, end):
    o = delivered(network, lines={"A": 1})
    line = o.lines.get()
    ret = services.return_create(
        order=o,
        lines=[{"order_line": line.pk, "quantity": 1, "reason": "damaged"}],
        override_reason="late parcel",
    )
    later = ARRIVED + WINDOW + timedelta(days=1)
    if end == "rejected":
        services.return_reject(return_request=ret)
    else:
        services.return_authorise(return_request=ret)
        services.return_receive(
            return_request=ret,
            location="BER",
            lines=[{"order_line": line.pk, "quantity": 1, "condition": "sellable"}],
        )
        assert complete(later) == 0  # received, not refunded yet
        services.return_refund(return_request=ret)
    assert complete(later) == 1


def test_a_held_order_waits_for_its_release(network, reasons):
    o = delivered(network)
    order_hold(order=o, reason="customer_care", note="parcel damaged?")
    later = ARRIVED + WINDOW + timedelta(days=1)
    assert complete(later) == 0
    order_release(order=o)
    assert complete(later) == 1


def test_each_channel_counts_its_own_window(network, reasons):
    network["channel"].return_window_days = 14
    network["channel"].save(update_fields=["return_window_days"])
    o = delivered(network)
    assert complete(ARRIVED + timedelta(days=14)) == 0
    assert complete(ARRIVED + timedelta(days=14, seconds=1)) == 1
    assert status(o) == "completed"


def test_orders_not_delivered_are_left_alone(network, reasons):
    put(network, "BER", "A", 5)
    shipped = ship_all(order("HAMBURG", {"A": 1}))
    Shipment.objects.filter(order=shipped).update(shipped_at=ARRIVED)
    assert complete(ARRIVED + WINDOW * 10) == 0
    assert status(shipped) == "shipped"


def test_batches_are_bounded_and_the_next_run_goes_on(network, reasons):
    orders = [delivered(network) for _ in range(5)]
    later = ARRIVED + WINDOW + timedelta(days=1)
    assert complete(later, batch_size=2, max_batches=2) == 4
    assert [status(o) for o in orders].count("completed") == 4
    assert complete(later, batch_size=2, max_batches=2) == 1
    assert {status(o) for o in orders} == {"completed"}


def test_the_beat_runs_the_task(network, reasons):
    o = delivered(network)  # delivered 400 days ago: its window closed long since
    entries = {e["task"]: e for e in celery_app.conf.beat_schedule.values()}
    assert "returns.orders_complete" in entries
    assert celery_app.tasks["returns.orders_complete"]() == 1
    assert status(o) == "completed"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_complete_each_order_once(network, reasons):
    orders = [delivered(network) for _ in range(6)]
    later = ARRIVED + WINDOW + timedelta(days=1)
    barrier = threading.Barrier(3)
    counts: list[int] = []

    def run() -> None:
        try:
            barrier.wait()
            counts.append(complete(later, batch_size=2))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 6
    assert {status(o) for o in orders} == {"completed"}
    assert [len(completions(o)) for o in orders] == [1] * 6
