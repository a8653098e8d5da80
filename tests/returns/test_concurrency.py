"""Returns under concurrency (run them on PostgreSQL too): two shoppers' requests for the same
units, and the exchange order asked for twice at once, never give more than one."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from oms.errors import ValidationFailed
from orders.models import Order
from returns import services
from returns.models import ReturnRequest
from returns.states import ReturnSource
from tests.fulfilment.conftest import put


def race(count: int, attempt: Callable[[], object]) -> list[str]:
    barrier = threading.Barrier(count)
    outcomes: list[str] = []

    def run() -> None:
        try:
            barrier.wait()
            attempt()
            outcomes.append("ok")
        except ValidationFailed as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_never_return_more_than_shipped(shipped):
    o, lines = shipped
    outcomes = race(
        6,
        lambda: services.return_create(
            order=o.pk,
            lines=[{"order_line": lines["A"].pk, "quantity": 1, "reason": "wrong_size"}],
            source=ReturnSource.SHOPPER,
        ),
    )
    assert outcomes.count("ok") == 2  # A shipped twice
    assert outcomes.count("invalid") == 4
    assert ReturnRequest.objects.filter(order=o).count() == 2
    numbers = set(ReturnRequest.objects.values_list("number", flat=True))
    assert numbers == {f"{o.number}-R1", f"{o.number}-R2"}


@pytest.mark.django_db(transaction=True)
def test_the_exchange_order_asked_for_at_once_is_one_order(shipped, network):
    o, lines = shipped
    put(network, "BER", "A", 5)
    ret = services.return_create(
        order=o,
        lines=[{"order_line": lines["A"].pk, "quantity": 1, "reason": "wrong_size"}],
        authorise=True,
        exchange=True,
    )
    outcomes = race(4, lambda: services.return_exchange_order_create(return_request=ret.pk))
    assert outcomes == ["ok"] * 4
    replacement = Order.objects.get(external_id=f"{ret.number}-X")
    ret.refresh_from_db()
    assert ret.exchange_order_id == replacement.pk
    assert o.events.filter(kind="exchange_order_created").count() == 1
