"""Capture under concurrency: real threads post the same order (one order, one customer) or
different orders of one new customer (one customer).

On PostgreSQL the threads run in parallel and the unique constraints decide; on SQLite the
IMMEDIATE transactions serialise them. Either way nothing raises and nothing is duplicated.

Stock under concurrency (PostgreSQL): orders sharing SKUs and locations, with their lines in
opposite orders, ship, cancel and deallocate at the same time without deadlocking.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connections

from inventory import services as stock
from inventory.models import Reservation, StockLevel
from inventory.selectors import ledger_drift
from orders import services
from orders.models import Customer, Order, OrderEvent, OrderLine
from orders.services import order_capture
from tests.factories import LocationFactory, SkuFactory
from tests.orders.conftest import PAYLOAD

THREADS = 10


def run_in_threads(
    payloads: list[dict[str, Any]],
) -> tuple[list[tuple[int, bool]], list[BaseException]]:
    """Capture each payload in its own thread, all released at once."""
    barrier = threading.Barrier(len(payloads))
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(payload: dict[str, Any]) -> None:
        try:
            data = copy.deepcopy(payload)
            barrier.wait(timeout=30)
            result = order_capture(channel=data.pop("channel"), **data)
            with lock:
                results.append((result.order.pk, result.created))
        except BaseException as exc:  # every failure is reported by the test
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a capture hung"
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_ten_threads_posting_the_same_order_give_one_order(catalogue):
    results, errors = run_in_threads([PAYLOAD] * THREADS)
    assert errors == []
    assert len(results) == THREADS
    assert Order.objects.count() == 1
    assert Customer.objects.count() == 1
    order = Order.objects.get()
    assert {pk for pk, _ in results} == {order.pk}
    assert [created for _, created in results].count(True) == 1
    assert OrderLine.objects.filter(order=order).count() == 2
    assert OrderEvent.objects.filter(order=order, kind="captured").count() == 1
    assert order.customer.email == "anna.schmidt@example.com"


@pytest.mark.django_db(transaction=True)
def test_ten_threads_capturing_orders_of_one_new_customer_give_one_customer(catalogue):
    payloads = []
    for index in range(THREADS):
        payload = copy.deepcopy(PAYLOAD)
        payload["external_id"] = f"C-{index}"
        # The same new shopper, spelt in different cases.
        payload["customer"]["email"] = (
            "New.Shopper@Example.com" if index % 2 else "new.shopper@example.com"
        )
        payloads.append(payload)
    results, errors = run_in_threads(payloads)
    assert errors == []
    assert len(results) == THREADS
    assert all(created for _, created in results)
    assert len({pk for pk, _ in results}) == THREADS
    assert Order.objects.count() == THREADS
    customer = Customer.objects.get()
    assert customer.email == "new.shopper@example.com"
    assert set(Order.objects.values_list("customer_id", flat=True)) == {customer.pk}
    assert OrderLine.objects.count() == 2 * THREADS


ROUNDS = 30
OPERATIONS = ("ship", "cancel", "deallocate")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_orders_sharing_skus_ship_and_cancel_concurrently_without_deadlock(
    catalogue, capture_order
):
    """Four threads, two of each line order, act on their own orders in lockstep rounds.

    Every order holds the same eight levels (four SKUs at two locations), one unit each; the
    threads of one shape list them TEE, MUG, CAP, HAT and the others HAT, CAP, MUG, TEE. Locking
    stock line by line, in the order of the lines, deadlocks here within a few rounds.
    """
    wh, store = catalogue["wh"], LocationFactory(code="STORE")
    skus = [catalogue["tee"], catalogue["mug"], SkuFactory(code="CAP-1"), SkuFactory(code="HAT-1")]
    start = ROUNDS * 4 + 20
    for sku in skus:
        for location in (wh, store):
            on_hand = StockLevel.objects.filter(sku=sku, location=location).first()
            topup = start - (on_hand.on_hand if on_hand else 0)
            stock.stock_adjust(sku=sku, location=location, kind="receipt", quantity=topup)
    shapes = [[s.code for s in skus], [s.code for s in reversed(skus)]]
    threads_orders: list[list[tuple[Any, list[tuple[int, int, int]]]]] = []
    for index in range(4):
        orders = []
        for _ in range(ROUNDS):
            order = capture_order(
                lines=[
                    {"sku": code, "quantity": 2, "unit_price": "5.00", "discount": "0", "tax": "0"}
                    for code in shapes[index % 2]
                ]
            )
            triples = [
                (ln.pk, location.pk, 1)
                for ln in order.lines.order_by("line_number")
                for location in (wh, store)
            ]
            order = services.order_allocate(order=order, allocations=triples)
            orders.append((order, triples))
        threads_orders.append(orders)

    barrier = threading.Barrier(len(threads_orders))
    errors: list[BaseException] = []
    done: Counter[str] = Counter()
    lock = threading.Lock()

    def worker(index: int) -> None:
        try:
            for number, (order, triples) in enumerate(threads_orders[index]):
                # Every pair of operations meets: one shape changes operation each round, the
                # other every three rounds.
                operation = OPERATIONS[(number // 3 ** (index % 2)) % 3]
                barrier.wait(timeout=60)
                if operation == "ship":
                    services.order_ship(order=order.pk, shipped=triples)
                elif operation == "cancel":
                    services.order_cancel(order=order.pk, reason="test")
                else:
                    services.order_deallocate(order=order.pk, allocations=triples)
                with lock:
                    done[operation] += 1
        except BaseException as exc:  # a deadlock fails the test
            with lock:
                errors.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(threads_orders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"

    assert errors == []
    assert sum(done.values()) == ROUNDS * len(threads_orders)
    shipped = done["ship"]  # each shipped order took one unit of every level
    for sku in skus:
        for location in (wh, store):
            level = StockLevel.objects.get(sku=sku, location=location)
            assert (level.on_hand, level.reserved) == (start - shipped, 0)
    assert not Reservation.objects.filter(quantity__gt=0).exists()
    assert ledger_drift() == []
