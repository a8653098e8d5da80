"""Shipping, cancelling and deallocating change an order's stock rows together: one query locks
every StockLevel row in primary-key order and one UPDATE changes them, whatever the line count
(the house lock order, so two orders sharing SKUs cannot deadlock)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory import services as stock
from inventory.models import Reservation, StockLevel, StockMovement
from inventory.selectors import ledger_drift
from orders import services
from tests.factories import SkuFactory

CODES = ("TEE-1", "MUG-1", "CAP-1")


def table(name: str) -> str:
    return connection.ops.quote_name(name)


LEVELS = table(StockLevel._meta.db_table)
RESERVATIONS = table(Reservation._meta.db_table)
MOVEMENTS = table(StockMovement._meta.db_table)


@pytest.fixture
def allocated(catalogue, capture_order):
    """An order of `n` lines (TEE-1, MUG-1, CAP-1), 2 units each, all reserved at WH."""
    cap = SkuFactory(code="CAP-1")
    stock.stock_adjust(sku=cap, location=catalogue["wh"], kind="receipt", quantity=20)
    wh = catalogue["wh"].pk

    def make(n: int):
        order = capture_order(
            lines=[
                {"sku": code, "quantity": 2, "unit_price": "5.00", "discount": "0", "tax": "0"}
                for code in CODES[:n]
            ]
        )
        lines = list(order.lines.order_by("line_number"))
        services.order_allocate(order=order, allocations=[(ln.pk, wh, 2) for ln in lines])
        return order, [(ln.pk, wh, 2) for ln in lines]

    return make


def run(operation: str, order, triples) -> None:
    if operation == "ship":
        services.order_ship(order=order, shipped=triples, shipment_id=None)
    elif operation == "cancel":
        services.order_cancel(order=order, reason="test")
    else:
        services.order_deallocate(order=order, allocations=triples, reason="test")


def statements(queries) -> Counter[str]:
    """How many statements of each kind touch the stock tables."""
    seen: Counter[str] = Counter()
    for query in queries:
        sql = query["sql"]
        if sql.startswith(f"UPDATE {LEVELS} "):
            seen["update levels"] += 1
        elif sql.startswith("SELECT") and f"FROM {LEVELS}" in sql:
            seen["lock levels" if sql.endswith(" FOR UPDATE") else "select levels"] += 1
        elif LEVELS in sql:
            seen["other levels"] += 1
        elif sql.startswith(f"UPDATE {RESERVATIONS} "):
            seen["update reservations"] += 1
        elif sql.startswith(f"INSERT INTO {MOVEMENTS} "):
            seen["insert movements"] += 1
    return seen


@pytest.mark.django_db
@pytest.mark.parametrize("operation", ["ship", "cancel", "deallocate"])
def test_an_order_changes_its_stock_levels_in_one_locked_statement(allocated, operation):
    # On SQLite the IMMEDIATE transaction already holds the write lock; FOR UPDATE is dropped.
    lock = "lock levels" if connection.features.has_select_for_update else "select levels"
    counts = {}
    for n in (1, 3):
        order, triples = allocated(n)
        with CaptureQueriesContext(connection) as captured:
            run(operation, order, triples)
        assert statements(captured.captured_queries) == {
            lock: 1,
            "update levels": 1,
            "update reservations": 1,
            "insert movements": 1,
        }
        [select] = [q["sql"] for q in captured.captured_queries if f"FROM {LEVELS}" in q["sql"]]
        # Django orders values_list() by the column's position: the primary key comes first.
        assert select.startswith(f"SELECT {LEVELS}.{table('id')} ")
        assert re.search(rf"ORDER BY (1|{re.escape(LEVELS)}\.{table('id')}) ASC", select)
        counts[n] = len(captured.captured_queries)
    assert counts[3] == counts[1]  # nothing per line any more, anywhere in the command
    assert not StockLevel.objects.filter(reserved__gt=0).exists()
    assert ledger_drift() == []
