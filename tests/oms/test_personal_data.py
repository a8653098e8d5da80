"""The scrubber that erases a person's values from stored JSON and free text."""

from __future__ import annotations

from oms.personal_data import ERASED, Scrubber, erased_email


def test_personal_keys_and_person_objects_go_the_rest_stays():
    payload = {
        "id": 4711,
        "name": "#1001",
        "email": "a@example.org",
        "customer": {"id": 9, "first_name": "Li", "default_address": {"country_code": "DE"}},
        "shipping_address": {"address1": "Main 1", "zip": "10115", "country": "DE"},
        "line_items": [{"sku": "A", "name": "Tee", "price": "10.00"}],
        "total_price": "10.00",
        "test": False,
    }
    out = Scrubber([]).json(payload)
    assert out["id"] == 4711
    assert out["name"] == "#1001"  # the order's name, not a person's
    assert out["email"] == ERASED
    assert out["customer"] == {
        "id": None,
        "first_name": ERASED,
        "default_address": {"country_code": "DE"},
    }
    assert out["shipping_address"] == {"address1": ERASED, "zip": ERASED, "country": "DE"}
    assert out["line_items"] == payload["line_items"]
    assert out["test"] is False


def test_address_shaped_objects_and_the_persons_values_go_anywhere():
    scrubber = Scrubber(["Annabel Schmidtke", "Li", "+49 170 555"], whole_only=["Hamburg"])
    event = {
        "kind": "address_changed",
        "before": {"name": "A", "line1": "Old 1", "city": "Hamburg", "country": "DE"},
        "to": "allocated",
        "text": "Annabel Schmidtke called from +49 170 555; Lisa took it, Li confirmed",
        "place": "Hamburg",
        "where": "Hamburg hub",
    }
    out = scrubber.json(event)
    assert out["before"] == {"name": ERASED, "line1": ERASED, "city": ERASED, "country": "DE"}
    assert out["to"] == "allocated"
    assert out["text"] == f"{ERASED} called from {ERASED}; Lisa took it, {ERASED} confirmed"
    assert out["place"] == ERASED
    assert out["where"] == "Hamburg hub"  # a city is only erased as a whole value


def test_an_erased_customer_keeps_a_unique_undeliverable_address():
    assert erased_email(12) == "erased-12@erased.invalid"
