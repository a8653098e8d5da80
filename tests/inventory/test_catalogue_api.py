"""SKUs and locations through the API: create, read, change, filter, validate, query counts."""

import pytest

from inventory.models import Location, Sku
from tests.factories import LocationFactory, SkuFactory

LOCATION = {
    "code": "BER-WH",
    "name": "Berlin warehouse",
    "kind": "warehouse",
    "country": "de",
    "postal_code": "12529",
    "city": "Schönefeld",
    "latitude": "52.372400",
    "longitude": "13.517800",
    "priority": 10,
    "daily_capacity": 500,
}


@pytest.mark.django_db
def test_create_and_read_a_sku(manager_api):
    response = manager_api.post(
        "/api/v1/skus/",
        {"code": "TEE-1", "name": "Tee", "barcode": "4006381333931", "weight_grams": 180},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["code"] == "TEE-1"
    assert body["is_active"] is True
    assert body["allow_backorder"] is False
    fetched = manager_api.get(f"/api/v1/skus/{body['id']}/").json()
    assert fetched == body


@pytest.mark.django_db
def test_patch_changes_only_what_is_given_and_never_the_code(manager_api):
    sku = SkuFactory(name="Old", weight_grams=100)
    response = manager_api.patch(f"/api/v1/skus/{sku.id}/", {"name": "New"}, format="json")
    assert response.status_code == 200
    sku.refresh_from_db()
    assert (sku.name, sku.weight_grams) == ("New", 100)
    refused = manager_api.patch(f"/api/v1/skus/{sku.id}/", {"code": "OTHER"}, format="json")
    assert refused.status_code == 400
    assert "code" in refused.json()["errors"]
    sku.refresh_from_db()
    assert sku.code != "OTHER"


@pytest.mark.django_db
def test_a_barcode_belongs_to_one_sku(manager_api):
    SkuFactory(barcode="4006381333931")
    response = manager_api.post(
        "/api/v1/skus/", {"code": "B", "name": "B", "barcode": "4006381333931"}, format="json"
    )
    assert response.status_code == 400
    assert "barcode" in response.json()["errors"]
    # Empty barcodes are not duplicates of each other.
    for code in ("E1", "E2"):
        assert (
            manager_api.post(
                "/api/v1/skus/", {"code": code, "name": code}, format="json"
            ).status_code
            == 201
        )


@pytest.mark.django_db
def test_a_bad_sku_code_is_400(manager_api):
    response = manager_api.post("/api/v1/skus/", {"code": "has space", "name": "x"}, format="json")
    assert response.status_code == 400
    assert "code" in response.json()["errors"]
    assert not Sku.objects.exists()


@pytest.mark.django_db
def test_filter_skus_by_code(manager_api):
    SkuFactory(code="WANTED")
    SkuFactory.create_batch(3)
    results = manager_api.get("/api/v1/skus/?code=WANTED").json()["results"]
    assert [r["code"] for r in results] == ["WANTED"]


@pytest.mark.django_db
def test_sku_list_is_cursor_paginated_with_page_size_up_to_500(manager_api):
    SkuFactory.create_batch(7)
    page = manager_api.get("/api/v1/skus/?page_size=5").json()
    assert set(page) == {"next", "previous", "results"}
    assert len(page["results"]) == 5
    rest = manager_api.get(page["next"]).json()
    assert len(rest["results"]) == 2
    assert rest["next"] is None
    ids = [r["id"] for r in page["results"] + rest["results"]]
    assert ids == sorted(ids)


@pytest.mark.django_db
def test_sku_list_uses_a_constant_number_of_queries(manager_api, django_assert_max_num_queries):
    SkuFactory.create_batch(60)
    with django_assert_max_num_queries(5):  # token, roles, user perms, group perms, page
        response = manager_api.get("/api/v1/skus/?page_size=500")
    assert len(response.json()["results"]) == 60


@pytest.mark.django_db
def test_create_a_location_and_read_it_back(manager_api):
    response = manager_api.post("/api/v1/locations/", LOCATION, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["country"] == "DE"
    assert body["latitude"] == "52.372400"
    assert body["ships_online"] is True
    assert body["daily_capacity"] == 500
    assert Location.objects.get(code="BER-WH").country.code == "DE"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"country": "XX"}, "country"),
        ({"kind": "castle"}, "kind"),
        ({"latitude": "91"}, "latitude"),
        ({"longitude": None, "latitude": "50.1"}, "non_field_errors"),
        ({"priority": -1}, "priority"),
    ],
)
def test_bad_location_input_is_400_naming_the_field(manager_api, change, field):
    payload = {**LOCATION, **change}
    response = manager_api.post("/api/v1/locations/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert not Location.objects.exists()


@pytest.mark.django_db
def test_patch_a_location(manager_api):
    location = LocationFactory(daily_capacity=None)
    response = manager_api.patch(
        f"/api/v1/locations/{location.id}/",
        {"daily_capacity": 250, "ships_online": False},
        format="json",
    )
    assert response.status_code == 200
    location.refresh_from_db()
    assert (location.daily_capacity, location.ships_online) == (250, False)


@pytest.mark.django_db
def test_filter_locations_by_kind_and_country(manager_api):
    LocationFactory(kind="store", country="DE")
    LocationFactory(kind="warehouse", country="FR")
    results = manager_api.get("/api/v1/locations/?kind=store&country=de").json()["results"]
    assert [r["kind"] for r in results] == ["store"]


@pytest.mark.django_db
def test_location_list_uses_a_constant_number_of_queries(
    manager_api, django_assert_max_num_queries
):
    LocationFactory.create_batch(30)
    with django_assert_max_num_queries(5):  # the roles are read once a minute per process
        response = manager_api.get("/api/v1/locations/")
    assert len(response.json()["results"]) == 30
