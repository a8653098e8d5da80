"""JSON values have the type the schema names; query flags and page_size are checked, not
silently coerced or ignored (found by tests/oms/test_schema_fuzz.py, pinned here by name)."""

from __future__ import annotations

import pytest

from tests.factories import ChannelFactory, LocationFactory, SkuFactory


@pytest.fixture
def world(db):
    location = LocationFactory(code="BER", country="DE")
    channel = ChannelFactory(code="web", currency="EUR", locations=[location])
    SkuFactory(code="A")
    return {"channel": channel}


@pytest.mark.parametrize(
    ("path", "body", "field", "message"),
    [
        (
            "/api/v1/skus/",
            {"code": "X", "name": "X", "track_inventory": 0},
            "track_inventory",
            "Must be a JSON boolean: true or false.",
        ),
        ("/api/v1/skus/", {"code": 0, "name": "X"}, "code", "Must be a JSON string."),
        (
            "/api/v1/orders/",
            {
                "channel": "web",
                "external_id": "T-1",
                "currency": "EUR",
                "lines": [{"sku": "A", "quantity": 1, "unit_price": "1.00"}],
                "customer": {"email": "a@example.com"},
                "shipping_address": {"country": "DE", "longitude": False},
            },
            "shipping_address.longitude",
            "Must be a JSON number.",
        ),
    ],
)
def test_a_value_of_the_wrong_json_type_is_a_400_naming_it(
    manager_api, world, path, body, field, message
):
    response = manager_api.post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {field: [message]}


@pytest.mark.parametrize(
    "query",
    ["is_active=null", "is_active=yes", "page_size=abc", "page_size=0", "page_size=501"],
)
def test_a_bad_flag_or_page_size_is_a_400(manager_api, world, query):
    response = manager_api.get(f"/api/v1/skus/?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"


@pytest.mark.parametrize("query", ["is_active=true", "is_active=0", "is_active=", "page_size=1"])
def test_good_flags_and_empty_values_are_accepted(manager_api, world, query):
    assert manager_api.get(f"/api/v1/skus/?{query}").status_code == 200
