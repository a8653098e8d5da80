"""The routing table: where each order goes, and why (routing runs as the order is captured)."""

from __future__ import annotations

import pytest

from fulfilment.models import RoutingDecision, RoutingRule, Shipment
from fulfilment.services import order_route
from inventory.selectors import ledger_drift
from orders.models import Order
from tests.fulfilment.conftest import order, put


def shipped_from(o) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for shipment in Shipment.objects.filter(order=o).prefetch_related("lines__order_line"):
        result[shipment.location.code] = {
            ln.order_line.sku_code: ln.quantity for ln in shipment.lines.all()
        }
    return result


def decision_of(o):
    return RoutingDecision.objects.filter(order=o).order_by("-id").first()


def rule(network, kind, locations=(), **fields):
    r = RoutingRule.objects.create(name=f"{kind} rule", kind=kind, **fields)
    r.locations.set([network["locations"][code] for code in locations])
    return r


def test_nearest_location_that_can_ship_everything(network):
    put(network, "BER", "A", 5)
    put(network, "MUC", "A", 5)
    o = order("HAMBURG", {"A": 2})
    decision = decision_of(o)
    o.refresh_from_db()
    assert o.status == "allocated"
    assert shipped_from(o) == {"BER": {"A": 2}}
    assert decision.outcome == "single"
    explained = {c["location"]: c for c in decision.explanation["candidates"]}
    assert explained["BER"]["status"] == "chosen"
    assert explained["MUC"]["status"] == "could ship everything, but farther"
    assert explained["BER"]["distance_km"] < explained["MUC"]["distance_km"]
    assert explained["BER"]["available"] == {"A": 5}
    assert decision.explanation["destination"]["precision"] == "exact"
    assert ledger_drift() == []


def test_munich_is_nearer_for_a_munich_address(network):
    put(network, "BER", "A", 5)
    put(network, "MUC", "A", 5)
    o = order("MUNICH", {"A": 1})
    assert list(shipped_from(o)) == ["MUC"]


def test_a_split_when_no_location_has_everything(network):
    put(network, "BER", "A", 5)
    put(network, "MUC", "B", 5)
    o = order("HAMBURG", {"A": 1, "B": 1})
    decision = decision_of(o)
    assert shipped_from(o) == {"BER": {"A": 1}, "MUC": {"B": 1}}
    assert decision.outcome == "split"


def test_fewest_shipments_beats_nearest(network):
    put(network, "BER", "A", 5)
    put(network, "MUC", "B", 5)
    put(network, "PAR", "A", 5)
    put(network, "PAR", "B", 5)
    o = order("HAMBURG", {"A": 1, "B": 1})
    assert shipped_from(o) == {"PAR": {"A": 1, "B": 1}}


def test_a_full_location_is_skipped(network):
    put(network, "BER", "A", 5)
    put(network, "MUC", "A", 5)
    network["locations"]["BER"].daily_capacity = 1
    network["locations"]["BER"].save()
    first = order("HAMBURG", {"A": 1})
    second = order("HAMBURG", {"A": 1})
    decision = decision_of(second)
    assert list(shipped_from(first)) == ["BER"]
    assert list(shipped_from(second)) == ["MUC"]
    rejected = {c["location"]: c["status"] for c in decision.explanation["candidates"]}
    assert rejected["BER"].startswith("rejected: capacity full")


def test_a_rule_excludes_a_location_for_a_country(network):
    put(network, "BER", "A", 5)
    put(network, "MUC", "A", 5)
    rule(network, "exclude", ["BER"], countries="DE")
    o = order("HAMBURG", {"A": 1})
    decision = decision_of(o)
    assert list(shipped_from(o)) == ["MUC"]
    assert "exclude rule" in decision.explanation["rules"]


def test_a_3pl_serves_only_its_countries(network):
    for code in ("LON", "PAR"):
        put(network, code, "A", 5)
    rule(network, "serves", ["LON"], countries="GB")
    uk = order("LONDON", {"A": 1})
    assert list(shipped_from(uk)) == ["LON"]
    fr = order("LYON", {"A": 1})
    decision = decision_of(fr)
    assert list(shipped_from(fr)) == ["PAR"]
    statuses = {c["location"]: c["status"] for c in decision.explanation["candidates"]}
    assert statuses["LON"].startswith("rejected: serves only GB")


def test_not_enough_anywhere_allocates_what_can_be_and_backorders(network):
    put(network, "BER", "A", 1)
    o = order("HAMBURG", {"A": 3, "B": 1})
    decision = decision_of(o)
    o.refresh_from_db()
    assert o.status == "backordered"
    assert decision.outcome == "partial"
    assert shipped_from(o) == {"BER": {"A": 1}}
    assert sorted(s["quantity"] for s in decision.explanation["short"]) == [1, 2]


def test_nothing_anywhere_is_backordered(network):
    o = order("HAMBURG", {"A": 1})
    decision = decision_of(o)
    o.refresh_from_db()
    assert o.status == "backordered"
    assert decision.outcome == "none"
    assert not Shipment.objects.filter(order=o).exists()


def test_a_held_order_is_not_routed(network):
    put(network, "BER", "A", 5)
    o = order("HAMBURG", {"A": 1}, payment_status="pending")  # held: payment_pending
    assert order_route(order_id=o.pk, trigger="test") is None
    o.refresh_from_db()
    assert o.status == "pending"
    assert not Shipment.objects.exists()
    assert decision_of(o) is None


def test_no_split_allowed_backorders_instead(network):
    put(network, "BER", "A", 5)
    put(network, "MUC", "B", 5)
    rule(network, "splits", allow_split=False)
    o = order("HAMBURG", {"A": 1, "B": 1})
    decision = decision_of(o)
    assert decision.outcome == "partial"
    assert len(shipped_from(o)) == 1


def test_shortage_policy_hold(network):
    rule(network, "splits", on_shortage="hold")
    o = order("HAMBURG", {"A": 1})
    o.refresh_from_db()
    assert o.is_on_hold
    assert o.holds.get().reason == "customer_care"


def test_an_unplaceable_destination_goes_by_priority_within_its_country(network, monkeypatch):
    from fulfilment import geocoding

    put(network, "MUC", "A", 5)
    put(network, "BER", "A", 5)
    put(network, "PAR", "A", 5)
    # Neither the city nor the country can be placed (the country table is emptied).
    monkeypatch.setattr(geocoding, "_countries", dict)
    unknown = {"name": "X", "line1": "Street 1", "postal_code": "99999", "city": "Nowhereville"}
    o = order("HAMBURG", {"A": 1}, address={**unknown, "country": "DE"})
    decision = decision_of(o)
    assert list(shipped_from(o)) == ["BER"]  # priority 10 in DE beats MUC (20) and PAR (FR)
    assert decision.explanation["destination"]["precision"] == "unplaced"


@pytest.mark.parametrize(
    ("address", "precision"),
    [
        ({"country": "US", "postal_code": "10118"}, "zip"),
        ({"country": "DE", "city": "Hamburg"}, "city"),
        ({"country": "DE", "city": "Atlantis"}, "country"),
        ({"country": "DE", "latitude": 53.5, "longitude": 10.0}, "exact"),
    ],
)
def test_geocoding_precision(db, address, precision):
    from fulfilment.geocoding import geocode

    assert geocode(address).precision == precision


def test_an_admin_centroid_beats_the_city_table(db):
    from fulfilment.geocoding import geocode
    from fulfilment.models import GeoCentroid

    GeoCentroid.objects.create(country="NL", postal_prefix="59", latitude=51.37, longitude=6.17)
    point = geocode({"country": "NL", "postal_code": "5928 PR", "city": "Venlo"})
    assert (point.precision, round(point.latitude, 2)) == ("postal_prefix", 51.37)


def test_stock_arriving_serves_backordered_orders_oldest_first(network):
    from fulfilment.services.routing_batch import backorders_reroute
    from fulfilment.tasks import backorders_reroute as task

    waiting = [order("HAMBURG", {"A": 1}) for _ in range(3)]  # nothing in stock: backordered
    put(network, "MUC", "A", 2)
    assert backorders_reroute(sku_ids=[network["skus"]["A"].pk]) == 2
    statuses = [Order.objects.get(pk=o.pk).status for o in waiting]
    assert statuses == ["allocated", "allocated", "backordered"]
    assert task(sku_ids=[network["skus"]["A"].pk]) == 0  # nothing more to give
    assert ledger_drift() == []
