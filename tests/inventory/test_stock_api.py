"""Stock levels, adjustments, the ledger and transfers through the API."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory import services
from inventory.models import StockLevel, StockMovement
from inventory.services import ReservationRequest
from tests.factories import LocationFactory, SkuFactory


@pytest.fixture
def stock(db):
    sku = SkuFactory(code="TEE")
    wh = LocationFactory(code="WH")
    services.stock_adjust(sku=sku, location=wh, kind="receipt", quantity=10)
    return sku, wh


def adjust(api, **body):
    return api.post("/api/v1/stock-adjustments/", body, format="json")


def test_a_receipt_through_the_api_returns_the_movement(warehouse_api, stock):
    response = adjust(
        warehouse_api, sku="TEE", location="WH", kind="receipt", quantity=5, reason="PO 4711"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["on_hand_delta"], body["sku"], body["location"]) == (
        "receipt",
        5,
        "TEE",
        "WH",
    )
    assert body["actor"] == warehouse_api.user.username
    assert StockLevel.objects.get().on_hand == 15


def test_a_count_sets_the_absolute_figure(warehouse_api, stock):
    response = adjust(warehouse_api, sku="TEE", location="WH", kind="count", quantity=7)
    assert response.status_code == 201
    assert response.json()["on_hand_delta"] == -3
    assert StockLevel.objects.get().on_hand == 7


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sku": "NOPE"}, "sku"),
        ({"location": "NOPE"}, "location"),
        ({"quantity": 0}, "quantity"),
        ({"kind": "count", "quantity": -1}, "quantity"),
        ({"kind": "receipt", "quantity": -2}, "quantity"),
        ({"kind": "theft"}, "kind"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_adjustments_are_400_naming_the_field(warehouse_api, stock, body, field):
    payload = {"sku": "TEE", "location": "WH", "kind": "receipt", "quantity": 1} | body
    response = adjust(warehouse_api, **payload)
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert StockMovement.objects.count() == 1


def test_an_adjustment_below_reserved_is_409_and_writes_nothing(warehouse_api, stock):
    sku, wh = stock
    services.stock_reserve(requests=[ReservationRequest(1, 1, sku.pk, wh.pk, 8)])
    response = adjust(warehouse_api, sku="TEE", location="WH", kind="damage", quantity=-3)
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_stock"
    assert StockLevel.objects.get().on_hand == 10
    count = adjust(warehouse_api, sku="TEE", location="WH", kind="count", quantity=2)
    assert count.status_code == 409


def test_a_count_of_an_untracked_sku_is_400(warehouse_api, stock):
    SkuFactory(code="GIFTWRAP", track_inventory=False)
    response = adjust(warehouse_api, sku="GIFTWRAP", location="WH", kind="count", quantity=1)
    assert response.status_code == 400
    assert response.json()["code"] == "not_tracked"


def test_customer_care_cannot_adjust_stock(care_api, stock):
    response = adjust(care_api, sku="TEE", location="WH", kind="receipt", quantity=1)
    assert response.status_code == 403


def test_stock_levels_show_available_and_filter(warehouse_api, stock):
    sku, wh = stock
    services.stock_level_set_thresholds(sku=sku, location=wh, safety_stock=2, reorder_point=9)
    services.stock_reserve(requests=[ReservationRequest(1, 1, sku.pk, wh.pk, 3)])
    other = LocationFactory(code="OTHER")
    services.stock_adjust(sku=sku, location=other, kind="receipt", quantity=1)
    rows = warehouse_api.get("/api/v1/stock-levels/?sku=TEE&location=WH").json()["results"]
    assert len(rows) == 1
    row = rows[0]
    assert (row["on_hand"], row["reserved"], row["safety_stock"], row["available"]) == (10, 3, 2, 5)
    low = warehouse_api.get("/api/v1/stock-levels/?low_stock=true").json()["results"]
    assert [r["location"] for r in low] == ["WH"]  # 10 on hand <= 3 reserved + 9 reorder point


def test_stock_level_history_with_at(warehouse_api, db):
    sku, wh = SkuFactory(code="HIST"), LocationFactory(code="WH")
    now = timezone.now()
    services.stock_history_load(
        sku=sku,
        location=wh,
        entries=[
            (now - timedelta(days=9), "receipt", 12),
            (now - timedelta(days=3), "shipment", -5),
        ],
    )
    at = (now - timedelta(days=5)).isoformat()
    response = warehouse_api.get("/api/v1/stock-levels/", {"sku": "HIST", "at": at})
    assert response.status_code == 200
    assert [(r["on_hand"], r["available"]) for r in response.json()["results"]] == [(12, 12)]
    bad = warehouse_api.get("/api/v1/stock-levels/", {"sku": "HIST", "at": "yesterday"})
    assert bad.status_code == 400
    assert "at" in bad.json()["errors"]
    assert warehouse_api.get("/api/v1/stock-levels/", {"at": at}).status_code == 400
    # An empty `at=` means "not given" (the schema allows it empty): today's levels.
    today = warehouse_api.get("/api/v1/stock-levels/", {"sku": "HIST", "at": ""})
    assert today.status_code == 200
    assert "at" not in today.json()


def test_patch_thresholds_of_a_level(warehouse_api, stock):
    level = StockLevel.objects.get()
    response = warehouse_api.patch(
        f"/api/v1/stock-levels/{level.pk}/", {"safety_stock": 4}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["available"] == 6
    refused = warehouse_api.patch(
        f"/api/v1/stock-levels/{level.pk}/", {"on_hand": 99}, format="json"
    )
    assert refused.status_code == 400
    assert StockLevel.objects.get().on_hand == 10


def test_the_ledger_lists_newest_first_with_filters(warehouse_api, stock):
    adjust(warehouse_api, sku="TEE", location="WH", kind="damage", quantity=-1)
    rows = warehouse_api.get("/api/v1/stock-movements/?sku=TEE").json()["results"]
    assert [r["kind"] for r in rows] == ["damage", "receipt"]
    receipts = warehouse_api.get("/api/v1/stock-movements/?kind=receipt").json()["results"]
    assert [r["on_hand_delta"] for r in receipts] == [10]
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    later = warehouse_api.get("/api/v1/stock-movements/", {"created_after": future}).json()
    assert later["results"] == []


def test_the_ledger_cannot_be_written_even_by_a_manager(manager_api, stock):
    movement = StockMovement.objects.get()
    assert manager_api.post("/api/v1/stock-movements/", {}, format="json").status_code == 405
    assert manager_api.delete(f"/api/v1/stock-movements/{movement.pk}/").status_code == 405
    assert manager_api.patch(f"/api/v1/stock-movements/{movement.pk}/", {}).status_code == 405


def test_list_endpoints_use_a_constant_number_of_queries(
    warehouse_api, stock, django_assert_max_num_queries
):
    _, wh = stock
    for _ in range(30):
        other = SkuFactory()
        services.stock_adjust(sku=other, location=wh, kind="receipt", quantity=2)
    with django_assert_max_num_queries(5):  # + the roles (read once a minute per process)
        levels = warehouse_api.get("/api/v1/stock-levels/?page_size=500")
    assert len(levels.json()["results"]) == 31
    with django_assert_max_num_queries(4):
        moves = warehouse_api.get("/api/v1/stock-movements/?page_size=500")
    assert len(moves.json()["results"]) == 31


def test_transfer_workflow_through_the_api(warehouse_api, stock):
    LocationFactory(code="STORE")
    created = warehouse_api.post(
        "/api/v1/stock-transfers/",
        {"from_location": "WH", "to_location": "STORE", "lines": [{"sku": "TEE", "quantity": 4}]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    transfer = created.json()
    assert transfer["status"] == "draft"
    assert transfer["lines"] == [{"sku": "TEE", "quantity": 4}]
    url = f"/api/v1/stock-transfers/{transfer['id']}"
    shipped = warehouse_api.post(f"{url}/ship/")
    assert shipped.json()["status"] == "in_transit"
    levels = {
        r["location"]: r["on_hand"]
        for r in warehouse_api.get("/api/v1/stock-levels/?sku=TEE").json()["results"]
    }
    assert levels.get("WH") == 6
    assert levels.get("STORE", 0) == 0
    assert warehouse_api.post(f"{url}/receive/").json()["status"] == "received"
    again = warehouse_api.post(f"{url}/cancel/")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"


def test_bad_transfers_are_400(warehouse_api, stock):
    same = warehouse_api.post(
        "/api/v1/stock-transfers/",
        {"from_location": "WH", "to_location": "WH", "lines": [{"sku": "TEE", "quantity": 1}]},
        format="json",
    )
    assert same.status_code == 400
    empty = warehouse_api.post(
        "/api/v1/stock-transfers/",
        {"from_location": "WH", "to_location": "WH", "lines": []},
        format="json",
    )
    assert "lines" in empty.json()["errors"]
    zero = warehouse_api.post(
        "/api/v1/stock-transfers/",
        {"from_location": "WH", "to_location": "X", "lines": [{"sku": "TEE", "quantity": 0}]},
        format="json",
    )
    assert {"to_location", "lines.0.quantity"} <= set(zero.json()["errors"])
