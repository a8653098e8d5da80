"""The back office: the receiving station (scan, condition, disposition, partial receipts,
refusal beyond what was authorised), its queue, the add-return screen, the actions, the
return-rate report and its query count."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from inventory.models import StockLevel, StockMovement
from inventory.selectors import ledger_drift
from oms.roles import WAREHOUSE
from returns import services
from returns.models import ReturnRequest
from tests.factories import UserFactory
from tests.returns.conftest import delivered_days_ago

RECEIVE = "/admin/returns/returnrequest/receive/"


@pytest.fixture
def authorised(shipped):
    o, lines = shipped
    ret = services.return_create(
        order=o,
        lines=[
            {"order_line": lines["A"].pk, "quantity": 2, "reason": "changed_mind"},
            {"order_line": lines["B"].pk, "quantity": 1, "reason": "damaged"},
        ],
        authorise=True,
    )
    return o, lines, ret


def token_of(response) -> str:
    return re.search(r'name="token" value="([^"]+)"', response.content.decode())[1]


def scan(client, token, value, condition="sellable", disposition="", quantity=1):
    return client.post(
        RECEIVE,
        {
            "token": token,
            "scan": value,
            "quantity": quantity,
            "condition": condition,
            "disposition": disposition,
            "_scan": "Record scan",
        },
    )


def available(sku: str, location: str) -> int:
    level = StockLevel.objects.filter(sku__code=sku, location__code=location).first()
    if level is None:
        return 0
    return max(0, level.on_hand - level.reserved - level.safety_stock)


def test_the_station_restocks_a_sellable_unit_and_quarantines_a_damaged_one(
    admin_client, authorised, network
):
    _, lines, ret = authorised
    before = available("A", "MUC")
    page = admin_client.get(RECEIVE)
    assert page.status_code == 200
    assert 'name="location"' in page.content.decode()
    opened = admin_client.get(RECEIVE, {"location": "MUC", "return": ret.number.lower()})
    assert opened.status_code == 200
    assert f"Return {ret.number}" in opened.content.decode()
    sku_a = network["skus"]["A"]
    step = scan(admin_client, token_of(opened), sku_a.barcode)  # by barcode
    assert "1 x A sellable" in step.content.decode()
    step = scan(admin_client, token_of(step), "b", condition="damaged")  # by code, any case
    assert "1 x B damaged" in step.content.decode()
    # Nothing is written before Finish.
    assert not StockMovement.objects.filter(return_id=ret.pk).exists()
    finished = admin_client.post(RECEIVE, {"token": token_of(step), "_finish": "Finish"})
    assert finished.status_code == 302
    assert finished["Location"] == f"{RECEIVE}?location=MUC"
    ret.refresh_from_db()
    assert ret.status == "partially_received"  # one A is still expected
    restock = StockMovement.objects.get(return_id=ret.pk, kind="return_restock")
    assert (restock.sku.code, restock.location.code, restock.on_hand_delta) == ("A", "MUC", 1)
    assert available("A", "MUC") == before + 1
    b = StockLevel.objects.get(sku__code="B", location__code="MUC")
    assert (b.on_hand, b.quarantined) == (0, 1)
    line_b = ret.lines.get(order_line=lines["B"])
    assert (line_b.quantity_damaged, line_b.quantity_quarantined) == (1, 1)
    assert ledger_drift() == []
    # The message on the next page.
    follow = admin_client.get(finished["Location"])
    assert f"Return {ret.number}: 2 units received at MUC" in follow.content.decode()


def test_receiving_more_than_authorised_is_refused_with_a_message(admin_client, authorised):
    _, _, ret = authorised
    opened = admin_client.get(RECEIVE, {"location": "BER", "return": ret.number})
    step = scan(admin_client, token_of(opened), "B")
    refused = scan(admin_client, token_of(step), "B")
    html = refused.content.decode()
    assert "More than authorised" in html
    assert "expects only 0 more of B" in html
    assert "1 of 3 expected units scanned" in html  # the refused scan was not counted
    too_many = scan(admin_client, token_of(step), "A", quantity=3)
    assert "expects only 2 more of A" in too_many.content.decode()
    unknown = scan(admin_client, token_of(step), "ZZZ")
    assert "is not an item of return" in unknown.content.decode()
    restock_damaged = scan(admin_client, token_of(step), "A", "damaged", "restock")
    assert "never restocked" in restock_damaged.content.decode()


def test_a_write_off_quarantines_then_writes_off(shipped):
    o, lines = shipped
    ret = services.return_create(
        order=o,
        lines=[{"order_line": lines["A"].pk, "quantity": 2, "reason": "defective"}],
        authorise=True,
    )
    services.return_receive(
        return_request=ret,
        location="BER",
        lines=[
            {
                "order_line": lines["A"].pk,
                "quantity": 1,
                "condition": "defective",
                "disposition": "write_off",
            },
            {
                "order_line": lines["A"].pk,
                "quantity": 1,
                "condition": "sellable",
                "disposition": "quarantine",
            },
        ],
    )
    line = ret.lines.get()
    assert (line.quantity_received, line.quantity_written_off, line.quantity_quarantined) == (
        2,
        1,
        1,
    )
    assert (line.quantity_sellable, line.quantity_defective, line.quantity_restocked) == (1, 1, 0)
    level = StockLevel.objects.get(sku__code="A", location__code="BER")
    assert level.quarantined == 1  # the quarantined unit; the written-off one is gone
    quarantined = StockMovement.objects.filter(return_id=ret.pk, kind="quarantine")
    assert sorted(quarantined.values_list("quarantined_delta", flat=True)) == [1, 1]
    written_off = StockMovement.objects.get(kind="damage", reason__contains=ret.number)
    assert (written_off.quarantined_delta, written_off.on_hand_delta) == (-1, 0)
    assert ledger_drift() == []


def test_the_service_never_restocks_a_damaged_unit(shipped):
    from oms.errors import ValidationFailed

    o, lines = shipped
    ret = services.return_create(
        order=o,
        lines=[{"order_line": lines["A"].pk, "quantity": 1, "reason": "damaged"}],
        authorise=True,
    )
    with pytest.raises(ValidationFailed) as err:
        services.return_receive(
            return_request=ret,
            location="BER",
            lines=[
                {
                    "order_line": lines["A"].pk,
                    "quantity": 1,
                    "condition": "damaged",
                    "disposition": "restock",
                }
            ],
        )
    assert "lines.0.disposition" in err.value.errors
    assert not StockMovement.objects.filter(return_id=ret.pk).exists()


def test_the_queue_lists_authorised_returns_oldest_first(admin_client, authorised, network):
    from tests.fulfilment.conftest import order, put
    from tests.returns.conftest import ship_all

    _, _, first = authorised
    put(network, "BER", "C", 2)
    other = ship_all(order("HAMBURG", {"C": 1}))
    second = services.return_create(
        order=other,
        lines=[{"order_line": other.lines.get().pk, "quantity": 1, "reason": "late"}],
        authorise=True,
    )
    page = admin_client.get("/admin/returns/receivingqueue/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index(first.number) < html.index(second.number)
    assert f"{RECEIVE}?return={first.number}" in html
    assert "0 / 3" in html
    services.return_receive(
        return_request=second,
        location="BER",
        lines=[{"order_line": other.lines.get().pk, "quantity": 1, "condition": "sellable"}],
    )
    assert second.number not in admin_client.get("/admin/returns/receivingqueue/").content.decode()
    index = admin_client.get("/admin/").content.decode()
    assert "/admin/returns/receivingqueue/" in index
    assert "/admin/returns/returnratereport/" in index


def test_warehouse_staff_can_use_the_station(authorised):
    client = Client()
    client.force_login(UserFactory(roles=[WAREHOUSE], is_staff=True))
    assert client.get(RECEIVE).status_code == 200
    assert client.get("/admin/returns/receivingqueue/").status_code == 200


def test_staff_add_a_return_in_the_admin(admin_client, shipped):
    o, lines = shipped
    page = admin_client.get("/admin/returns/returnrequest/add/", {"order": o.number})
    assert page.status_code == 200
    assert f'name="qty-{lines["A"].pk}"' in page.content.decode()
    created = admin_client.post(
        "/admin/returns/returnrequest/add/",
        {
            "order": o.number,
            f"qty-{lines['A'].pk}": "1",
            f"reason-{lines['A'].pk}": "wrong_size",
            f"qty-{lines['B'].pk}": "0",
            "authorise": "1",
            "_create": "Create return",
        },
    )
    assert created.status_code == 302
    ret = ReturnRequest.objects.get()
    assert ret.status == "authorised"
    assert ret.source == "staff"
    assert admin_client.get(created["Location"]).status_code == 200


def test_the_admin_asks_for_an_override_outside_the_window(admin_client, shipped):
    o, lines = shipped
    delivered_days_ago(o, 60)
    data = {
        "order": o.number,
        f"qty-{lines['A'].pk}": "1",
        f"reason-{lines['A'].pk}": "late",
        "_create": "Create return",
    }
    refused = admin_client.post("/admin/returns/returnrequest/add/", data)
    assert refused.status_code == 400
    assert "closed on" in refused.content.decode()
    assert not ReturnRequest.objects.exists()
    accepted = admin_client.post(
        "/admin/returns/returnrequest/add/", {**data, "override_reason": "VIP"}
    )
    assert accepted.status_code == 302
    assert ReturnRequest.objects.get().override_reason == "VIP"


def test_actions_call_the_services_and_report_per_return(admin_client, shipped):
    o, lines = shipped
    ret = services.return_create(
        order=o, lines=[{"order_line": lines["A"].pk, "quantity": 1, "reason": "damaged"}]
    )
    url = "/admin/returns/returnrequest/"
    done = admin_client.post(
        url, {"action": "authorise", "_selected_action": [ret.pk]}, follow=True
    )
    assert f"Return {ret.number}: authorised." in done.content.decode()
    refused = admin_client.post(
        url, {"action": "reject", "_selected_action": [ret.pk]}, follow=True
    )
    assert "not allowed" in refused.content.decode().lower() or "cannot" in refused.content.decode()
    ret.refresh_from_db()
    assert ret.status == "authorised"
    label = admin_client.get(f"/admin/returns/returnrequest/{ret.pk}/label.pdf")
    assert label.status_code == 200
    assert label.content.startswith(b"%PDF")
    cancelled = admin_client.post(
        url, {"action": "cancel", "_selected_action": [ret.pk]}, follow=True
    )
    assert f"Return {ret.number}: cancelled." in cancelled.content.decode()


def test_the_report_shows_rates_by_sku_and_reason(
    admin_client, shipped, network, django_assert_max_num_queries
):
    from tests.fulfilment.conftest import order, put
    from tests.returns.conftest import ship_all

    o, lines = shipped
    services.return_create(
        order=o,
        lines=[
            {"order_line": lines["A"].pk, "quantity": 1, "reason": "wrong_size"},
            {"order_line": lines["B"].pk, "quantity": 1, "reason": "damaged"},
        ],
        authorise=True,
    )
    url = "/admin/returns/returnratereport/"
    admin_client.get(url)  # warm the session and the content types
    with django_assert_max_num_queries(12) as small:
        response = admin_client.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert "50.0 %" in html  # A: 1 of 2 shipped
    assert "100.0 %" in html  # B: 1 of 1
    assert "Wrong size or fit" in html
    # More SKUs, orders and returns: the same number of queries.
    put(network, "BER", "C", 20)
    put(network, "BER", "A", 20)
    for _ in range(3):
        extra = ship_all(order("HAMBURG", {"A": 2, "C": 2}))
        extra_lines = {ln.sku_code: ln for ln in extra.lines.all()}
        services.return_create(
            order=extra,
            lines=[
                {"order_line": extra_lines["C"].pk, "quantity": 1, "reason": "defective"},
                {"order_line": extra_lines["A"].pk, "quantity": 2, "reason": "late"},
            ],
            authorise=True,
        )
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = admin_client.get(url)
    assert "Arrived too late" in response.content.decode()
    old = admin_client.get(url, {"start": "2001-01-01", "end": "2001-02-01"})
    assert "No returns for the orders of this period." in old.content.decode()


def test_a_return_opened_from_the_queue_is_received_where_its_label_sends_it(
    admin_client, authorised
):
    _, _, ret = authorised
    html = admin_client.get(RECEIVE, {"return": ret.number}).content.decode()
    assert f"Return {ret.number} · order" in html
    assert "· at BER</h2>" in html  # the location that shipped the order
