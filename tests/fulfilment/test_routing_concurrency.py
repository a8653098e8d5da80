"""Many orders compete for the last units in parallel: none oversells, each order ends up
allocated or backordered, and the ledger equals the levels."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from fulfilment.models import Shipment
from fulfilment.services import order_route
from inventory.models import StockLevel
from inventory.selectors import ledger_drift
from orders.models import Order
from tests.fulfilment.conftest import order, put

ORDERS = 16
THREADS = 8


@pytest.mark.django_db(transaction=True)
def test_orders_competing_for_the_last_units(network):
    put(network, "BER", "A", 3)
    put(network, "MUC", "A", 2)
    orders = [order("HAMBURG", {"A": 1}) for _ in range(ORDERS)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def work(chunk: list[int]) -> None:
        try:
            barrier.wait()
            for order_id in chunk:
                order_route(order_id=order_id, trigger="test")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    ids = [o.pk for o in orders]
    threads = [threading.Thread(target=work, args=(ids[i::THREADS],)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    statuses = list(Order.objects.values_list("status", flat=True))
    assert statuses.count("allocated") == 5
    assert statuses.count("backordered") == ORDERS - 5
    for code in ("BER", "MUC"):
        level = StockLevel.objects.get(sku__code="A", location__code=code)
        assert level.reserved == level.on_hand
    assert Shipment.objects.count() == 5
    assert ledger_drift() == []
