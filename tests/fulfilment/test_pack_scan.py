"""The pack station's scan matching (fulfilment.services.packing), without HTTP: which shipment a
reference names, what it holds to pack, which item a scan names, what a scan counts and what it
refuses. The screen itself is tested in test_admin.py."""

from __future__ import annotations

import pytest

from fulfilment import services
from fulfilment.models import Shipment
from fulfilment.services.packing import (
    PackItem,
    pack_complete,
    pack_item_match,
    pack_items,
    pack_refusal,
    pack_scan,
    pack_scans_stale,
    pack_shipment_find,
    pack_weight_estimate,
)
from orders.services import order_hold
from tests.fulfilment.conftest import order, put


def item(code: str, barcode: str = "", expected: int = 1, scanned: int = 0, **kw) -> PackItem:
    return PackItem(
        sku_code=code,
        name=code,
        barcode=barcode,
        weight_grams=kw.get("weight_grams"),
        expected=expected,
        scanned=scanned,
    )


@pytest.fixture
def picking(network) -> Shipment:
    """A shipment at BER of 2 A and 1 B, picked (status picking)."""
    for sku in ("A", "B", "C"):
        put(network, "BER", sku, 50)
    o = order("HAMBURG", {"A": 2, "B": 1})
    (shipment,) = Shipment.objects.filter(order=o)
    lines = [(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()]
    services.shipment_pick(shipment=shipment, lines=lines)
    shipment.refresh_from_db()
    return shipment


# --- matching a scan to an item (no database) -------------------------------------------------


def test_a_scan_names_an_item_by_code_then_barcode_then_ignoring_case():
    a = item("ABC", barcode="4001")
    b = item("abc", barcode="ABC-BAR")
    items = [a, b]
    assert pack_item_match(items, "ABC") is a  # exact code
    assert pack_item_match(items, "abc") is b  # exact code beats A's code ignoring case
    assert pack_item_match(items, "4001") is a  # exact barcode
    assert pack_item_match(items, "abc-bar") is b  # a barcode ignoring case
    assert pack_item_match(items, "Abc") is a  # ignoring case: the first in line order
    assert pack_item_match(items, "nope") is None
    assert pack_item_match([item("X")], "") is None  # an empty barcode matches nothing


def test_an_exact_barcode_wins_over_a_code_ignoring_case():
    a = item("sku-1")
    b = item("OTHER", barcode="SKU-1")
    assert pack_item_match([a, b], "SKU-1") is b


def test_a_scan_counts_units_and_says_when_everything_is_scanned():
    a, b = item("A", expected=2), item("B")
    first = pack_scan(shipment_id=7, items=[a, b], scanned={}, value="A")
    assert first.ok
    assert first.message == "A: 1 of 2 scanned."
    assert first.scanned == {"A": 1}
    assert a.scanned == 1
    second = pack_scan(shipment_id=7, items=[a, b], scanned=first.scanned, value="B")
    assert second.scanned == {"A": 1, "B": 1}
    last = pack_scan(shipment_id=7, items=[a, b], scanned=second.scanned, value="a")
    assert last.ok
    assert last.message == "A: 2 of 2 scanned. Everything is scanned: weigh the parcel."
    assert last.scanned == {"A": 2, "B": 1}
    assert pack_complete([a, b])


def test_a_stack_counts_as_many_units_as_its_quantity():
    a = item("A", expected=5)
    outcome = pack_scan(shipment_id=7, items=[a], scanned={}, value="A", quantity=4)
    assert outcome.ok
    assert outcome.scanned == {"A": 4}
    assert a.remaining == 1


@pytest.mark.parametrize(
    ("scanned", "quantity", "message"),
    [
        (2, 1, "All 2 of A are already scanned."),
        (1, 2, "Only 1 more of A belongs in this shipment, not 2."),
        (0, 3, "Only 2 more of A belong in this shipment, not 3."),
    ],
)
def test_an_over_scan_is_refused_and_counts_nothing(scanned, quantity, message):
    a = item("A", expected=2, scanned=scanned)
    kept = {"A": scanned} if scanned else {}
    outcome = pack_scan(shipment_id=7, items=[a], scanned=kept, value="A", quantity=quantity)
    assert not outcome.ok
    assert outcome.message == message
    assert outcome.scanned == kept
    assert a.scanned == scanned


def test_a_scanned_shipment_reference_is_refused_with_the_shipment_to_finish():
    outcome = pack_scan(shipment_id=7, items=[item("A")], scanned={}, value="SH-12")
    assert not outcome.ok
    assert (
        outcome.message == "SH-12 is a shipment: finish SH-7 first, or choose “Another shipment”."
    )


def test_a_wrong_item_is_named_when_it_is_a_known_sku(network):
    items = [item("A")]
    wrong = pack_scan(shipment_id=7, items=items, scanned={}, value="C")
    assert (wrong.ok, wrong.message) == (False, "C is not in this shipment.")
    by_barcode = pack_scan(
        shipment_id=7, items=items, scanned={}, value=network["skus"]["C"].barcode
    )
    assert by_barcode.message == "C is not in this shipment."
    unknown = pack_scan(shipment_id=7, items=items, scanned={"A": 1}, value="NOPE-42")
    assert unknown.message == "“NOPE-42” is not in this shipment (no SKU has this code or barcode)."
    assert unknown.scanned == {"A": 1}
    assert items[0].scanned == 0


def test_counts_that_no_longer_fit_the_shipment_are_stale():
    assert not pack_scans_stale([item("A", expected=2, scanned=1)], {"A": 1})
    assert pack_scans_stale([item("A", expected=2, scanned=3)], {"A": 3})  # fewer units now
    assert pack_scans_stale([item("A")], {"GONE": 1})  # an item left the shipment


def test_the_weight_estimate_needs_every_weight():
    assert pack_weight_estimate([item("A", expected=2, weight_grams=250), item("B")]) is None
    assert (
        pack_weight_estimate([item("A", expected=2, weight_grams=250), item("B", weight_grams=100)])
        == 600
    )
    assert pack_weight_estimate([]) is None


# --- the shipment and its items (database) ----------------------------------------------------


def test_the_items_of_a_shipment_group_its_lines_by_sku_with_the_counts_so_far(picking, network):
    items = pack_items(picking, {"A": 1, "GONE": 4})
    assert [(it.sku_code, it.expected, it.scanned) for it in items] == [("A", 2, 1), ("B", 1, 0)]
    assert items[0].barcode == network["skus"]["A"].barcode
    assert sorted(q for it in items for _, q in it.lines) == [1, 2]


def test_a_reference_names_a_shipment_in_any_spelling(picking):
    for reference in (f"SH-{picking.pk}", f"sh{picking.pk}", f" {picking.pk} "):
        shipment, problem = pack_shipment_find(reference)
        assert shipment == picking
        assert problem == ""
    assert pack_shipment_find("SH-999999") == (None, "There is no shipment SH-999999.")
    shipment, problem = pack_shipment_find("hello")
    assert shipment is None
    assert "is not a shipment number" in problem


def test_only_a_picked_shipment_of_an_order_not_on_hold_can_be_packed(picking, network):
    pending_order = order("HAMBURG", {"C": 1})
    (pending,) = Shipment.objects.filter(order=pending_order)
    assert pack_refusal(pending).startswith(f"SH-{pending.pk} is pending")
    order_hold(order=picking.order_id, reason="manual", note="check the address")
    picking.refresh_from_db()
    held = pack_refusal(Shipment.objects.select_related("order").get(pk=picking.pk))
    assert held.startswith(f"SH-{picking.pk} cannot be packed: order ")
    assert held.endswith("Release the order first.")
