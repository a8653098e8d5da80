"""The inventory back office: stock levels, the ledger, transfers, counts, imports, attention."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from inventory import services
from inventory.models import (
    MovementKind,
    StockForecast,
    StockLevel,
    StockMovement,
    Transfer,
    TransferStatus,
)
from inventory.selectors import ledger_drift, stock_attention_list
from inventory.services import ReservationRequest, count_import
from inventory.services.count_import import count_import_apply, count_import_parse
from oms.errors import ValidationFailed
from oms.roles import CUSTOMER_CARE, WAREHOUSE
from tests.factories import LocationFactory, SkuFactory, UserFactory
from tests.outbox import run_outbox

ADJUST = "/admin/inventory/stocklevel/adjust/"
IMPORT = "/admin/inventory/stocklevel/import-counts/"
ATTENTION = "/admin/inventory/stocklevel/attention/"


def staff_client(*roles: str, superuser: bool = False, username: str | None = None) -> Client:
    extra = {"username": username} if username else {}
    user = UserFactory(roles=list(roles), is_staff=True, is_superuser=superuser, **extra)
    client = Client()
    client.force_login(user)
    return client


def receive(sku, location, quantity):
    return services.stock_adjust(sku=sku, location=location, kind="receipt", quantity=quantity)


def reserve(sku, location, quantity, line=1, order=1):
    return services.stock_reserve(
        requests=[ReservationRequest(order, line, sku.pk, location.pk, quantity)]
    )


def level(sku, location) -> StockLevel:
    return StockLevel.objects.get(sku=sku, location=location)


def text(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def admin_client_(db) -> Client:
    return staff_client(superuser=True, username="boss")


@pytest.fixture
def wh(db):
    return LocationFactory(code="WH")


@pytest.fixture
def store(db):
    return LocationFactory(code="STORE", kind="store")


# --- changelists with a bounded number of queries -------------------------------------------


def make_levels(count: int) -> None:
    location = LocationFactory()
    for sku in SkuFactory.create_batch(count):
        receive(sku, location, 5)


def make_transfers(count: int) -> None:
    source, target = LocationFactory(), LocationFactory()
    for sku in SkuFactory.create_batch(count):
        receive(sku, source, 5)
        transfer = services.transfer_create(
            from_location=source, to_location=target, lines=[(sku, 2)]
        )
        services.transfer_ship(transfer=transfer)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "make"),
    [
        ("/admin/inventory/stocklevel/", make_levels),
        (
            "/admin/inventory/stocklevel/?low_stock=reorder&location__kind__exact=warehouse",
            make_levels,
        ),
        ("/admin/inventory/stocklevel/?q=SKU&needs_count__exact=0", make_levels),
        ("/admin/inventory/stockmovement/", make_transfers),
        ("/admin/inventory/stockmovement/?kind__exact=transfer_out", make_transfers),
        ("/admin/inventory/transfer/", make_transfers),
        ("/admin/inventory/transfer/?status__exact=in_transit", make_transfers),
        (ATTENTION, make_levels),
    ],
)
def test_changelists_render_with_a_bounded_number_of_queries(
    url, make, admin_client_, django_assert_max_num_queries
):
    make(5)
    with django_assert_max_num_queries(15) as small:
        assert admin_client_.get(url).status_code == 200
    make(40)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = admin_client_.get(url)
    assert response.status_code == 200


@pytest.mark.django_db
def test_stock_level_list_shows_available_and_filters_low_stock(admin_client_, wh, store):
    sku_out, sku_low, sku_fine = SkuFactory(code="OUT"), SkuFactory(code="LOW"), SkuFactory()
    receive(sku_out, wh, 2)
    reserve(sku_out, wh, 2)
    receive(sku_low, wh, 4)
    services.stock_level_set_thresholds(sku=sku_low, location=wh, reorder_point=5)
    receive(sku_fine, store, 50)
    services.stock_level_set_thresholds(sku=sku_fine, location=store, safety_stock=3)

    page = admin_client_.get("/admin/inventory/stocklevel/")
    assert page.status_code == 200
    rows = {obj.sku.code: obj for obj in page.context["cl"].result_list}
    assert rows[sku_fine.code].available_qty == 47
    assert rows["OUT"].available_qty == 0
    assert "Adjust / count stock" in text(page)
    assert "Import counts (CSV)" in text(page)

    out = admin_client_.get("/admin/inventory/stocklevel/?low_stock=out")
    assert [o.sku.code for o in out.context["cl"].result_list] == ["OUT"]
    low = admin_client_.get("/admin/inventory/stocklevel/?low_stock=reorder")
    assert [o.sku.code for o in low.context["cl"].result_list] == ["LOW"]
    stores = admin_client_.get("/admin/inventory/stocklevel/?location__kind__exact=store")
    assert [o.sku.code for o in stores.context["cl"].result_list] == [sku_fine.code]
    by_barcode = admin_client_.get(f"/admin/inventory/stocklevel/?q={sku_low.barcode}")
    assert [o.sku.code for o in by_barcode.context["cl"].result_list] == ["LOW"]


@pytest.mark.django_db
def test_stock_level_edits_only_thresholds_through_the_service(admin_client_, wh):
    sku = SkuFactory()
    receive(sku, wh, 10)
    lvl = level(sku, wh)
    assert admin_client_.get("/admin/inventory/stocklevel/add/").status_code == 403
    assert admin_client_.get(f"/admin/inventory/stocklevel/{lvl.pk}/delete/").status_code == 403
    page = admin_client_.get(f"/admin/inventory/stocklevel/{lvl.pk}/change/")
    assert page.status_code == 200
    assert 'name="safety_stock"' in text(page)
    assert 'name="on_hand"' not in text(page)
    ledger_url = re.search(r'<a href="([^"]+)">Movements of this level</a>', text(page)).group(1)
    other = SkuFactory()
    receive(other, wh, 1)
    ledger = admin_client_.get(ledger_url.replace("&amp;", "&"))
    assert ledger.status_code == 200
    assert [m.sku_id for m in ledger.context["cl"].result_list] == [sku.pk]
    response = admin_client_.post(
        f"/admin/inventory/stocklevel/{lvl.pk}/change/",
        {"safety_stock": "2", "reorder_point": "4", "on_hand": "999", "reserved": "5"},
    )
    assert response.status_code == 302, text(response)[:2000]
    lvl.refresh_from_db()
    assert (lvl.on_hand, lvl.reserved, lvl.safety_stock, lvl.reorder_point) == (10, 0, 2, 4)
    assert ledger_drift() == []


# --- the ledger is read-only -----------------------------------------------------------------


@pytest.mark.django_db
def test_the_ledger_is_read_only(admin_client_, wh):
    sku = SkuFactory()
    movement = receive(sku, wh, 3)
    url = f"/admin/inventory/stockmovement/{movement.pk}/"
    listing = admin_client_.get("/admin/inventory/stockmovement/")
    assert listing.status_code == 200
    assert "delete_selected" not in text(listing)
    page = admin_client_.get(f"{url}change/")
    assert page.status_code == 200
    assert 'name="_save"' not in text(page)
    assert admin_client_.post(f"{url}change/", {"on_hand_delta": "100"}).status_code == 403
    assert admin_client_.get(f"{url}delete/").status_code == 403
    assert admin_client_.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    assert admin_client_.get("/admin/inventory/stockmovement/add/").status_code == 403
    refused = admin_client_.post(
        "/admin/inventory/stockmovement/",
        {"action": "delete_selected", "_selected_action": [movement.pk]},
    )
    assert refused.status_code in (200, 302)
    movement.refresh_from_db()
    assert movement.on_hand_delta == 3
    assert StockMovement.objects.count() == 1


# --- adjust / count screen -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_adjust_screen_records_a_count_and_shows_the_result(wh):
    client = staff_client(WAREHOUSE, username="picker")
    sku = SkuFactory(code="CNT-1")
    receive(sku, wh, 10)
    page = client.get(ADJUST)
    assert page.status_code == 200
    assert 'for="id_sku">SKU code or barcode:</label>' in text(page)
    response = client.post(
        ADJUST,
        {"sku": "CNT-1", "location": wh.pk, "action": "count", "quantity": "7", "reason": ""},
        follow=True,
    )
    assert response.status_code == 200
    assert level(sku, wh).on_hand == 7
    movement = StockMovement.objects.filter(kind=MovementKind.COUNT).get()
    assert (movement.on_hand_delta, movement.actor) == (-3, "picker")
    assert response.context["movement"] == movement
    assert response.context["level"].on_hand == 7
    assert any("recorded" in m for m in messages_of(response))
    # The next scan keeps the location and the action.
    assert response.context["form"].initial == {"location": str(wh.pk), "action": "count"}
    assert ledger_drift() == []


@pytest.mark.django_db
def test_the_adjust_screen_scans_a_barcode_and_adjusts(admin_client_, wh):
    sku = SkuFactory(code="SCAN-1", barcode="4006381333931")
    receive(sku, wh, 10)
    response = admin_client_.post(
        ADJUST,
        {
            "sku": " 4006381333931 ",
            "location": wh.pk,
            "action": "damage",
            "quantity": "2",
            "reason": "dropped",
        },
    )
    assert response.status_code == 302
    assert level(sku, wh).on_hand == 8
    movement = StockMovement.objects.get(kind=MovementKind.DAMAGE)
    assert (movement.on_hand_delta, movement.reason, movement.actor) == (-2, "dropped", "boss")

    response = admin_client_.post(
        ADJUST,
        {
            "sku": "4006381333931",
            "location": wh.pk,
            "action": "correction",
            "quantity": "-3",
            "reason": "miscounted",
        },
    )
    assert response.status_code == 302
    assert level(sku, wh).on_hand == 5
    response = admin_client_.post(
        ADJUST,
        {"sku": "SCAN-1", "location": wh.pk, "action": "receipt", "quantity": "4", "reason": ""},
    )
    assert response.status_code == 302
    assert level(sku, wh).on_hand == 9
    assert ledger_drift() == []


@pytest.mark.django_db
def test_the_adjust_screen_shows_a_conflict_and_writes_nothing(admin_client_, wh):
    sku = SkuFactory(code="HELD")
    receive(sku, wh, 5)
    reserve(sku, wh, 4)
    before = StockMovement.objects.count()
    response = admin_client_.post(
        ADJUST,
        {"sku": "HELD", "location": wh.pk, "action": "damage", "quantity": "3", "reason": "wet"},
    )
    assert response.status_code == 409
    page = text(response)
    assert "Cannot remove 3 of HELD at WH: 5 on hand, 4 reserved." in page
    assert "Nothing was changed" in page
    response = admin_client_.post(
        ADJUST,
        {"sku": "HELD", "location": wh.pk, "action": "count", "quantity": "2", "reason": ""},
    )
    assert response.status_code == 409
    assert "4 are reserved here" in text(response)
    assert (level(sku, wh).on_hand, level(sku, wh).reserved) == (5, 4)
    assert StockMovement.objects.count() == before


@pytest.mark.django_db
def test_the_adjust_screen_reports_form_and_validation_errors(admin_client_, wh):
    sku = SkuFactory(code="V-1")
    untracked = SkuFactory(code="GIFT", track_inventory=False)
    receive(sku, wh, 5)
    before = StockMovement.objects.count()
    unknown = admin_client_.post(
        ADJUST, {"sku": "NOPE", "location": wh.pk, "action": "receipt", "quantity": "1"}
    )
    assert unknown.status_code == 200
    assert "No SKU has the code or barcode" in text(unknown)
    no_reason = admin_client_.post(
        ADJUST, {"sku": "V-1", "location": wh.pk, "action": "correction", "quantity": "1"}
    )
    assert "a reason is required" in text(no_reason)
    negative_receipt = admin_client_.post(
        ADJUST, {"sku": "V-1", "location": wh.pk, "action": "receipt", "quantity": "-1"}
    )
    assert negative_receipt.status_code == 400
    assert "A receipt must be positive." in text(negative_receipt)
    not_tracked = admin_client_.post(
        ADJUST, {"sku": untracked.code, "location": wh.pk, "action": "count", "quantity": "1"}
    )
    assert not_tracked.status_code == 400
    assert "does not track inventory" in text(not_tracked)
    assert StockMovement.objects.count() == before
    assert level(sku, wh).on_hand == 5


@pytest.mark.django_db
def test_who_may_use_the_adjust_and_import_screens(wh):
    sku = SkuFactory(code="PERM")
    receive(sku, wh, 5)
    care = staff_client(CUSTOMER_CARE)
    assert care.get(ADJUST).status_code == 403
    assert (
        care.post(
            ADJUST, {"sku": "PERM", "location": wh.pk, "action": "count", "quantity": "0"}
        ).status_code
        == 403
    )
    assert care.get(IMPORT).status_code == 403
    listing = care.get("/admin/inventory/stocklevel/")
    assert listing.status_code == 200
    assert "Adjust / count stock" not in text(listing)
    assert care.get(ATTENTION).status_code == 200
    assert level(sku, wh).on_hand == 5

    warehouse = staff_client(WAREHOUSE)
    assert warehouse.get(ADJUST).status_code == 200
    assert warehouse.get(IMPORT).status_code == 200
    response = warehouse.post(
        ADJUST, {"sku": "PERM", "location": wh.pk, "action": "count", "quantity": "4"}
    )
    assert response.status_code == 302
    assert level(sku, wh).on_hand == 4

    assert Client().get(ADJUST).status_code == 302  # to the login page


# --- CSV import of counts --------------------------------------------------------------------


def upload(client: Client, content: str, name: str = "counts.csv"):
    return client.post(
        IMPORT, {"file": SimpleUploadedFile(name, content.encode(), content_type="text/csv")}
    )


@pytest.fixture
def stocked(wh, store):
    a = SkuFactory(code="A-1", barcode="1111111111116")
    b = SkuFactory(code="B-1")
    receive(a, wh, 10)
    receive(b, wh, 3)
    receive(b, store, 6)
    reserve(b, store, 5)
    return a, b


@pytest.mark.django_db
def test_a_bad_counts_file_shows_every_problem_and_applies_nothing(admin_client_, stocked):
    SkuFactory(code="SVC", track_inventory=False)
    content = (
        "sku,location,counted\n"
        "A-1,WH,8\n"  # fine
        "NOPE,WH,1\n"  # unknown SKU
        "B-1,MARS,1\n"  # unknown location
        "B-1,WH,three\n"  # bad number
        "B-1,WH,-2\n"  # negative
        "1111111111116,WH,9\n"  # the same SKU and location as line 2, by barcode
        "SVC,WH,1\n"  # does not track inventory
        "B-1,STORE,4\n"  # below the 5 reserved
    )
    before = StockMovement.objects.count()
    response = upload(admin_client_, content)
    assert response.status_code == 200
    preview = response.context["preview"]
    errors = {row.line: " ".join(row.errors) for row in preview.rows}
    assert errors[2] == ""
    assert "Unknown SKU 'NOPE'" in errors[3]
    assert "Unknown location 'MARS'" in errors[4]
    assert "not a whole number" in errors[5]
    assert "negative" in errors[6]
    assert "already counted on line 2" in errors[7]
    assert preview.rows[5].on_hand == 10  # the duplicate still shows what is on hand
    assert "does not track inventory" in errors[8]
    assert "5 are reserved" in errors[9]
    page = text(response)
    assert 'name="_confirm"' not in page
    assert "Nothing will be applied" in page
    assert '<th scope="col">Difference</th>' in page
    assert StockMovement.objects.count() == before
    a, _ = stocked
    assert level(a, stocked[0].stock_levels.first().location).on_hand == 10


@pytest.mark.django_db
def test_a_good_counts_file_is_applied_only_on_confirm_in_one_go(admin_client_, stocked, wh):
    a, b = stocked
    content = "sku,location,counted\n1111111111116,WH,7\nB-1,WH,3\nB-1,STORE,9\n"
    response = upload(admin_client_, content)
    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview.ok
    assert [(r.on_hand, r.counted, r.difference) for r in preview.rows] == [
        (10, 7, -3),
        (3, 3, 0),
        (6, 9, 3),
    ]
    page = text(response)
    assert 'name="_confirm"' in page
    assert level(a, wh).on_hand == 10  # nothing yet

    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    tampered = admin_client_.post(IMPORT, {"_confirm": "1", "token": token[:-2] + "xx"})
    assert tampered.status_code == 400
    assert level(a, wh).on_hand == 10

    started = admin_client_.post(IMPORT, {"_confirm": "1", "token": token})
    # Applied by a worker (a background job with progress), on the job's page.
    assert started.status_code == 302
    assert started["Location"].startswith("/admin/jobs/")
    waiting = text(admin_client_.get(started["Location"]))
    assert 'id="job-bar"' in waiting
    assert level(a, wh).on_hand == 10
    assert run_outbox("inventory.count_import_job") == 1
    done = text(admin_client_.get(started["Location"]))
    assert "Recorded 3 counts from the file." in done
    assert 'href="/admin/inventory/stocklevel/"' in done
    assert level(a, wh).on_hand == 7
    assert level(b, wh).on_hand == 3
    assert level(b, b.stock_levels.exclude(location=wh).get().location).on_hand == 9
    counts = StockMovement.objects.filter(kind=MovementKind.COUNT)
    assert counts.count() == 3
    assert {m.actor for m in counts} == {"boss"}
    assert ledger_drift() == []


@pytest.mark.django_db
def test_a_count_import_that_fails_while_applying_applies_no_row(admin_client_, stocked, wh):
    a, b = stocked
    content = "sku,location,counted\nA-1,WH,1\nB-1,WH,0\n"
    response = upload(admin_client_, content)
    token = re.search(r'name="token" value="([^"]+)"', text(response)).group(1)
    # Between the preview and the confirmation an order reserves B-1 at WH.
    reserve(b, wh, 2, line=77)
    before = StockMovement.objects.count()
    refused = admin_client_.post(IMPORT, {"_confirm": "1", "token": token})
    assert refused.status_code == 400
    page = text(refused)
    assert "nothing was applied" in page.lower()
    assert "2 are reserved" in page
    assert level(a, wh).on_hand == 10  # line 2 was fine, and was not applied either
    assert StockMovement.objects.count() == before


@pytest.mark.django_db
def test_count_import_apply_is_one_transaction(stocked, wh, monkeypatch):
    a, _ = stocked
    calls = []
    real = count_import.stock_count

    def flaky(**kwargs):
        calls.append(kwargs["sku"].code)
        if len(calls) == 2:
            raise ValidationFailed("disk on fire")
        return real(**kwargs)

    monkeypatch.setattr(count_import, "stock_count", flaky)
    with pytest.raises(ValidationFailed):
        count_import_apply(text="sku,location,counted\nA-1,WH,1\nB-1,WH,0\n", actor="t")
    assert len(calls) == 2
    assert level(a, wh).on_hand == 10
    assert not StockMovement.objects.filter(kind=MovementKind.COUNT).exists()


@pytest.mark.django_db
def test_count_import_parse_checks_the_file_itself(stocked, django_assert_max_num_queries):
    assert count_import_parse(text="").errors == ["The file is empty."]
    assert "header must be" in count_import_parse(text="code,where,qty\nA-1,WH,1\n").errors[0]
    assert count_import_parse(text="sku,location,counted\n\n").errors
    semicolons = count_import_parse(text="\ufeffSKU;Location;Counted\r\nA-1;WH;4\r\n")
    assert semicolons.ok
    assert semicolons.rows[0].difference == -6
    short = count_import_parse(text="sku,location,counted\nA-1,WH\n")
    assert "Expected 3 columns" in short.rows[0].errors[0]
    many = "sku,location,counted\n" + "".join(f"A-1,WH,{n}\n" for n in range(200))
    with django_assert_max_num_queries(3):
        parsed = count_import_parse(text=many)
    assert len(parsed.bad_rows) == 199  # duplicates of line 2


# --- transfers -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_transfer_is_added_as_a_draft_through_the_service(admin_client_, wh, store):
    SkuFactory(code="T-A")
    SkuFactory(code="T-B", barcode="5000000000001")
    page = admin_client_.get("/admin/inventory/transfer/add/")
    assert page.status_code == 200
    assert "SKU of line 1" in text(page)
    form = {
        "from_location": wh.pk,
        "to_location": store.pk,
        "reference": "REPLEN-1",
        "lines-TOTAL_FORMS": "10",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "10",
        "lines-0-sku": "T-A",
        "lines-0-quantity": "3",
        "lines-2-sku": "5000000000001",
        "lines-2-quantity": "1",
    }
    response = admin_client_.post(
        "/admin/inventory/transfer/add/",
        form | {"lines-1-sku": "T-A", "lines-1-quantity": "2"},  # a repeat is merged
        follow=True,
    )
    assert response.redirect_chain, text(response)[:3000]
    assert "created with 2 lines" in " ".join(messages_of(response))
    transfer = Transfer.objects.get()
    assert response.redirect_chain[0][0] == f"/admin/inventory/transfer/{transfer.pk}/change/"
    assert (transfer.status, transfer.reference, transfer.created_by) == (
        "draft",
        "REPLEN-1",
        "boss",
    )
    assert {(line.sku.code, line.quantity) for line in transfer.lines.all()} == {
        ("T-A", 5),
        ("T-B", 1),
    }
    detail = admin_client_.get(f"/admin/inventory/transfer/{transfer.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in text(detail)
    assert "T-A" in text(detail)
    assert (
        admin_client_.post(
            f"/admin/inventory/transfer/{transfer.pk}/change/", {"status": "received"}
        ).status_code
        == 403
    )
    transfer.refresh_from_db()
    assert transfer.status == "draft"

    same_place = admin_client_.post("/admin/inventory/transfer/add/", form | {"to_location": wh.pk})
    assert same_place.status_code == 400
    assert "two different locations" in text(same_place)
    no_lines = {k: v for k, v in form.items() if not k.startswith("lines-0") and "lines-2" not in k}
    empty = admin_client_.post("/admin/inventory/transfer/add/", no_lines)
    assert "Add at least one line" in text(empty)
    unknown = admin_client_.post("/admin/inventory/transfer/add/", form | {"lines-0-sku": "X"})
    assert "No SKU has the code or barcode" in text(unknown)
    assert Transfer.objects.count() == 1


@pytest.mark.django_db
def test_transfer_actions_report_per_object(admin_client_, wh, store):
    sku = SkuFactory(code="MOVE")
    receive(sku, wh, 5)
    ok = services.transfer_create(from_location=wh, to_location=store, lines=[(sku, 3)])
    too_big = services.transfer_create(from_location=wh, to_location=store, lines=[(sku, 50)])

    def act(action, *transfers):
        return admin_client_.post(
            "/admin/inventory/transfer/",
            {"action": action, "_selected_action": [t.pk for t in transfers]},
            follow=True,
        )

    shipped = act("ship", ok, too_big)
    notes = messages_of(shipped)
    assert f"TR-{ok.pk} (WH → STORE) shipped." in notes
    assert any(n.startswith(f"TR-{too_big.pk} (WH → STORE) not shipped: Cannot") for n in notes)
    ok.refresh_from_db()
    too_big.refresh_from_db()
    assert (ok.status, too_big.status) == (TransferStatus.IN_TRANSIT, TransferStatus.DRAFT)
    assert level(sku, wh).on_hand == 2

    received = act("receive", ok, too_big)
    notes = messages_of(received)
    assert f"TR-{ok.pk} (WH → STORE) received." in notes
    assert any(f"TR-{too_big.pk}" in n and "not received" in n for n in notes)
    assert level(sku, store).on_hand == 3

    cancelled = act("cancel", ok, too_big)
    notes = messages_of(cancelled)
    assert f"TR-{too_big.pk} (WH → STORE) cancelled." in notes
    assert any(f"TR-{ok.pk}" in n and "not cancelled" in n for n in notes)
    again = act("cancel", too_big)
    assert f"TR-{too_big.pk} (WH → STORE) was already cancelled." in messages_of(again)
    assert ledger_drift() == []


@pytest.mark.django_db
def test_customer_care_sees_transfers_but_cannot_move_them(wh, store):
    sku = SkuFactory()
    receive(sku, wh, 5)
    transfer = services.transfer_create(from_location=wh, to_location=store, lines=[(sku, 1)])
    care = staff_client(CUSTOMER_CARE)
    listing = care.get("/admin/inventory/transfer/")
    assert listing.status_code == 200
    assert 'value="ship"' not in text(listing)
    care.post("/admin/inventory/transfer/", {"action": "ship", "_selected_action": [transfer.pk]})
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.DRAFT
    assert care.get("/admin/inventory/transfer/add/").status_code == 403


# --- attention -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_attention_page_lists_what_needs_action_by_urgency(admin_client_, wh, store):
    today = timezone.localdate()
    fine = SkuFactory(code="FINE")
    receive(fine, wh, 100)
    idle = SkuFactory(code="IDLE")  # nothing available, but no demand either
    receive(idle, wh, 1)
    services.stock_adjust(sku=idle, location=wh, kind="damage", quantity=-1, reason="x")

    out = SkuFactory(code="OUT")
    receive(out, wh, 2)
    reserve(out, wh, 2, line=1)
    selling = SkuFactory(code="SELLING")
    receive(selling, store, 1)
    services.stock_level_set_thresholds(sku=selling, location=store, safety_stock=1)
    StockForecast.objects.create(
        sku=selling, location=store, computed_at=timezone.now(), velocity=Decimal("2.5")
    )
    soon = SkuFactory(code="SOON", lead_time_days=10)
    receive(soon, wh, 30)
    StockForecast.objects.create(
        sku=soon,
        location=wh,
        computed_at=timezone.now(),
        velocity=Decimal("5"),
        stockout_date=today + timedelta(days=6),
    )
    later = SkuFactory(code="LATER", lead_time_days=3)
    receive(later, wh, 50)
    receive(later, store, 50)
    StockForecast.objects.create(
        sku=later,
        location=store,
        computed_at=timezone.now(),
        velocity=Decimal("5"),
        stockout_date=today + timedelta(days=8),
    )
    transfer = services.transfer_create(from_location=wh, to_location=store, lines=[(later, 5)])
    services.transfer_ship(transfer=transfer)
    Transfer.objects.filter(pk=transfer.pk).update(expected_at=timezone.now() + timedelta(days=12))
    low = SkuFactory(code="LOW")
    receive(low, wh, 5)
    services.stock_level_set_thresholds(sku=low, location=wh, reorder_point=5)
    count_me = SkuFactory(code="COUNT")
    receive(count_me, wh, 5)
    StockLevel.objects.filter(sku=count_me).update(needs_count=True)

    items = stock_attention_list()
    assert [(i.level.sku.code, i.level.location.code) for i in items] == [
        ("OUT", "WH"),
        ("SELLING", "STORE"),
        ("SOON", "WH"),
        ("LATER", "STORE"),
        ("LOW", "WH"),
        ("COUNT", "WH"),
    ]
    reasons = {i.level.sku.code: " ".join(i.reasons) for i in items}
    assert "2 reserved for orders" in reasons["OUT"]
    assert "selling about 2.5 a day" in reasons["SELLING"]
    assert "10 days lead time" in reasons["SOON"]
    assert f"before transfer TR-{transfer.pk} arrives" in reasons["LATER"]
    assert "reorder point 5" in reasons["LOW"]
    assert reasons["COUNT"] == "Flagged for a cycle count."

    page = admin_client_.get(ATTENTION)
    assert page.status_code == 200
    html = text(page)
    assert '<th scope="col"><div class="text"><span>Why</span></div></th>' in html
    assert html.index("OUT") < html.index("SOON") < html.index("COUNT")
    assert "IDLE" not in html
    assert "FINE" not in html
    assert f"{ADJUST}?sku=COUNT&amp;location={count_me.stock_levels.get().location_id}" in html
