"""Capture under concurrency: real threads post the same order (one order, one customer) or
different orders of one new customer (one customer).

On PostgreSQL the threads run in parallel and the unique constraints decide; on SQLite the
IMMEDIATE transactions serialise them. Either way nothing raises and nothing is duplicated.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest
from django.db import connections

from orders.models import Customer, Order, OrderEvent, OrderLine
from orders.services import order_capture
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
