"""The shipment page's commands (pick, pack, ship, print) enabled by the shipment's state, and
the pack station's scans kept on the server so that a reload resumes (PackProgress)."""

from __future__ import annotations

import pytest

from fulfilment import services
from fulfilment.models import PackProgress, Shipment
from oms.roles import CUSTOMER_CARE
from orders import services as order_services
from tests.fulfilment.test_admin import (
    PACK,
    feedback,
    messages_of,
    open_shipment,
    routed,
    scan,
    snapshot,
    staff_client,
)

__all__ = ["boss", "network", "picking", "stocked", "warehouse"]
from tests.fulfilment.conftest import network
from tests.fulfilment.test_admin import boss, picking, stocked, warehouse


def buttons(client, shipment: Shipment) -> dict[str, str]:
    """Each button's label: "" when enabled, else why it is not."""
    response = client.get(f"/admin/fulfilment/shipment/{shipment.pk}/change/")
    assert response.status_code == 200
    return {b["label"]: b["why"] for b in response.context["shipment_buttons"]}


def test_the_buttons_follow_the_shipment_s_state(warehouse, stocked, picking):
    (pending,) = routed("BERLIN", {"A": 1})
    now = buttons(warehouse, pending)
    assert now["Mark picked"] == ""
    assert now["Pick list (PDF)"] == ""
    assert now["Pack at the pack station"] == f"SH-{pending.pk} is pending."
    assert now["Ship (in-house carrier)"] == f"SH-{pending.pk} is pending."
    assert now["Label (PDF)"] == f"SH-{pending.pk} has no label yet."
    now = buttons(warehouse, picking)
    assert now["Mark picked"] == f"SH-{picking.pk} is picked."
    assert now["Pack at the pack station"] == ""
    services.shipment_pack(shipment=picking, parcels=[{"weight_grams": 500}])
    now = buttons(warehouse, picking)
    assert now["Ship (in-house carrier)"] == ""
    assert now["Pick list (PDF)"] == f"SH-{picking.pk} is packed: nothing to pick."


def test_a_held_order_s_shipment_offers_nothing_but_prints(warehouse, stocked):
    (pending,) = routed("BERLIN", {"A": 1})
    order_services.order_hold(order=pending.order_id, reason="manual")
    now = buttons(warehouse, pending)
    assert "on hold" in now["Mark picked"]
    assert now["Packing slip (PDF)"] == ""


def test_customer_care_sees_the_buttons_disabled_and_cannot_pick(stocked):
    (pending,) = routed("BERLIN", {"A": 1})
    care = staff_client(CUSTOMER_CARE)
    assert buttons(care, pending)["Mark picked"] == "You may not mark shipments picked."
    before = snapshot(pending)
    assert care.post(f"/admin/fulfilment/shipment/{pending.pk}/pick/").status_code == 403
    assert snapshot(pending) == before


def test_mark_picked_from_the_page_shows_the_new_status(warehouse, stocked):
    (pending,) = routed("BERLIN", {"A": 2})
    url = f"/admin/fulfilment/shipment/{pending.pk}/pick/"
    assert warehouse.get(url).status_code == 405  # a command is a POST
    done = warehouse.post(url, follow=True)
    assert f"SH-{pending.pk} picked: 2 units; it is now picked." in " ".join(messages_of(done))
    assert '<div class="readonly">Picked</div>' in done.content.decode()
    again = warehouse.post(url, follow=True)  # a second click changes nothing
    assert messages_of(again) == [f"SH-{pending.pk} was already picked."]
    shipped = routed("BERLIN", {"A": 1})[0]
    services.shipment_cancel(shipment=shipped, reason="test")
    refused = warehouse.post(f"/admin/fulfilment/shipment/{shipped.pk}/pick/", follow=True)
    assert f"SH-{shipped.pk} not marked picked" in " ".join(messages_of(refused))
    assert Shipment.objects.get(pk=pending.pk).status == "picking"
    assert warehouse.post("/admin/fulfilment/shipment/999999/pick/").status_code == 404


def test_the_pick_list_of_one_shipment(warehouse, stocked):
    (pending,) = routed("BERLIN", {"A": 1})
    before = snapshot(pending)
    response = warehouse.get(f"/admin/fulfilment/shipment/{pending.pk}/pick-list/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert snapshot(pending) == before


def test_the_pack_station_resumes_after_a_reload_and_forgets_when_packed(warehouse, picking):
    page = open_shipment(warehouse, f"SH-{picking.pk}")
    assert page.context["is_nav_sidebar_enabled"] is False  # full screen
    assert 'id="nav-sidebar"' not in page.content.decode()
    first = scan(warehouse, page.context["token"], "A")
    assert feedback(first) == ("ok", "A: 1 of 2 scanned.")
    assert PackProgress.objects.get(shipment=picking).scanned == {"A": 1}
    reloaded = open_shipment(warehouse, f"SH-{picking.pk}")  # a reload, another browser
    assert reloaded.context["scanned_units"] == 1
    assert feedback(reloaded) == ("ok", "Resumed: 1 unit scanned before.")
    token = reloaded.context["token"]
    for value in ("A", "B"):
        token = scan(warehouse, token, value).context["token"]
    packed = warehouse.post(
        PACK,
        {
            "token": token,
            "_pack": "1",
            "parcels-TOTAL_FORMS": "1",
            "parcels-INITIAL_FORMS": "0",
            "parcels-0-weight_grams": "900",
        },
    )
    assert packed.status_code == 302
    assert Shipment.objects.get(pk=picking.pk).status == "packed"
    assert not PackProgress.objects.exists()


def test_start_over_and_a_changed_shipment_forget_the_scans(warehouse, picking):
    page = open_shipment(warehouse, f"SH-{picking.pk}")
    token = scan(warehouse, page.context["token"], "A").context["token"]
    # A GET changes nothing (a link preview, a prefetch, a crawler must not clear the scans).
    assert warehouse.get(PACK, {"shipment": picking.pk, "restart": "1"}).status_code == 200
    assert PackProgress.objects.get(shipment=picking).scanned == {"A": 1}
    # The button posts, with the CSRF token.
    assert 'name="_restart"' in warehouse.get(PACK, {"shipment": picking.pk}).content.decode()
    restarted = warehouse.post(PACK, {"token": token, "_restart": "1"})
    assert restarted.status_code == 302
    assert restarted["Location"] == f"{PACK}?shipment={picking.pk}"
    assert not PackProgress.objects.exists()
    assert open_shipment(warehouse, f"SH-{picking.pk}").context["scanned_units"] == 0
    # Counts that no longer fit the shipment (an item it does not hold) are dropped.
    PackProgress.objects.create(shipment=picking, scanned={"ZZZ": 3})
    stale = open_shipment(warehouse, f"SH-{picking.pk}")
    assert stale.context["scanned_units"] == 0
    assert feedback(stale)[0] == "error"
    assert not PackProgress.objects.exists()


def test_start_over_needs_the_csrf_token(picking):
    from django.test import Client

    from oms.roles import WAREHOUSE
    from tests.factories import UserFactory

    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(roles=[WAREHOUSE], is_staff=True))
    page = open_shipment(client, f"SH-{picking.pk}")
    PackProgress.objects.create(shipment=picking, scanned={"A": 1})
    refused = client.post(PACK, {"token": page.context["token"], "_restart": "1"})
    assert refused.status_code == 403
    assert PackProgress.objects.get(shipment=picking).scanned == {"A": 1}


def test_two_packers_on_one_shipment_never_lose_a_scan(warehouse, picking):
    from oms.roles import WAREHOUSE

    other = staff_client(WAREHOUSE)
    first = open_shipment(warehouse, f"SH-{picking.pk}").context["token"]
    second = open_shipment(other, f"SH-{picking.pk}").context["token"]  # both see 0 scanned
    assert feedback(scan(warehouse, first, "A")) == ("ok", "A: 1 of 2 scanned.")
    # The second packer's page still shows nothing scanned: the scan is not counted over the
    # first packer's, the page shows the current progress and says so.
    late = scan(other, second, "B")
    assert late.status_code == 409
    level, message = feedback(late)
    assert level == "error"
    assert "Someone else scanned this shipment meanwhile" in message
    assert "Your scan of B was not counted" in message
    assert late.context["scanned_units"] == 1
    assert PackProgress.objects.get(shipment=picking).scanned == {"A": 1}
    # From the current progress, the second packer's scan counts.
    again = scan(other, late.context["token"], "B")
    assert feedback(again)[0] == "ok"
    assert PackProgress.objects.get(shipment=picking).scanned == {"A": 1, "B": 1}
    # The first packer's old page is now behind: told too, nothing lost.
    stale = scan(warehouse, first, "A")
    assert stale.status_code == 409
    assert PackProgress.objects.get(shipment=picking).scanned == {"A": 1, "B": 1}


@pytest.mark.parametrize("junk", [{"A": "x"}, {"A": -2}, []])
def test_odd_stored_counts_are_ignored(warehouse, picking, junk):
    PackProgress.objects.create(shipment=picking, scanned=junk)
    assert open_shipment(warehouse, f"SH-{picking.pk}").context["scanned_units"] == 0


@pytest.mark.parametrize("code", ["KID-JKT-YELLOW-104", "KID-RAIN-JACKET-YELLOW-104-EXTRA-LONG-X"])
def test_the_pick_list_never_wraps_a_sku_code(network, code):
    from fulfilment.documents import pick_list_pdf
    from fulfilment.picklists import pick_list
    from inventory.services import stock_adjust
    from tests.factories import SkuFactory
    from tests.fulfilment.test_admin import pdf_text

    sku = SkuFactory(code=code)
    stock_adjust(sku=sku, location=network["locations"]["BER"], kind="receipt", quantity=3)
    (shipment,) = routed("HAMBURG", {code: 1})
    text = pdf_text(pick_list_pdf(pick_list(location=shipment.location, shipments=[shipment])))
    assert any(code in line for line in text.splitlines())  # one line, not broken over two
