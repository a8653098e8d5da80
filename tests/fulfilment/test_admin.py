"""The fulfilment back office: the shipment queue, pick lists, the pack station, packing slips,
routing configuration and the order page's shipments and routing decisions."""

from __future__ import annotations

import io
import re

import pypdf
import pytest
from django.contrib import admin
from django.test import Client

from fulfilment import services
from fulfilment.admin.inlines import RoutingDecisionInline, ShipmentInline, attach_to_order_page
from fulfilment.admin.pack_station import PackState
from fulfilment.documents import pick_list_pdf
from fulfilment.models import Parcel, RoutingDecision, RoutingRule, Shipment
from fulfilment.picklists import pick_list
from inventory.models import Location
from inventory.services import stock_level_set_bin
from oms.errors import ValidationFailed
from oms.roles import CUSTOMER_CARE, WAREHOUSE
from orders.models import Order
from tests.factories import SkuFactory, UserFactory
from tests.fulfilment.conftest import order, put

SHIPMENTS = "/admin/fulfilment/shipment/"
PACK = "/admin/fulfilment/shipment/pack/"


def staff_client(*roles: str, superuser: bool = False) -> Client:
    user = UserFactory(roles=list(roles), is_staff=True, is_superuser=superuser)
    client = Client()
    client.force_login(user)
    return client


def routed(city: str = "HAMBURG", lines: dict[str, int] | None = None) -> list[Shipment]:
    o = order(city, lines or {"A": 1})
    services.order_route(order_id=o.pk, trigger="test")
    return list(Shipment.objects.filter(order=o).order_by("pk"))


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def run_action(client: Client, action: str, shipments: list[Shipment], **kw):
    return client.post(
        SHIPMENTS,
        {"action": action, "_selected_action": [s.pk for s in shipments], "index": "0"},
        **kw,
    )


def snapshot(shipment: Shipment) -> tuple:
    shipment.refresh_from_db()
    lines = tuple(
        shipment.lines.order_by("pk").values_list("quantity", "quantity_picked", "quantity_packed")
    )
    return shipment.status, lines, Parcel.objects.filter(shipment=shipment).count()


@pytest.fixture
def boss(db) -> Client:
    return staff_client(superuser=True)


@pytest.fixture
def warehouse(db) -> Client:
    return staff_client(WAREHOUSE)


@pytest.fixture
def stocked(network):
    for sku in ("A", "B", "C"):
        put(network, "BER", sku, 500)
    return network


@pytest.fixture
def picking(stocked) -> Shipment:
    """A shipment at BER of 2 A and 1 B, picked (status picking)."""
    (shipment,) = routed("HAMBURG", {"A": 2, "B": 1})
    lines = [(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()]
    services.shipment_pick(shipment=shipment, lines=lines)
    shipment.refresh_from_db()
    assert shipment.status == "picking"
    return shipment


# --- the shipment queue -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["superuser", WAREHOUSE])
@pytest.mark.parametrize(
    "url",
    [
        SHIPMENTS,
        f"{SHIPMENTS}?status__exact=pending",
        f"{SHIPMENTS}?q=SH-1",
        "/admin/fulfilment/routingdecision/",
        f"{SHIPMENTS}?created_at__gte=2000-01-01+00%3A00%3A00%2B00%3A00&status__exact=pending",
    ],
)
def test_the_shipment_list_takes_a_bounded_number_of_queries(
    role, url, stocked, django_assert_max_num_queries
):
    client = staff_client(superuser=True) if role == "superuser" else staff_client(role)
    for _ in range(3):
        routed("HAMBURG", {"A": 1, "B": 2})
    with django_assert_max_num_queries(20) as small:
        assert client.get(url).status_code == 200
    for city in ["BERLIN", "MUNICH", "LYON"] * 6:
        routed(city, {"A": 1, "C": 1})
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200


def test_the_shipment_list_shows_the_queue_and_finds_shipments(boss, stocked):
    (first,) = routed("HAMBURG", {"A": 2, "B": 1})
    (second,) = routed("BERLIN", {"C": 3})
    page = boss.get(SHIPMENTS)
    html = page.content.decode()
    assert f"SH-{first.pk}" in html
    assert f"SH-{second.pk}" in html
    assert "Open shipments by location" in html
    row = next(r for r in page.context["queue"]["rows"] if r["code"] == "BER")
    assert row["cells"][0][0] == 2  # two pending at BER
    assert "Pack station" in html
    lines_units = {(r.pk, r.line_total, r.unit_total) for r in page.context["cl"].result_list}
    assert lines_units == {(first.pk, 2, 3), (second.pk, 1, 3)}

    by_code = boss.get(f"{SHIPMENTS}?q=sh-{second.pk}")
    assert [s.pk for s in by_code.context["cl"].result_list] == [second.pk]
    by_order = boss.get(f"{SHIPMENTS}?q={first.order.number}")
    assert [s.pk for s in by_order.context["cl"].result_list] == [first.pk]
    assert boss.get(f"{SHIPMENTS}add/").status_code == 403
    assert boss.get(f"{SHIPMENTS}{first.pk}/delete/").status_code == 403


def test_the_shipment_page_is_read_only_and_explains_the_routing(boss, picking):
    page = boss.get(f"{SHIPMENTS}{picking.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Candidate locations considered" in html
    assert "nearest location that can ship every line: BER" in html
    assert '<th scope="row">BER</th>' in html
    assert "chosen" in html
    assert "postal code" in html or "exact coordinates" in html  # destination precision
    assert 'name="status"' not in html  # no editable status
    assert f"/admin/fulfilment/shipment/{picking.pk}/packing-slip/" in html
    assert f"{PACK}?shipment={picking.pk}" in html
    before = snapshot(picking)
    assert boss.post(f"{SHIPMENTS}{picking.pk}/change/", {"status": "shipped"}).status_code == 403
    assert snapshot(picking) == before


def test_the_shipment_page_and_slip_name_each_line_as_the_shopper_bought_it(
    boss, warehouse, picking
):
    """The order line's name (as the channel sent it), not the catalogue's current name of the
    SKU; the SKU code beside it. A line without a name falls back to the catalogue's."""
    from inventory.models import Sku
    from orders.models import OrderLine

    OrderLine.objects.filter(order=picking.order, sku_code="A").update(name="Trail runner, size 42")
    OrderLine.objects.filter(order=picking.order, sku_code="B").update(name="")
    Sku.objects.filter(code="A").update(name="Catalogue runner")
    Sku.objects.filter(code="B").update(name="Catalogue socks")
    html = boss.get(f"{SHIPMENTS}{picking.pk}/change/").content.decode()
    cells = re.findall(r'<td class="field-(sku|name)">\s*<p>([^<]*)</p>', html)
    assert cells == [
        ("sku", "A"),
        ("name", "Trail runner, size 42"),
        ("sku", "B"),
        ("name", "Catalogue socks"),  # the line has no name of its own
    ]
    services.shipment_pack(shipment=picking, parcels=[{"weight_grams": 900}])
    slip = pdf_text(warehouse.get(f"{SHIPMENTS}{picking.pk}/packing-slip/").content)
    assert "Trail runner, size 42" in slip
    assert "Catalogue runner" not in slip


# --- pick lists -------------------------------------------------------------------------------


@pytest.fixture
def binned(stocked):
    """Three SKUs at BER: two in bins out of alphabetical order, one without a bin."""
    skus = {
        "TENT-2P": SkuFactory(code="TENT-2P", name="Tent for two", barcode="4006381333931"),
        "BOOT-RED": SkuFactory(code="BOOT-RED", name="Red boot", barcode="4006381333948"),
        "CAP-BLUE": SkuFactory(code="CAP-BLUE", name="Blue cap", barcode=""),
    }
    stocked["skus"].update(skus)
    for code in skus:
        put(stocked, "BER", code, 50)
    ber = stocked["locations"]["BER"]
    stock_level_set_bin(sku=skus["TENT-2P"], location=ber, bin="A-10-1")
    stock_level_set_bin(sku=skus["BOOT-RED"], location=ber, bin="A-2-3")
    (one,) = routed("HAMBURG", {"CAP-BLUE": 1, "BOOT-RED": 2})
    (two,) = routed("BERLIN", {"TENT-2P": 1, "BOOT-RED": 1})
    return stocked, [one, two]


def test_pick_list_walks_in_bin_order_in_a_constant_number_of_queries(
    binned, django_assert_num_queries
):
    network, shipments = binned
    ber = network["locations"]["BER"]
    with django_assert_num_queries(2):
        result = pick_list(location=ber, shipments=shipments)
    assert [(r.bin, r.sku_code, r.quantity) for r in result.rows] == [
        ("A-2-3", "BOOT-RED", 3),  # natural order: aisle 2 before aisle 10
        ("A-10-1", "TENT-2P", 1),
        ("", "CAP-BLUE", 1),  # no bin: last
    ]
    one, two = shipments
    assert result.rows[0].shipments == ((one.pk, 2), (two.pk, 1))
    assert result.rows[0].barcode == "4006381333948"
    assert result.total_units == 5
    assert [(s.id, s.units) for s in result.shipments] == [(one.pk, 3), (two.pk, 2)]
    data = pick_list_pdf(result)
    assert data.startswith(b"%PDF")
    with pytest.raises(ValidationFailed, match="not at MUC"):
        pick_list(location=network["locations"]["MUC"], shipments=shipments)


def test_the_pick_list_action_prints_a_pdf_and_changes_nothing(boss, binned):
    _network, shipments = binned
    before = [snapshot(s) for s in shipments]
    response = run_action(boss, "print_pick_list", shipments)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "pick-list-BER-" in response["Content-Disposition"]
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    text = reader.pages[0].extract_text()
    assert "Pick list BER" in text
    positions = [text.index(code) for code in ("BOOT-RED", "TENT-2P", "CAP-BLUE")]
    assert positions == sorted(positions), text
    assert "Page 1 of" in text
    assert all(f"SH-{s.pk}" in text for s in shipments)
    assert [snapshot(s) for s in shipments] == before  # printing changes nothing


def test_the_pick_list_refuses_to_mix_locations_and_skips_what_is_not_to_pick(
    boss, stocked, picking
):
    put(stocked, "MUC", "A", 5)
    (munich,) = routed("MUNICH", {"A": 1})
    assert munich.location.code == "MUC"
    (berlin,) = routed("BERLIN", {"B": 1})
    mixed = run_action(boss, "print_pick_list", [munich, berlin], follow=True)
    assert mixed["Content-Type"].startswith("text/html")
    assert any("BER, MUC" in m and "one location" in m for m in messages_of(mixed))

    services.shipment_pack(shipment=picking, parcels=[{"weight_grams": 500}])
    only_packed = run_action(boss, "print_pick_list", [picking], follow=True)
    assert any(f"SH-{picking.pk} is left off" in m for m in messages_of(only_packed))
    assert any("No pick list" in m for m in messages_of(only_packed))


# --- actions ----------------------------------------------------------------------------------


def test_mark_picked_reports_per_shipment(warehouse, stocked, picking):
    (pending,) = routed("BERLIN", {"A": 1, "C": 2})
    services.shipment_pack(shipment=picking, parcels=[{"weight_grams": 500}])
    response = run_action(warehouse, "mark_picked", [pending, picking], follow=True)
    found = messages_of(response)
    assert f"SH-{pending.pk} picked: 3 units. Pack it at the pack station." in found
    assert any(m.startswith(f"SH-{picking.pk} not marked picked:") for m in found)
    pending.refresh_from_db()
    assert pending.status == "picking"
    assert set(pending.lines.values_list("quantity_picked", flat=True)) == {1, 2}
    again = run_action(warehouse, "mark_picked", [pending], follow=True)
    assert f"SH-{pending.pk} was already picked." in messages_of(again)


def test_cancel_reports_per_shipment_and_the_order_is_routed_again(warehouse, stocked):
    (first,) = routed("HAMBURG", {"A": 1})
    (shipped,) = routed("BERLIN", {"B": 1})
    services.shipment_pick(
        shipment=shipped, lines=[(ln.order_line_id, ln.quantity) for ln in shipped.lines.all()]
    )
    services.shipment_pack(shipment=shipped, parcels=[{"weight_grams": 300}])
    services.shipment_ship(shipment=shipped, carrier="dhl", tracking_number="JD1")
    response = run_action(warehouse, "cancel_shipments", [first, shipped], follow=True)
    found = messages_of(response)
    assert any(m.startswith(f"SH-{first.pk} cancelled; its stock is released.") for m in found)
    assert any(m.startswith(f"SH-{shipped.pk} not cancelled:") for m in found)
    first.refresh_from_db()
    shipped.refresh_from_db()
    assert (first.status, shipped.status) == ("cancelled", "shipped")


def test_reroute_cancels_a_pending_shipment_and_routes_its_order(warehouse, stocked):
    (shipment,) = routed("HAMBURG", {"A": 2})
    response = run_action(warehouse, "reroute_orders", [shipment], follow=True)
    (message,) = [m for m in messages_of(response) if "re-routed" in m]
    shipment.refresh_from_db()
    assert shipment.status == "cancelled"
    new = Shipment.objects.filter(order=shipment.order).exclude(pk=shipment.pk).get()
    assert new.status == "pending"
    assert f"SH-{shipment.pk} cancelled" in message
    assert f"now SH-{new.pk} at BER" in message
    decision = RoutingDecision.objects.filter(order=shipment.order).first()
    assert decision is not None
    assert decision.trigger == "manual_reroute"


def test_reroute_keeps_a_picked_shipment_and_says_nothing_was_left(warehouse, picking):
    response = run_action(warehouse, "reroute_orders", [picking], follow=True)
    (message,) = [m for m in messages_of(response) if "re-routed" in m]
    assert f"SH-{picking.pk} kept (picked)" in message
    assert "nothing left to route" in message
    picking.refresh_from_db()
    assert picking.status == "picking"


def test_customer_care_sees_shipments_but_cannot_act(picking):
    care = staff_client(CUSTOMER_CARE)
    listing = care.get(SHIPMENTS)
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "Pack station" not in html
    assert 'value="mark_picked"' not in html
    assert 'value="print_pick_list"' in html
    assert care.get(f"{SHIPMENTS}{picking.pk}/change/").status_code == 200
    assert care.get(PACK).status_code == 403
    assert care.get(f"{PACK}?shipment={picking.pk}").status_code == 403
    before = snapshot(picking)
    token = PackState(picking.pk, {"A": 2, "B": 1}).token()
    refused = care.post(
        PACK,
        {
            "token": token,
            "_pack": "1",
            "parcels-TOTAL_FORMS": "1",
            "parcels-INITIAL_FORMS": "0",
            "parcels-0-weight_grams": "900",
        },
    )
    assert refused.status_code == 403
    assert snapshot(picking) == before
    denied = run_action(care, "cancel_shipments", [picking], follow=True)
    assert denied.status_code == 200
    assert snapshot(picking) == before
    slip = care.get(f"{SHIPMENTS}{picking.pk}/packing-slip/")
    assert slip.status_code == 200
    assert slip["Content-Type"] == "application/pdf"


# --- the pack station -------------------------------------------------------------------------


def open_shipment(client: Client, reference: str):
    response = client.get(PACK, {"shipment": reference})
    assert response.status_code == 200
    return response


def scan(client: Client, token: str, value: str, quantity: int | None = None):
    data = {"token": token, "scan": value}
    if quantity is not None:
        data["quantity"] = str(quantity)
    return client.post(PACK, data)


def feedback(response) -> tuple[str, str]:
    return response.context["feedback"]


def test_the_pack_station_checks_every_scan_and_records_nothing_until_packing(
    warehouse, picking, stocked
):
    before = snapshot(picking)
    page = open_shipment(warehouse, f"SH-{picking.pk}")
    html = page.content.decode()
    assert "autofocus" in html
    assert 'id="id_scan"' in html
    assert page.context["step"] == 2
    token = page.context["token"]

    wrong = scan(warehouse, token, "C")
    assert feedback(wrong) == ("error", "C is not in this shipment.")
    assert 'role="alert"' in wrong.content.decode()
    unknown = scan(warehouse, token, "NOPE-42")
    assert feedback(unknown)[0] == "error"
    assert "not in this shipment" in feedback(unknown)[1]

    barcode_a = stocked["skus"]["A"].barcode
    first = scan(warehouse, token, barcode_a)  # by barcode
    assert feedback(first) == ("ok", "A: 1 of 2 scanned.")
    token = first.context["token"]
    second = scan(warehouse, token, "A")  # by code
    assert feedback(second) == ("ok", "A: 2 of 2 scanned.")
    token = second.context["token"]
    over = scan(warehouse, token, "A")
    assert feedback(over) == ("error", "All 2 of A are already scanned.")
    assert PackState.load(over.context["token"]).scanned == {"A": 2}
    too_many = scan(warehouse, token, "B", quantity=2)
    assert feedback(too_many)[0] == "error"
    assert "Only 1 more of B" in feedback(too_many)[1]
    early = warehouse.post(
        PACK,
        {
            "token": token,
            "_pack": "1",
            "parcels-TOTAL_FORMS": "1",
            "parcels-INITIAL_FORMS": "0",
            "parcels-0-weight_grams": "900",
        },
    )
    assert feedback(early) == ("error", "Scan every item before packing.")
    assert snapshot(picking) == before  # no scan, refused or not, wrote anything

    last = scan(warehouse, token, "b")  # codes match whatever the case
    assert feedback(last)[0] == "ok"
    assert "Everything is scanned" in feedback(last)[1]
    assert last.context["step"] == 3
    assert last.context["complete"]
    token = last.context["token"]
    assert snapshot(picking) == before

    added = warehouse.post(
        PACK,
        {
            "token": token,
            "_add_parcel": "1",
            "parcels-TOTAL_FORMS": "1",
            "parcels-INITIAL_FORMS": "1",
            "parcels-0-weight_grams": "700",
        },
    )
    assert len(added.context["parcels"].forms) == 2
    no_weight = warehouse.post(
        PACK,
        {
            "token": token,
            "_pack": "1",
            "parcels-TOTAL_FORMS": "2",
            "parcels-INITIAL_FORMS": "1",
            "parcels-0-weight_grams": "",
            "parcels-1-length_mm": "300",
        },
    )
    assert no_weight.status_code == 200
    assert "Weigh this parcel too." in no_weight.content.decode()
    assert snapshot(picking) == before

    packed = warehouse.post(
        PACK,
        {
            "token": token,
            "_pack": "1",
            "parcels-TOTAL_FORMS": "2",
            "parcels-INITIAL_FORMS": "1",
            "parcels-0-weight_grams": "700",
            "parcels-1-weight_grams": "450",
            "parcels-1-length_mm": "300",
            "parcels-1-width_mm": "200",
            "parcels-1-height_mm": "100",
        },
    )
    assert packed.status_code == 302
    assert packed["Location"] == f"{PACK}?packed={picking.pk}"
    picking.refresh_from_db()
    assert picking.status == "packed"
    assert sorted(
        Parcel.objects.filter(shipment=picking).values_list("weight_grams", "length_mm")
    ) == [(450, 300), (700, None)]
    assert set(picking.lines.values_list("quantity_packed", flat=True)) == {2, 1}
    done = warehouse.get(packed["Location"])
    html = done.content.decode()
    assert f"SH-{picking.pk} packed: 3 units in 2 parcels." in messages_of(done)
    assert f"/admin/fulfilment/shipment/{picking.pk}/packing-slip/" in html
    assert 'id="id_shipment"' in html  # ready for the next shipment


def test_the_pack_station_refuses_shipments_it_cannot_pack(warehouse, stocked, picking):
    (pending,) = routed("BERLIN", {"A": 1})
    for reference, expected in [
        (str(pending.pk), f"SH-{pending.pk} is pending: it has not been picked yet."),
        ("SH-999999", "There is no shipment SH-999999."),
        ("hello", "is not a shipment number"),
    ]:
        response = open_shipment(warehouse, reference)
        assert expected in response.context["find_error"]
        assert response.context["step"] == 1
    services.shipment_pack(shipment=picking, parcels=[{"weight_grams": 500}])
    packed = open_shipment(warehouse, f"sh{picking.pk}")
    assert packed.context["find_error"] == f"SH-{picking.pk} is already packed."


def test_the_pack_station_refuses_a_forged_token(warehouse, picking):
    token = PackState(picking.pk, {"A": 1}).token()
    forged = scan(warehouse, token[:-3] + "abc", "A")
    assert forged.status_code == 400
    assert "not valid any more" in forged.context["find_error"]
    assert snapshot(picking)[0] == "picking"


def test_the_pack_station_is_for_warehouse_staff(picking):
    assert staff_client(WAREHOUSE).get(PACK).status_code == 200
    assert staff_client(CUSTOMER_CARE).get(PACK).status_code == 403
    assert Client().get(PACK).status_code == 302  # to the login page


# --- packing slips ----------------------------------------------------------------------------


def test_the_packing_slip_pdf(warehouse, picking):
    services.shipment_pack(shipment=picking, parcels=[{"weight_grams": 1200}])
    o = picking.order
    for size in ("", "?size=4x6"):
        response = warehouse.get(f"{SHIPMENTS}{picking.pk}/packing-slip/{size}")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        text = pdf_text(response.content)
        assert "Packing slip" in text
        assert o.number in text
        assert f"SH-{picking.pk}" in text
        assert "Test Person" in text
        assert "Hamburg" in text
        assert "Germany" in text
        assert re.search(r"\bA\b", text)
        assert "Packed" in text
        assert "Page 1 of 1" in text
    reader = pypdf.PdfReader(
        io.BytesIO(warehouse.get(f"{SHIPMENTS}{picking.pk}/packing-slip/").content)
    )
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert (round(width), round(height)) == (595, 842)  # A4
    small = pypdf.PdfReader(
        io.BytesIO(warehouse.get(f"{SHIPMENTS}{picking.pk}/packing-slip/?size=4x6").content)
    )
    assert (
        round(float(small.pages[0].mediabox.width)),
        round(float(small.pages[0].mediabox.height)),
    ) == (288, 432)
    assert warehouse.get(f"{SHIPMENTS}999999/packing-slip/").status_code == 404


# --- the order page ---------------------------------------------------------------------------


def test_the_order_page_shows_shipments_and_routing_decisions(boss, picking):
    care = staff_client(CUSTOMER_CARE)
    for client in (boss, care):
        page = client.get(f"/admin/orders/order/{picking.order_id}/change/")
        assert page.status_code == 200
        html = page.content.decode()
        assert "Shipments" in html
        assert f"SH-{picking.pk}" in html
        assert "Routing decisions (newest first)" in html
        assert "nearest location that can ship every line: BER" in html
        assert "Candidate locations considered" in html


def test_the_inlines_are_attached_once_and_skipped_without_an_order_admin(monkeypatch):
    order_admin = admin.site._registry[Order]
    inlines = [*order_admin.inlines, *getattr(order_admin, "extra_inlines", [])]
    assert inlines.count(ShipmentInline) == 1
    assert inlines.count(RoutingDecisionInline) == 1
    attach_to_order_page()  # a second import changes nothing
    again = [*order_admin.inlines, *getattr(order_admin, "extra_inlines", [])]
    assert again == inlines
    monkeypatch.delitem(admin.site._registry, Order)
    attach_to_order_page()  # no Order admin: nothing to attach to, no error


# --- routing configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/fulfilment/routingrule/",
        "/admin/fulfilment/routingrule/add/",
        "/admin/fulfilment/routingdecision/",
        "/admin/fulfilment/geocentroid/",
        "/admin/fulfilment/geocentroid/add/",
        "/admin/fulfilment/locationschedule/",
        "/admin/fulfilment/locationschedule/add/",
        "/admin/fulfilment/transittime/",
        "/admin/fulfilment/holiday/",
        "/admin/fulfilment/holiday/add/",
    ],
)
def test_the_configuration_pages_render(boss, picking, url):
    assert boss.get(url).status_code == 200


def test_the_routing_decision_page_is_read_only(boss, picking):
    decision = RoutingDecision.objects.get(order=picking.order)
    page = boss.get(f"/admin/fulfilment/routingdecision/{decision.pk}/change/")
    assert page.status_code == 200
    assert "Candidate locations considered" in page.content.decode()
    assert boss.get("/admin/fulfilment/routingdecision/add/").status_code == 403


def test_the_routing_rule_list_takes_a_bounded_number_of_queries(
    boss, network, django_assert_max_num_queries
):
    locations = list(network["locations"].values())

    def rules(count: int) -> None:
        for n in range(count):
            rule = RoutingRule.objects.create(name=f"Rule {n}", kind="exclude", countries="DE")
            rule.locations.set(locations[: 1 + n % len(locations)])

    rules(2)
    with django_assert_max_num_queries(20) as small:
        assert boss.get("/admin/fulfilment/routingrule/").status_code == 200
    rules(15)
    with django_assert_max_num_queries(len(small.captured_queries)):
        page = boss.get("/admin/fulfilment/routingrule/")
    assert "BER, MUC" in page.content.decode()


def test_routing_rules_need_the_fields_of_their_kind(warehouse, network):
    ber = network["locations"]["BER"]
    url = "/admin/fulfilment/routingrule/add/"
    base = {"position": "10", "name": "Rule", "is_active": "on", "allow_split": "unknown"}
    cases = [
        ({"kind": "priority", "locations": [ber.pk]}, "priority"),
        ({"kind": "exclude"}, "locations"),
        ({"kind": "serves", "locations": [ber.pk]}, "countries"),
        ({"kind": "only", "locations": [ber.pk], "countries": "DE, XX"}, "countries"),
        ({"kind": "splits", "max_splits": "0"}, "max_splits"),
    ]
    for data, field in cases:
        response = warehouse.post(url, {**base, **data})
        assert response.status_code == 200, data
        assert field in response.context["adminform"].form.errors, (data, field)
    split = warehouse.post(url, {**base, "kind": "splits"})
    assert split.context["adminform"].form.non_field_errors()
    assert not RoutingRule.objects.exists()

    ok = warehouse.post(
        url, {**base, "kind": "serves", "locations": [ber.pk], "countries": "de at"}
    )
    assert ok.status_code == 302
    rule = RoutingRule.objects.get()
    assert rule.countries == "AT,DE"
    assert list(rule.locations.all()) == [Location.objects.get(code="BER")]
