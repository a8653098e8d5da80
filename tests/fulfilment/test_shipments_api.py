"""Shipments and the delivery promise through the API; pick, pack, ship, cancel."""

from __future__ import annotations

import datetime as dt

import pytest

from fulfilment.models import Holiday, LocationSchedule, Shipment, TransitTime
from fulfilment.services import order_route
from inventory.models import StockLevel
from inventory.selectors import ledger_drift
from tests.fulfilment.conftest import order, put


@pytest.fixture
def routed(network):
    put(network, "BER", "A", 5)
    put(network, "BER", "B", 5)
    o = order("HAMBURG", {"A": 2, "B": 1})
    order_route(order_id=o.pk, trigger="test")
    return o, Shipment.objects.get(order=o)


def test_shipment_list_shows_lines_and_the_explanation(warehouse_api, routed):
    o, _shipment = routed
    rows = warehouse_api.get(f"/api/v1/shipments/?order={o.pk}").json()["results"]
    assert len(rows) == 1
    row = rows[0]
    assert row["location"] == "BER"
    assert row["status"] == "pending"
    assert {(ln["sku"], ln["quantity"]) for ln in row["lines"]} == {("A", 2), ("B", 1)}
    assert row["routing_explanation"]["choice"]["kind"] == "single"
    assert row["expected_delivery_date"] >= row["expected_ship_date"]


def test_pick_pack_ship_consumes_stock(warehouse_api, routed):
    o, shipment = routed
    lines = {ln.order_line.sku_code: ln.order_line_id for ln in shipment.lines.all()}
    url = f"/api/v1/shipments/{shipment.pk}"
    picked = warehouse_api.post(
        f"{url}/pick/",
        {
            "lines": [
                {"order_line": lines["A"], "quantity": 2},
                {"order_line": lines["B"], "quantity": 1},
            ]
        },
        format="json",
    )
    assert picked.status_code == 200, picked.json()
    assert picked.json()["status"] == "picking"
    packed = warehouse_api.post(f"{url}/pack/", {"parcels": [{"weight_grams": 900}]}, format="json")
    assert packed.json()["status"] == "packed"
    shipped = warehouse_api.post(
        f"{url}/ship/",
        {"carrier": "dhl", "service": "parcel", "tracking_number": "JD0001"},
        format="json",
    )
    assert shipped.status_code == 200, shipped.json()
    assert shipped.json()["tracking_number"] == "JD0001"
    o.refresh_from_db()
    assert o.status == "shipped"
    level = StockLevel.objects.get(sku__code="A", location__code="BER")
    assert (level.on_hand, level.reserved) == (3, 0)
    found = warehouse_api.get("/api/v1/orders/?search=jd0001")
    assert found.status_code in (200, 403)  # warehouse may only view orders
    assert ledger_drift() == []


def test_picking_more_than_allocated_is_409(warehouse_api, routed):
    _, shipment = routed
    line = shipment.lines.first()
    response = warehouse_api.post(
        f"/api/v1/shipments/{shipment.pk}/pick/",
        {"lines": [{"order_line": line.order_line_id, "quantity": line.quantity + 1}]},
        format="json",
    )
    assert response.status_code == 409
    shipment.refresh_from_db()
    assert shipment.status == "pending"


def test_out_of_order_transitions_are_409(warehouse_api, routed):
    _, shipment = routed
    response = warehouse_api.post(
        f"/api/v1/shipments/{shipment.pk}/ship/", {"tracking_number": "X"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_a_short_pick_backorders_and_flags_a_count(warehouse_api, routed, network):
    o, shipment = routed
    lines = {ln.order_line.sku_code: ln.order_line_id for ln in shipment.lines.all()}
    response = warehouse_api.post(
        f"/api/v1/shipments/{shipment.pk}/pick/",
        {
            "lines": [
                {"order_line": lines["A"], "quantity": 1},
                {"order_line": lines["B"], "quantity": 1},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert StockLevel.objects.get(sku__code="A", location__code="BER").needs_count
    o.refresh_from_db()
    a = o.lines.get(sku_code="A")
    # The missing unit went back and was routed again: BER still had free units of A.
    assert a.quantity_allocated == 2
    assert ledger_drift() == []


def test_cancelling_a_shipment_releases_and_reroutes(warehouse_api, routed, network):
    o, shipment = routed
    network["locations"]["BER"].ships_online = False
    network["locations"]["BER"].save()
    response = warehouse_api.post(f"/api/v1/shipments/{shipment.pk}/cancel/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    o.refresh_from_db()
    assert o.status == "backordered"  # BER no longer ships online, nothing elsewhere
    assert StockLevel.objects.get(sku__code="A", location__code="BER").reserved == 0
    assert ledger_drift() == []


def test_promise_dates_a_basket_without_reserving(warehouse_api, network):
    put(network, "BER", "A", 5)
    LocationSchedule.objects.create(location=network["locations"]["BER"], handling_days=1)
    TransitTime.objects.create(carrier="dhl", service="parcel", max_km=600, days=1, is_default=True)
    TransitTime.objects.create(
        carrier="dhl", service="parcel", max_km=3000, days=3, is_default=True
    )
    body = {
        "channel": "web",
        "destination": {"country": "DE", "postal_code": "20095"},
        "lines": [{"sku": "A", "quantity": 2}],
    }
    response = warehouse_api.post("/api/v1/promise/", body, format="json")
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert answer["deliverable"] is True
    option = answer["options"][0]
    assert option["locations"] == ["BER"]
    assert option["carrier"] == "dhl"
    assert option["delivery_date"] > option["ship_date"]
    assert StockLevel.objects.get(sku__code="A", location__code="BER").reserved == 0


def test_promise_for_too_much_is_not_deliverable_and_unknown_sku_is_400(warehouse_api, network):
    put(network, "BER", "A", 1)
    body = {
        "channel": "web",
        "destination": {"country": "DE"},
        "lines": [{"sku": "A", "quantity": 5}],
    }
    assert (
        warehouse_api.post("/api/v1/promise/", body, format="json").json()["deliverable"] is False
    )
    body["lines"][0]["sku"] = "NOPE"
    response = warehouse_api.post("/api/v1/promise/", body, format="json")
    assert response.status_code == 400
    assert "lines.0.sku" in response.json()["errors"]


def test_the_calendar_skips_weekends_cutoff_and_holidays(db, network):
    from fulfilment.delivery_dates import Calendar, dates_for

    berlin = network["locations"]["BER"]
    Holiday.objects.create(country="DE", date=dt.date(2026, 12, 25), name="Christmas")
    schedule = LocationSchedule(location=berlin, handling_days=0, cutoff=dt.time(14, 0))
    # Thursday 24 December 2026, 15:00 UTC: after the cut-off, Friday is a holiday -> Monday.
    now = dt.datetime(2026, 12, 24, 15, 0, tzinfo=dt.UTC)
    calendar = Calendar({"DE"}, now.date())
    dates = dates_for(
        location=berlin,
        destination_country="DE",
        distance_km=200,
        now=now,
        calendar=calendar,
        bands=[],
        schedule=schedule,
    )
    assert dates.ship_date == dt.date(2026, 12, 28)
    # No transit table: 1 + ceil(200 km / 600) = 2 working days after Monday.
    assert dates.delivery_date == dt.date(2026, 12, 30)


def test_a_line_not_found_at_all_leaves_the_shipment(warehouse_api, routed):
    _o, shipment = routed
    lines = {ln.order_line.sku_code: ln.order_line_id for ln in shipment.lines.all()}
    response = warehouse_api.post(
        f"/api/v1/shipments/{shipment.pk}/pick/",
        {
            "lines": [
                {"order_line": lines["A"], "quantity": 2},
                {"order_line": lines["B"], "quantity": 0},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert {ln["sku"] for ln in response.json()["lines"]} == {"A"}
    assert ledger_drift() == []


def test_a_cancelled_shipment_goes_elsewhere(warehouse_api, routed, network):
    o, shipment = routed
    put(network, "MUC", "A", 5)
    put(network, "MUC", "B", 5)
    response = warehouse_api.post(f"/api/v1/shipments/{shipment.pk}/cancel/", {}, format="json")
    assert response.status_code == 200
    o.refresh_from_db()
    assert o.status == "allocated"
    new = Shipment.objects.exclude(pk=shipment.pk).get(order=o)
    assert new.location.code == "MUC"
    assert "gave up" in str(new.decision.explanation)
    assert ledger_drift() == []


def test_a_3pl_shipment_is_not_picked_here(warehouse_api, network):
    put(network, "LON", "A", 5)
    o = order("LONDON", {"A": 1})
    shipment = Shipment.objects.get(order=o)
    assert shipment.location.code == "LON"
    line = shipment.lines.get()
    response = warehouse_api.post(
        f"/api/v1/shipments/{shipment.pk}/pick/",
        {"lines": [{"order_line": line.order_line_id, "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 409
