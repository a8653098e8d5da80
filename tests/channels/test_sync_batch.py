"""A sync page's new orders are captured together (channels.services.sync.page_capture,
orders.services.capture_batch) exactly as one at a time, in a constant number of statements."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels.adapters.base import OrderPage
from channels.models import ChannelOrderState
from channels.services import sync
from oms.models import OutboxMessage
from orders.models import FraudRule, Order, OrderEvent
from orders.services.capture import channel_by_code
from tests.channels.test_sync import FakeAdapter, record, shop
from tests.fulfilment.conftest import network, put

__all__ = ["network", "shop"]


def snapshot(o: Order) -> dict[str, Any]:
    return {
        "number": o.number == str(100000 + o.pk),
        "search_text": o.search_text.replace(o.number, "N")
        .replace(o.external_id.lower(), "x")
        .replace(o.email, "E"),
        "fields": (o.status, o.is_on_hold, o.total, o.subtotal, o.email.split("@")[-1], o.currency),
        "customer": (o.customer.first_name, o.customer.last_name) if o.customer else None,
        "lines": [
            (ln.sku_code, ln.quantity, ln.quantity_allocated, ln.line_total, ln.sku_id)
            for ln in o.lines.order_by("line_number")
        ],
        "holds": sorted((h.reason, h.note) for h in o.holds.all()),
        "events": [
            (e.kind, e.actor)
            for e in OrderEvent.objects.filter(order=o).order_by("pk")
            if e.kind != "channel_updated"
        ],
        "state": ChannelOrderState.objects.filter(order=o).count(),
        "outbox": sorted(m.task for m in OutboxMessage.objects.filter(kwargs__order_id=o.pk)),
    }


def variants(prefix: str) -> list[Any]:
    return [
        record(
            f"{prefix}1", customer={"email": f"shared-{prefix}@example.com", "first_name": "Ada"}
        ),
        record(
            f"{prefix}2",
            customer={"email": f"shared-{prefix}@example.com", "last_name": "Lovelace"},
        ),
        record(f"{prefix}3", lines=[{"sku": "NOPE", "quantity": 1, "unit_price": "1.00"}]),
        record(f"{prefix}4", payment_status="pending", total="99.00"),
        record(f"{prefix}5", lines=[{"sku": "A", "quantity": 2, "unit_price": "10.00"}]),
        record(f"{prefix}6", shipping_address={"country": "FR", "name": "X", "city": "Lyon"}),
    ]


def test_a_page_is_captured_as_one_order_at_a_time_would(shop):
    FraudRule.objects.create(channel=shop, kind="first_order_abroad", home_country="DE")
    one_by_one = variants("S")
    for r in one_by_one:
        assert sync.channel_order_upsert(channel=shop, record=r) == "created"
    run = sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=variants("B"))]))
    assert (run.created, run.failed) == (6, 0)
    for n in range(1, 7):
        single = snapshot(Order.objects.get(external_id=f"S{n}"))
        batched = snapshot(Order.objects.get(external_id=f"B{n}"))
        assert batched == single, n


def test_a_bad_record_falls_back_to_one_at_a_time_and_is_stored_as_a_failure(shop):
    page = OrderPage(
        orders=[record("1"), record("2", lines=[{"sku": "A", "quantity": -1}]), record("3")]
    )
    run = sync.channel_sync(channel=shop, adapter=FakeAdapter([page]))
    assert (run.status, run.created, run.failed) == ("partial", 2, 1)
    assert set(Order.objects.values_list("external_id", flat=True)) == {"1", "3"}


def test_known_orders_and_repeats_in_a_page_take_the_update_path(shop):
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[record("1")])]))
    page = OrderPage(orders=[record("1"), record("2"), record("2", 5, payment_status="refunded")])
    run = sync.channel_sync(channel=shop, adapter=FakeAdapter([page]))
    assert (run.created, run.updated, run.unchanged, run.failed) == (1, 1, 1, 0)
    assert Order.objects.get(external_id="2").payment_status == "refunded"
    assert Order.objects.count() == 2


def _page_statements(shop, network, n: int, start: int) -> list[str]:
    records = [record(f"P{start + i}") for i in range(n)]
    run = sync.ChannelSyncRun.objects.create(channel=shop, trigger="manual")
    channel_by_code(shop.code)  # outside a transaction: the reference data is current again
    with CaptureQueriesContext(connection) as queries:
        sync.page_store(channel=shop, run=run, page=OrderPage(orders=records))
    assert run.created == n
    assert set(
        Order.objects.filter(external_id__startswith="P").values_list("status", flat=True)
    ) == {"allocated"}
    return [q["sql"] for q in queries.captured_queries]


@pytest.mark.django_db(transaction=True)  # reference data is cached outside a test's transaction
def test_a_page_costs_the_same_statements_whatever_its_size(shop, network):
    put(network, "BER", "A", 1000)
    _page_statements(shop, network, 2, 0)  # warms the reference data
    # SQLite's INSERTs are cut at 999 parameters: its pages stay below that.
    small, large = (10, 40) if connection.vendor == "postgresql" else (5, 20)
    for n, start in ((small, 100), (large, 200)):
        statements = _page_statements(shop, network, n, start)
        listing = "\n".join(f"{i}. {sql[:200]}" for i, sql in enumerate(statements, 1))
        # The routing batch's integrator events are one outbox INSERT more (webhooks/), which
        # PostgreSQL pays for with one UPDATE of the lines and orders; SQLite cannot: +1.
        assert len(statements) == (27 if connection.vendor == "postgresql" else 29), listing
