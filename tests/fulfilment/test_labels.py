"""Labels: asking for them (API and admin), buying them in the task, replays and crashes,
carrier refusals, the label endpoint and the merged PDF of the back office."""

from __future__ import annotations

import io
from collections.abc import Callable

import pypdf
import pytest
from django.test import Client

from fulfilment.adapters.carriers import Label, label_reference
from fulfilment.adapters.carriers.inhouse import tracking_number_for
from fulfilment.models import Parcel, Shipment, ShippingLabel
from fulfilment.services import labels as label_services
from fulfilment.services import shipment_cancel, shipment_pack, shipment_pick
from fulfilment.services.labels import (
    shipment_attention_flag,
    shipment_label_retry,
    shipment_ship_request,
)
from fulfilment.tasks import labels_buy
from inventory.selectors import ledger_drift
from oms.celery import app as celery_app
from oms.errors import InvalidTransition, TransientError
from orders.models import OrderEvent
from tests.factories import UserFactory
from tests.fulfilment.conftest import order, put
from tests.fulfilment.test_carriers import PDF, ep_shipment
from tests.outbox import queued, run_outbox

SHIPMENTS = "/admin/fulfilment/shipment/"


def pages(data: bytes) -> list[pypdf.PageObject]:
    return list(pypdf.PdfReader(io.BytesIO(data)).pages)


def enqueued(queue: str = "labels") -> list[tuple[str, dict]]:
    """The tasks waiting in the in-memory broker's queue (taken off it), without their outbox
    message id."""
    found = []
    with celery_app.connection_for_read() as connection:
        simple = connection.SimpleQueue(queue, no_ack=True)
        while True:
            try:
                message = simple.get(block=False)
            except simple.Empty:
                break
            _args, kwargs, _embed = message.decode()
            # Every task reaches the broker through the outbox, carrying its message's id (the
            # row of a message a previous test left in the broker is gone with its test).
            assert isinstance(kwargs.pop("_outbox"), int)
            found.append((message.headers["task"], kwargs))
        simple.close()
    return found


def packed_shipment(network, parcels: int = 2, city: str = "HAMBURG") -> Shipment:
    """A shipment at BER (2 A, 1 B), picked and packed in `parcels` parcels."""
    put(network, "BER", "A", 10)
    put(network, "BER", "B", 10)
    o = order(city, {"A": 2, "B": 1})
    shipment = Shipment.objects.get(order=o)
    shipment_pick(
        shipment=shipment, lines=[(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()]
    )
    shipment_pack(
        shipment=shipment, parcels=[{"weight_grams": 400 + 100 * n} for n in range(parcels)]
    )
    shipment.refresh_from_db()
    assert shipment.status == "packed"
    return shipment


@pytest.fixture
def packed(network) -> Shipment:
    enqueued()  # an empty queue to start with
    return packed_shipment(network)


def parcel_ids(shipment: Shipment) -> list[int]:
    return list(
        Parcel.objects.filter(shipment=shipment).order_by("pk").values_list("pk", flat=True)
    )


def one_label_per_parcel(shipment: Shipment) -> list[ShippingLabel]:
    labels = list(ShippingLabel.objects.filter(shipment=shipment).order_by("parcel_id"))
    assert [label.parcel_id for label in labels] == parcel_ids(shipment)
    return labels


@pytest.fixture
def boss(db) -> Client:
    client = Client()
    client.user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(client.user)
    return client


# --- through the API --------------------------------------------------------------------------


def test_ship_with_a_carrier_answers_202_then_the_task_ships_it(
    warehouse_api, packed, django_capture_on_commit_callbacks
):
    url = f"/api/v1/shipments/{packed.pk}"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = warehouse_api.post(
            f"{url}/ship/", {"carrier": "inhouse", "service": "standard"}, format="json"
        )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "packed"
    assert (body["carrier"], body["service"], body["label_url"]) == ("inhouse", "standard", None)
    assert len(callbacks) == 1
    assert enqueued() == [
        ("fulfilment.labels_buy", {"shipment_id": packed.pk, "actor": warehouse_api.user.username})
    ]
    assert warehouse_api.get(f"{url}/label/").status_code == 404

    assert labels_buy(shipment_id=packed.pk) == "shipped"

    labels = one_label_per_parcel(packed)
    packed.refresh_from_db()
    assert packed.status == "shipped"
    assert packed.tracking_number == labels[0].tracking_number
    assert labels[0].tracking_number == tracking_number_for(packed.pk, labels[0].parcel_id)
    assert all(label.sscc and label.carrier == "inhouse" for label in labels)
    assert packed.order.events.filter(kind="label_created").count() == 2
    assert ledger_drift() == []

    shown = warehouse_api.get(f"{url}/").json()
    assert shown["status"] == "shipped"
    assert shown["label_url"] == f"http://testserver/api/v1/shipments/{packed.pk}/label/"

    pdf = warehouse_api.get(f"{url}/label/")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    merged = pages(pdf.content)
    assert len(merged) == 2
    for page, label in zip(merged, labels, strict=True):
        assert (float(page.mediabox.width), float(page.mediabox.height)) == (288, 432)
        text = page.extract_text()
        assert label.tracking_number in text
        assert "20095" in text  # the ship-to postcode (Hamburg)

    zpl = warehouse_api.get(f"{url}/label/?format=zpl")
    assert zpl.status_code == 200
    assert zpl["Content-Type"].startswith("text/plain")
    text = zpl.content.decode()
    assert text.count("^XA") == 2
    assert "^BC" in text
    assert all(label.tracking_number in text for label in labels)

    assert warehouse_api.get(f"{url}/label/?format=png").status_code == 400


def test_a_label_for_a_cancelled_shipment_is_409(warehouse_api, packed):
    shipment_cancel(shipment=packed, reason="customer changed their mind", reroute=False)
    response = warehouse_api.post(
        f"/api/v1/shipments/{packed.pk}/ship/",
        {"carrier": "inhouse", "service": "standard"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert enqueued() == []
    packed.refresh_from_db()
    assert packed.carrier == ""


def test_a_label_before_packing_is_409_and_an_unknown_carrier_400(warehouse_api, network):
    put(network, "BER", "A", 5)
    shipment = Shipment.objects.get(order=order("HAMBURG", {"A": 1}))
    response = warehouse_api.post(
        f"/api/v1/shipments/{shipment.pk}/ship/", {"carrier": "inhouse"}, format="json"
    )
    assert response.status_code == 409
    unknown = warehouse_api.post(
        f"/api/v1/shipments/{shipment.pk}/ship/", {"carrier": "pigeon"}, format="json"
    )
    assert unknown.status_code == 400
    assert "carrier" in unknown.json()["errors"]


def test_a_manual_shipment_still_ships_at_once(warehouse_api, packed):
    response = warehouse_api.post(
        f"/api/v1/shipments/{packed.pk}/ship/",
        {"carrier": "dhl", "service": "parcel", "tracking_number": "JD0001"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["tracking_number"] == "JD0001"
    assert response.json()["label_url"] is None


def test_the_shipment_list_reads_labels_in_constant_queries(
    warehouse_api, network, django_assert_max_num_queries
):
    first = packed_shipment(network)
    shipment_ship_request(shipment=first, carrier="inhouse")
    labels_buy(shipment_id=first.pk)
    with django_assert_max_num_queries(20) as small:
        rows = warehouse_api.get("/api/v1/shipments/").json()["results"]
    assert rows[0]["label_url"].endswith(f"/shipments/{first.pk}/label/")
    for _ in range(3):
        more = packed_shipment(network)
        shipment_ship_request(shipment=more, carrier="inhouse")
        labels_buy(shipment_id=more.pk)
    with django_assert_max_num_queries(len(small.captured_queries)):
        rows = warehouse_api.get("/api/v1/shipments/").json()["results"]
    assert all(row["label_url"] for row in rows)


# --- replays and crashes ----------------------------------------------------------------------


def test_running_the_task_twice_makes_one_label_per_parcel(packed):
    shipment_ship_request(shipment=packed, carrier="inhouse", service="standard")
    assert labels_buy(shipment_id=packed.pk) == "shipped"
    first = [(label.pk, label.tracking_number) for label in one_label_per_parcel(packed)]
    assert labels_buy(shipment_id=packed.pk) == "shipped"
    again = [(label.pk, label.tracking_number) for label in one_label_per_parcel(packed)]
    assert again == first
    # A replay of the request after shipping changes nothing either.
    assert shipment_ship_request(shipment=packed, carrier="inhouse").status == "shipped"


def test_a_crash_after_buying_and_before_storing_then_a_rerun(packed, monkeypatch):
    shipment_ship_request(shipment=packed, carrier="inhouse", service="standard")
    store = label_services._label_store
    calls = {"n": 0}

    def crash_once(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the worker dies after buying the second parcel's label
            raise SystemExit("worker lost")
        return store(**kwargs)

    monkeypatch.setattr(label_services, "_label_store", crash_once)
    with pytest.raises(SystemExit):
        labels_buy(shipment_id=packed.pk)
    assert ShippingLabel.objects.filter(shipment=packed).count() == 1
    packed.refresh_from_db()
    assert packed.status == "packed"

    assert labels_buy(shipment_id=packed.pk) == "shipped"  # acks_late: the task runs again
    labels = one_label_per_parcel(packed)
    assert [label.tracking_number for label in labels] == [
        tracking_number_for(packed.pk, pk) for pk in parcel_ids(packed)
    ]


class RacingCarrier:
    """A carrier that sells a new label on every call (no idempotency), while another worker
    stores its own label for the same parcel first."""

    code = "inhouse"

    def __init__(self) -> None:
        self.sold = 0
        self.voided: list[str] = []
        self.race: Callable[[], object] | None = None

    def buy_label(self, *, reference, shipment_data, parcel) -> Label:
        self.sold += 1
        label = Label(
            tracking_number=f"RACE{self.sold}",
            carrier_reference=f"buy-{self.sold}",
            pdf=PDF,
        )
        if self.race is not None:
            race, self.race = self.race, None
            race()
        return label

    def void(self, label: Label) -> None:
        self.voided.append(label.tracking_number)


def test_a_duplicate_bought_by_a_racing_worker_is_voided(network, monkeypatch):
    shipment = packed_shipment(network, parcels=1)
    shipment_ship_request(shipment=shipment, carrier="inhouse")
    carrier = RacingCarrier()
    monkeypatch.setattr(label_services, "carrier_for", lambda code: carrier)

    def other_worker() -> None:  # bought and stored meanwhile by another run of the task
        plan = label_services._plan(shipment.pk)
        other = Label(tracking_number="OTHER", carrier_reference="buy-other", pdf=PDF)
        stored = label_services._label_store(
            plan=plan, parcel=plan.missing[0], label=other, actor="other"
        )
        assert stored == "created"

    carrier.race = other_worker
    assert labels_buy(shipment_id=shipment.pk) == "shipped"
    (label,) = one_label_per_parcel(shipment)
    assert label.tracking_number == "OTHER"
    assert carrier.voided == ["RACE1"]
    shipment.refresh_from_db()
    assert shipment.tracking_number == "OTHER"


def test_a_label_bought_while_the_shipment_was_cancelled_is_voided(network, monkeypatch):
    shipment = packed_shipment(network, parcels=1)
    shipment_ship_request(shipment=shipment, carrier="inhouse")
    carrier = RacingCarrier()
    carrier.race = lambda: shipment_cancel(shipment=shipment.pk, reroute=False)
    monkeypatch.setattr(label_services, "carrier_for", lambda code: carrier)
    assert labels_buy(shipment_id=shipment.pk) == "cancelled"
    assert not ShippingLabel.objects.filter(shipment=shipment).exists()
    assert carrier.voided == ["RACE1"]


# --- carrier refusals -------------------------------------------------------------------------


@pytest.fixture
def easypost_env(httpserver, monkeypatch):
    monkeypatch.setenv("OMS_EASYPOST_BASE_URL", httpserver.url_for(""))
    monkeypatch.setenv("OMS_EASYPOST_API_KEY", "EZTK_test")
    monkeypatch.setenv("OMS_EASYPOST_TIMEOUT", "5")
    return httpserver


def test_a_permanent_carrier_error_flags_the_shipment(
    packed, easypost_env, boss, django_capture_on_commit_callbacks
):
    easypost_env.expect_request("/v2/shipments", method="POST").respond_with_json(
        {"error": {"code": "ADDRESS.VERIFY.FAILURE", "message": "Unable to verify address."}},
        status=422,
    )
    shipment_ship_request(shipment=packed, carrier="easypost", service="Priority")
    assert run_outbox("fulfilment.labels_buy") == 1  # no exception, nothing left to retry
    assert queued("fulfilment.labels_buy") == []
    packed.refresh_from_db()
    assert packed.needs_attention
    assert packed.attention_message == "Unable to verify address."
    event = OrderEvent.objects.get(order=packed.order, kind="label_failed")
    assert event.data["message"] == "Unable to verify address."
    assert not ShippingLabel.objects.filter(shipment=packed).exists()
    # Flagged: a replay of the task does not call the carrier again.
    calls = len(easypost_env.log)
    assert labels_buy(shipment_id=packed.pk) == "packed"
    assert len(easypost_env.log) == calls

    # The back office lists it, and buys again once the address is fixed.
    listed = boss.get(f"{SHIPMENTS}?needs_attention__exact=1")
    assert listed.status_code == 200
    assert "Unable to verify address." in listed.content.decode()
    enqueued()
    with django_capture_on_commit_callbacks(execute=True):
        done = boss.post(
            SHIPMENTS,
            {"action": "buy_label_again", "_selected_action": [packed.pk], "index": "0"},
            follow=True,
        )
    assert done.status_code == 200
    packed.refresh_from_db()
    assert not packed.needs_attention
    assert packed.attention_message == ""
    assert [task for task, _ in enqueued()] == ["fulfilment.labels_buy"]


def test_a_rate_limit_raises_a_transient_error_for_a_retry(packed, easypost_env):
    easypost_env.expect_request("/v2/shipments", method="POST").respond_with_json(
        {"error": {"code": "RATE_LIMITED", "message": "Slow down"}},
        status=429,
        headers={"Retry-After": "7"},
    )
    shipment_ship_request(shipment=packed, carrier="easypost", service="Priority")
    with pytest.raises(TransientError) as error:
        labels_buy(shipment_id=packed.pk)
    assert error.value.retry_after == 7
    packed.refresh_from_db()
    assert (packed.status, packed.needs_attention) == ("packed", False)
    assert not ShippingLabel.objects.filter(shipment=packed).exists()


def test_easypost_labels_ship_the_shipment(network, easypost_env):
    shipment = packed_shipment(network, parcels=1)
    server = easypost_env
    server.expect_ordered_request(
        "/v2/shipments",
        method="POST",
        headers={"Idempotency-Key": label_reference(shipment.pk, parcel_ids(shipment)[0])},
    ).respond_with_json(ep_shipment(server))
    server.expect_ordered_request("/v2/shipments/shp_123/buy", method="POST").respond_with_json(
        ep_shipment(server, bought=True)
    )
    server.expect_ordered_request("/files/label.pdf").respond_with_data(PDF)
    shipment_ship_request(shipment=shipment, carrier="easypost", service="Priority")
    assert labels_buy(shipment_id=shipment.pk) == "shipped"
    (label,) = one_label_per_parcel(shipment)
    assert (label.carrier, label.carrier_reference) == ("easypost", "shp_123")
    assert bytes(label.pdf) == PDF
    shipment.refresh_from_db()
    assert shipment.tracking_number == "9400100000000000000001"
    assert shipment.tracking_url == "https://track.easypost.com/djE6dHJrXzE"


def test_the_services_refuse_what_they_cannot_do(packed):
    with pytest.raises(InvalidTransition):
        shipment_label_retry(shipment=packed)  # no carrier yet
    shipment_ship_request(shipment=packed, carrier="inhouse")
    flagged = shipment_attention_flag(shipment=packed, message="Looks damaged")
    assert flagged.needs_attention
    assert labels_buy(shipment_id=packed.pk) == "packed"  # flagged: staff look first
    shipment_label_retry(shipment=packed)
    assert labels_buy(shipment_id=packed.pk) == "shipped"


# --- the back office --------------------------------------------------------------------------


def test_the_admin_prints_one_merged_pdf_with_a_page_per_parcel(boss, network):
    two = packed_shipment(network, parcels=2)
    one = packed_shipment(network, parcels=1)
    none = packed_shipment(network, parcels=1)
    for shipment in (two, one):
        shipment_ship_request(shipment=shipment, carrier="inhouse")
        labels_buy(shipment_id=shipment.pk)
    response = boss.post(
        SHIPMENTS,
        {
            "action": "print_labels",
            "_selected_action": [two.pk, one.pk, none.pk],
            "index": "0",
        },
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    merged = pages(response.content)
    assert len(merged) == 3
    expected = [
        label.tracking_number
        for label in ShippingLabel.objects.filter(shipment__in=[two, one]).order_by(
            "shipment_id", "parcel_id"
        )
    ]
    assert [next(t for t in expected if t in page.extract_text()) for page in merged] == expected

    nothing = boss.post(
        SHIPMENTS,
        {"action": "print_labels", "_selected_action": [none.pk], "index": "0"},
        follow=True,
    )
    assert "No labels to print" in nothing.content.decode()


def test_the_admin_ships_with_the_in_house_carrier(
    boss, packed, django_capture_on_commit_callbacks
):
    url = f"{SHIPMENTS}{packed.pk}/ship/"
    page = boss.get(f"{url}?next=/admin/fulfilment/shipment/pack/")
    assert page.status_code == 200
    assert "Ship with in-house carrier" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = boss.post(url, {"next": "/admin/fulfilment/shipment/pack/"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/fulfilment/shipment/pack/"
    packed.refresh_from_db()
    assert (packed.carrier, packed.service, packed.status) == ("inhouse", "standard", "packed")
    assert enqueued() == [
        ("fulfilment.labels_buy", {"shipment_id": packed.pk, "actor": boss.user.username})
    ]
    labels_buy(shipment_id=packed.pk)
    label_pdf = boss.get(f"{SHIPMENTS}{packed.pk}/labels/")
    assert label_pdf.status_code == 200
    assert len(pages(label_pdf.content)) == 2
    assert "^BC" in boss.get(f"{SHIPMENTS}{packed.pk}/labels/?format=zpl").content.decode()
    # An off-site "next" is not followed.
    again = boss.post(url, {"next": "https://evil.example/"})
    assert again["Location"] == f"{SHIPMENTS}{packed.pk}/change/"


def test_the_label_admin_is_read_only_with_links_to_the_files(boss, packed):
    shipment_ship_request(shipment=packed, carrier="inhouse")
    labels_buy(shipment_id=packed.pk)
    label = ShippingLabel.objects.filter(shipment=packed).first()
    listing = boss.get("/admin/fulfilment/shippinglabel/")
    assert listing.status_code == 200
    assert label.tracking_number in listing.content.decode()
    assert boss.get(f"/admin/fulfilment/shippinglabel/{label.pk}/change/").status_code == 200
    pdf = boss.get(f"/admin/fulfilment/shippinglabel/{label.pk}/pdf/")
    assert pdf["Content-Type"] == "application/pdf"
    assert len(pages(pdf.content)) == 1
    zpl = boss.get(f"/admin/fulfilment/shippinglabel/{label.pk}/zpl/")
    assert label.tracking_number in zpl.content.decode()
    assert boss.get("/admin/fulfilment/shippinglabel/add/").status_code == 403
    detail = boss.get(f"{SHIPMENTS}{packed.pk}/change/")
    assert label.tracking_number in detail.content.decode()
