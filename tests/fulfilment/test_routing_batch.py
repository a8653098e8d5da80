"""Batch routing (fulfilment.services.routing_batch) decides exactly as routing each order
alone in the same order, and costs a constant number of statements whatever the batch's size."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fulfilment.models import RoutingDecision, Shipment
from fulfilment.services import order_route
from fulfilment.services.routing_batch import backorders_reroute, orders_route_batch
from inventory.models import Reservation, StockLevel, StockMovement
from inventory.selectors import ledger_drift
from orders.models import Order, OrderEvent, OrderHold
from tests.factories import SkuFactory
from tests.fulfilment.conftest import order, put
from tests.fulfilment.test_routing import rule


def held_orders(specs: list[tuple[str, dict[str, int]]]) -> list[int]:
    """Capture orders that routing does not reach (payment pending), then lift their holds
    with plain UPDATEs (nothing routes them): ready to be routed in a chosen way."""
    ids = [order(city, lines, payment_status="pending").pk for city, lines in specs]
    OrderHold.objects.filter(order_id__in=ids).update(released_at=timezone.now())
    Order.objects.filter(pk__in=ids).update(is_on_hold=False)
    return ids


def snapshot(ids: list[int]) -> dict[str, Any]:
    """Everything routing writes, by natural keys (ids of decisions aside)."""
    orders = {}
    for o in Order.objects.filter(pk__in=ids).order_by("pk"):
        events = []
        for e in OrderEvent.objects.filter(order=o, kind__in=ROUTING_EVENTS).order_by("pk"):
            data = {k: v for k, v in e.data.items() if k != "decision"}
            events.append((e.kind, e.actor, data))
        orders[o.external_id] = {
            "status": o.status,
            "held": o.is_on_hold,
            "holds": sorted((h.reason, h.note) for h in o.holds.filter(released_at__isnull=True)),
            "lines": [(ln.sku_code, ln.quantity_allocated) for ln in o.lines.order_by("pk")],
            "reservations": sorted(
                (r.order_line_id, r.location.code, r.quantity)
                for r in Reservation.objects.filter(order_id=o.pk).select_related("location")
            ),
            "decisions": [
                (d.trigger, d.outcome, _without_ids(d.explanation))
                for d in RoutingDecision.objects.filter(order=o).order_by("pk")
            ],
            "shipments": sorted(
                (
                    s.location.code,
                    s.status,
                    str(s.expected_ship_date),
                    sorted((ln.order_line.sku_code, ln.quantity) for ln in s.lines.all()),
                )
                for s in Shipment.objects.filter(order=o)
            ),
            "events": events,
        }
    levels = sorted(
        (lv.sku.code, lv.location.code, lv.on_hand, lv.reserved)
        for lv in StockLevel.objects.select_related("sku", "location")
    )
    movements = sorted(
        (m.kind, m.sku_id, m.location_id, m.reserved_delta, m.order_line_id is not None)
        for m in StockMovement.objects.all()
    )
    return {"orders": orders, "levels": levels, "movements": movements}


ROUTING_EVENTS = ("allocated", "status_changed", "routed", "hold_placed")


def _without_ids(explanation: dict[str, Any]) -> dict[str, Any]:
    short = [{"quantity": s["quantity"]} for s in explanation.get("short", [])]
    return {**explanation, "short": short}


def both_ways(ids: list[int], **batch: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The snapshot after routing the orders one by one, then (rolled back) as one batch."""
    point = transaction.savepoint()
    for pk in ids:
        order_route(order_id=pk, trigger="released")
    one_by_one = snapshot(ids)
    transaction.savepoint_rollback(point)
    orders_route_batch(order_ids=ids, trigger="released", **batch)
    batched = snapshot(ids)
    assert ledger_drift() == []
    return one_by_one, batched


def test_orders_competing_for_stock_decide_as_one_by_one(network):
    put(network, "BER", "A", 3)
    put(network, "MUC", "A", 2)
    put(network, "MUC", "B", 4)
    put(network, "PAR", "B", 2)
    put(network, "PAR", "C", 1)
    ids = held_orders(
        [
            ("HAMBURG", {"A": 2}),  # BER, single
            ("HAMBURG", {"A": 2, "B": 1}),  # BER has only 1 A left now: MUC has both
            ("BERLIN", {"A": 2, "C": 1}),  # split or partial on what the others left
            ("MUNICH", {"B": 5}),  # partial: backordered
            ("LYON", {"C": 2}),  # nothing left: backordered without an allocation
            ("HAMBURG", {"A": 1}),
        ]
    )
    one_by_one, batched = both_ways(ids)
    assert batched == one_by_one
    statuses = [o["status"] for o in batched["orders"].values()]
    assert "allocated" in statuses
    assert "backordered" in statuses


def test_rules_capacity_holds_and_untracked_skus_decide_as_one_by_one(network):
    rule(network, "exclude", ["BER"], countries="FR")
    rule(network, "splits", on_shortage="hold", countries="GB")
    network["locations"]["MUC"].daily_capacity = 1
    network["locations"]["MUC"].save()
    SkuFactory(code="GIFT", track_inventory=False)
    put(network, "BER", "A", 2)
    put(network, "MUC", "A", 5)
    put(network, "MUC", "B", 5)
    put(network, "PAR", "B", 1)
    ids = held_orders(
        [
            ("MUNICH", {"B": 1}),  # MUC: its one shipment of the day
            ("MUNICH", {"A": 1, "GIFT": 1}),  # MUC is full now: BER
            ("LYON", {"A": 3}),  # BER excluded for FR, MUC full: nothing
            ("LONDON", {"A": 9}),  # short, held for customer care
            ("BERLIN", {"B": 1}),  # PAR's last B
        ]
    )
    one_by_one, batched = both_ways(ids)
    assert batched == one_by_one
    assert batched["orders"][Order.objects.get(pk=ids[3]).external_id]["held"]


def test_a_backorder_served_again_joins_its_pending_shipment_as_one_by_one(network):
    put(network, "BER", "A", 1)
    ids = held_orders([("HAMBURG", {"A": 3, "B": 1}), ("HAMBURG", {"A": 1})])
    for pk in ids:
        order_route(order_id=pk, trigger="released")  # first partially allocated, then none
    put(network, "BER", "A", 2)
    put(network, "BER", "B", 1)
    put(network, "MUC", "A", 1)
    one_by_one, batched = both_ways(ids)
    assert batched == one_by_one


def test_held_and_closed_orders_are_not_routed(network):
    put(network, "BER", "A", 5)
    ids = held_orders([("HAMBURG", {"A": 1}), ("HAMBURG", {"A": 1})])
    Order.objects.filter(pk=ids[0]).update(is_on_hold=True)
    Order.objects.filter(pk=ids[1]).update(status="cancelled")
    assert orders_route_batch(order_ids=ids, trigger="released") == {}
    assert not Reservation.objects.exists()


def test_backorders_reroute_serves_as_before(network):
    ids = held_orders([("HAMBURG", {"A": 2}), ("BERLIN", {"A": 2, "B": 1}), ("LYON", {"B": 1})])
    for pk in ids:
        order_route(order_id=pk, trigger="released")
    assert set(Order.objects.values_list("status", flat=True)) == {"backordered"}
    put(network, "BER", "A", 3)
    assert backorders_reroute(sku_ids=[network["skus"]["A"].pk]) == 2
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses[ids[0]] == "allocated"
    assert statuses[ids[1]] == "backordered"  # 1 A and no B: partially allocated
    assert statuses[ids[2]] == "backordered"  # waits for B only: not attempted
    assert not RoutingDecision.objects.filter(order_id=ids[2], trigger="stock_arrived").exists()
    assert ledger_drift() == []


def _statements(network, n: int) -> list[str]:
    put(network, "BER", "A", 1000)
    put(network, "MUC", "B", 1000)
    ids = held_orders([("HAMBURG", {"A": 1, "B": 1}) for _ in range(n + 1)])
    orders_route_batch(order_ids=ids[:1], trigger="released")  # warms the reference data
    ids = ids[1:]
    with CaptureQueriesContext(connection) as queries:
        decisions = orders_route_batch(order_ids=ids, trigger="released")
    assert len(decisions) == n
    return [q["sql"] for q in queries.captured_queries]


@pytest.mark.django_db(transaction=True)  # reference data is cached outside a test's transaction
@pytest.mark.parametrize("n", [5, 20])
def test_a_batch_costs_the_same_statements_whatever_its_size(network, n):
    statements = _statements(network, n)
    # The batch's integrator events are one outbox INSERT (webhooks/); on PostgreSQL the lines'
    # and orders' UPDATEs are one statement (oms.sql.rows_update_many): SQLite, without
    # data-modifying CTEs, pays that INSERT (+1).
    expected = 13 if connection.vendor == "postgresql" else 15
    listing = "\n".join(f"{i}. {sql[:300]}" for i, sql in enumerate(statements, 1))
    assert len(statements) == expected, listing
