"""Carrier adapters: GS1 numbers, the in-house label (PDF 4x6 and ZPL), and the EasyPost client
against a local fake server (pytest-httpserver) answering with EasyPost-shaped payloads."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import io
import json
import time

import pypdf
import pytest
from werkzeug import Request, Response

from fulfilment.adapters.carriers import (
    Address,
    CarrierAdapter,
    Label,
    ParcelData,
    ShipmentData,
    carrier_for,
    label_reference,
)
from fulfilment.adapters.carriers.easypost import EasyPostCarrier, EasyPostError
from fulfilment.adapters.carriers.gs1 import gs1_check_digit, gs1_valid, postcode_element, sscc
from fulfilment.adapters.carriers.inhouse import InHouseCarrier, tracking_number_for
from oms.errors import PermanentError, TransientError, ValidationFailed

SHIPMENT = ShipmentData(
    id=12,
    order_number="100012",
    carrier="inhouse",
    service="standard",
    ship_from=Address(
        name="Berlin DC",
        line1="Lagerstraße 1",
        postal_code="12529",
        city="Schönefeld",
        country="DE",
    ),
    ship_to=Address(
        name="Jürgen Müller",
        line1="Unter den Linden 1",
        postal_code="10117",
        city="Berlin",
        country="DE",
    ),
    parcel_count=2,
)
PARCEL = ParcelData(id=34, weight_grams=900, length_mm=300, width_mm=200, height_mm=100)
PDF = b"%PDF-1.4\n% a fake label\n%%EOF\n"


def pdf_pages(data: bytes) -> list[pypdf.PageObject]:
    return list(pypdf.PdfReader(io.BytesIO(data)).pages)


# --- GS1 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("400638133393", 1),  # EAN-13 4006381333931
        ("03600029145", 2),  # UPC-A 036000291452
        ("9638507", 4),  # EAN-8 96385074
        ("00000000000000000", 0),
        ("04000001000000034", 0),
        ("34000001000000123", 2),
    ],
)
def test_the_gs1_check_digit(body, check):
    assert gs1_check_digit(body) == check
    assert gs1_valid(body + str(check))
    assert not gs1_valid(body + str((check + 1) % 10))


def test_the_check_digit_refuses_anything_but_digits():
    with pytest.raises(ValueError, match="digits"):
        gs1_check_digit("12a4")


def test_an_sscc_is_18_digits_with_its_check_digit():
    number = sscc(company_prefix="4000001", serial=34)
    assert number == "040000010000000340"
    assert len(number) == 18
    assert gs1_valid(number)
    longer = sscc(company_prefix="4000001234", serial=10**12 + 5, extension_digit=3)
    assert longer.startswith("34000001234")
    assert len(longer) == 18
    assert gs1_valid(longer)
    with pytest.raises(ValueError, match="company prefix"):
        sscc(company_prefix="12", serial=1)


def test_the_postcode_element_keeps_what_gs1_allows():
    assert postcode_element("sw1a 1aa") == "SW1A1AA"
    assert postcode_element("10117") == "10117"


# --- the in-house carrier -------------------------------------------------------------------


def test_the_in_house_label_is_4x6_with_its_fields():
    carrier = InHouseCarrier(company_prefix="4000001")
    label = carrier.buy_label(reference="SH-12-P34", shipment_data=SHIPMENT, parcel=PARCEL)
    assert label.tracking_number == tracking_number_for(12, 34) == "NW000000120000000340"
    assert label.sscc == "040000010000000340"
    (page,) = pdf_pages(label.pdf)
    assert (float(page.mediabox.width), float(page.mediabox.height)) == (288, 432)
    text = page.extract_text()
    for expected in (
        label.tracking_number,
        "10117",
        "(420) 10117",
        "(00) 0 4000001 000000034 0",
        "Jürgen Müller",
        "Berlin DC",
        "STANDARD",
        "Parcel 1 of 2",
    ):
        assert expected in text
    assert "^BC" in label.zpl
    assert label.tracking_number in label.zpl
    assert "^FD(00)040000010000000340^FS" in label.zpl
    assert "^FD(420)10117^FS" in label.zpl
    assert label.zpl.startswith("^XA")
    assert label.zpl.rstrip().endswith("^XZ")


def test_an_address_beyond_latin_1_prints_in_an_embedded_font():
    polish = ShipmentData(
        **{
            **SHIPMENT.__dict__,
            "ship_to": Address(
                name="Łukasz Wiśniewski",
                line1="ul. Żeromskiego 5",
                postal_code="90-001",
                city="Łódź",
                country="PL",
            ),
        }
    )
    label = InHouseCarrier().buy_label(reference="SH-12-P34", shipment_data=polish, parcel=PARCEL)
    text = pdf_pages(label.pdf)[0].extract_text()
    assert "Łukasz Wiśniewski" in text
    assert "90-001 Łódź" in text
    assert "(420) 90001" in text
    plain = InHouseCarrier().buy_label(reference="SH-12-P34", shipment_data=SHIPMENT, parcel=PARCEL)
    assert b"FontFile2" in label.pdf  # embedded
    assert b"FontFile2" not in plain.pdf  # the base fonts: nothing to embed


def test_in_house_labels_are_the_same_for_the_same_reference():
    carrier = InHouseCarrier()
    first = carrier.buy_label(reference="SH-12-P34", shipment_data=SHIPMENT, parcel=PARCEL)
    again = carrier.buy_label(reference="SH-12-P34", shipment_data=SHIPMENT, parcel=PARCEL)
    assert (first.tracking_number, first.sscc, first.zpl) == (
        again.tracking_number,
        again.sscc,
        again.zpl,
    )
    other = carrier.buy_label(
        reference="SH-12-P35", shipment_data=SHIPMENT, parcel=ParcelData(id=35, weight_grams=1)
    )
    assert other.tracking_number != first.tracking_number


def test_in_house_refuses_a_foreign_reference_and_escapes_zpl():
    carrier = InHouseCarrier()
    with pytest.raises(PermanentError):
        carrier.buy_label(reference="ORDER-1", shipment_data=SHIPMENT, parcel=PARCEL)
    odd = ShipmentData(
        **{
            **SHIPMENT.__dict__,
            "ship_to": Address(name="A^B~C_D", postal_code="SW1A 1AA", country="GB"),
        }
    )
    label = carrier.buy_label(reference="SH-12-P34", shipment_data=odd, parcel=PARCEL)
    assert "A_5EB_7EC_5FD" in label.zpl
    assert "(420) SW1A1AA" in pdf_pages(label.pdf)[0].extract_text()


def test_in_house_tracking_webhook_is_signed():
    carrier = InHouseCarrier(webhook_secret="s3cret")
    body = json.dumps(
        {
            "events": [
                {
                    "id": "ev-1",
                    "tracking_number": "NW000000120000000340",
                    "status": "delivered",
                    "description": "Delivered to the door",
                    "place": "Berlin",
                    "occurred_at": "2026-03-02T10:00:00Z",
                },
                {"id": "ev-2", "status": "teleported", "occurred_at": "2026-03-02T10:00:00Z"},
            ]
        }
    ).encode()
    good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    (event,) = carrier.parse_tracking_webhook({"x-oms-signature": good}, body)
    assert event.status == "delivered"
    assert event.external_id == "ev-1"
    assert event.occurred_at == dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
    assert event.tracking_number == "NW000000120000000340"
    with pytest.raises(PermanentError, match="signature"):
        carrier.parse_tracking_webhook({"X-OMS-Signature": good}, body + b" ")
    assert carrier.track("NW000000120000000340") == []


def test_the_registry(monkeypatch):
    assert carrier_for("inhouse").code == "inhouse"
    assert carrier_for(" InHouse ").code == "inhouse"
    assert isinstance(carrier_for("easypost"), CarrierAdapter)
    with pytest.raises(ValidationFailed) as error:
        carrier_for("pigeon")
    assert "carrier" in error.value.errors
    monkeypatch.setenv("OMS_GS1_COMPANY_PREFIX", "4012345")
    label = carrier_for("inhouse").buy_label(
        reference=label_reference(12, 34), shipment_data=SHIPMENT, parcel=PARCEL
    )
    assert label.sscc.startswith("04012345")


# --- EasyPost against a fake server ---------------------------------------------------------


def ep_shipment(server, *, bought: bool = False, zpl: bool = False) -> dict:
    """An EasyPost Shipment object, as its API documents it (the fields we read)."""
    rates = [
        {
            "id": "rate_cheap",
            "object": "Rate",
            "carrier": "USPS",
            "service": "GroundAdvantage",
            "rate": "5.93",
            "currency": "USD",
            "delivery_days": 3,
        },
        {
            "id": "rate_fast",
            "object": "Rate",
            "carrier": "USPS",
            "service": "Priority",
            "rate": "8.15",
            "currency": "USD",
            "delivery_days": 2,
        },
    ]
    data = {
        "id": "shp_123",
        "object": "Shipment",
        "reference": "SH-12-P34",
        "mode": "test",
        "rates": rates,
        "selected_rate": None,
        "postage_label": None,
        "tracking_code": None,
        "tracker": None,
    }
    if bought:
        data.update(
            selected_rate=rates[1],
            tracking_code="9400100000000000000001",
            postage_label={
                "object": "PostageLabel",
                "id": "pl_1",
                "label_file_type": "application/pdf",
                "label_size": "4x6",
                "label_url": server.url_for("/files/label.pdf"),
                "label_pdf_url": server.url_for("/files/label.pdf"),
                "label_zpl_url": server.url_for("/files/label.zpl") if zpl else None,
            },
            tracker={
                "id": "trk_1",
                "object": "Tracker",
                "public_url": "https://track.easypost.com/djE6dHJrXzE",
            },
        )
    return data


@pytest.fixture
def easypost(httpserver) -> EasyPostCarrier:
    carrier = EasyPostCarrier(
        api_key="EZTK_test", base_url=httpserver.url_for(""), webhook_secret="whsec", timeout=2
    )
    yield carrier
    carrier.close()


def test_easypost_buys_a_label_idempotently(httpserver, easypost):
    auth = "Basic " + base64.b64encode(b"EZTK_test:").decode()
    httpserver.expect_ordered_request(
        "/v2/shipments",
        method="POST",
        headers={"Idempotency-Key": "SH-12-P34", "Authorization": auth},
    ).respond_with_json(ep_shipment(httpserver), status=201)
    httpserver.expect_ordered_request(
        "/v2/shipments/shp_123/buy",
        method="POST",
        json={"rate": {"id": "rate_fast"}},
        headers={"Idempotency-Key": "SH-12-P34:buy"},
    ).respond_with_json(ep_shipment(httpserver, bought=True, zpl=True))
    httpserver.expect_ordered_request("/files/label.pdf").respond_with_data(
        PDF, content_type="application/pdf"
    )
    httpserver.expect_ordered_request("/files/label.zpl").respond_with_data("^XA^FDx^FS^XZ")
    shipment = ShipmentData(**{**SHIPMENT.__dict__, "carrier": "easypost", "service": "Priority"})
    label = easypost.buy_label(reference="SH-12-P34", shipment_data=shipment, parcel=PARCEL)
    assert label.tracking_number == "9400100000000000000001"
    assert label.carrier_reference == "shp_123"
    assert label.pdf == PDF
    assert label.zpl == "^XA^FDx^FS^XZ"
    assert label.tracking_url == "https://track.easypost.com/djE6dHJrXzE"
    httpserver.check_assertions()
    (create, *_) = [request for request, _ in httpserver.log]
    sent = create.get_json()["shipment"]
    assert sent["reference"] == "SH-12-P34"
    assert sent["to_address"]["zip"] == "10117"
    assert sent["parcel"]["weight"] == 31.7
    # The download carries no credentials.
    assert all(
        "Authorization" not in request.headers
        for request, _ in httpserver.log
        if request.path.startswith("/files/")
    )


def test_easypost_does_not_buy_twice_what_it_bought(httpserver, easypost):
    """A replay: the idempotent create answers with the shipment already bought."""
    httpserver.expect_ordered_request("/v2/shipments", method="POST").respond_with_json(
        ep_shipment(httpserver, bought=True)
    )
    httpserver.expect_ordered_request("/files/label.pdf").respond_with_data(PDF)
    label = easypost.buy_label(reference="SH-12-P34", shipment_data=SHIPMENT, parcel=PARCEL)
    assert label.tracking_number == "9400100000000000000001"
    assert label.zpl == ""
    assert not [r for r, _ in httpserver.log if r.path.endswith("/buy")]


def test_easypost_422_is_permanent_with_the_carriers_message(httpserver, easypost):
    httpserver.expect_request("/v2/shipments", method="POST").respond_with_json(
        {
            "error": {
                "code": "ADDRESS.VERIFY.FAILURE",
                "message": "Unable to verify address.",
                "errors": [{"field": "zip", "message": "zip is invalid"}],
            }
        },
        status=422,
    )
    with pytest.raises(EasyPostError) as error:
        easypost.buy_label(reference="SH-12-P34", shipment_data=SHIPMENT, parcel=PARCEL)
    assert isinstance(error.value, PermanentError)
    assert str(error.value) == "Unable to verify address. (zip: zip is invalid)"
    assert error.value.code == "ADDRESS.VERIFY.FAILURE"
    assert error.value.status == 422


def test_easypost_429_is_transient_with_retry_after(httpserver, easypost):
    httpserver.expect_request("/v2/shipments", method="POST").respond_with_json(
        {"error": {"code": "RATE_LIMITED", "message": "Too many requests"}},
        status=429,
        headers={"Retry-After": "7"},
    )
    with pytest.raises(TransientError) as error:
        easypost.buy_label(reference="SH-12-P34", shipment_data=SHIPMENT, parcel=PARCEL)
    assert error.value.retry_after == 7
    assert "Too many requests" in str(error.value)


def test_easypost_500_and_timeouts_are_transient(httpserver, easypost):
    httpserver.expect_oneshot_request("/v2/shipments", method="POST").respond_with_data(
        "upstream broke", status=500
    )
    with pytest.raises(TransientError) as error:
        easypost.buy_label(reference="SH-12-P34", shipment_data=SHIPMENT, parcel=PARCEL)
    assert error.value.retry_after is None

    def slow(request: Request) -> Response:
        time.sleep(0.5)
        return Response("{}", content_type="application/json")

    httpserver.expect_oneshot_request("/v2/shipments", method="POST").respond_with_handler(slow)
    quick = EasyPostCarrier(api_key="k", base_url=httpserver.url_for(""), timeout=0.1)
    with pytest.raises(TransientError, match="in time"):
        quick.buy_label(reference="SH-12-P34", shipment_data=SHIPMENT, parcel=PARCEL)
    quick.close()


def test_easypost_a_service_it_does_not_offer_is_permanent(httpserver, easypost):
    httpserver.expect_request("/v2/shipments", method="POST").respond_with_json(
        ep_shipment(httpserver)
    )
    shipment = ShipmentData(**{**SHIPMENT.__dict__, "service": "Teleport"})
    with pytest.raises(PermanentError, match="Teleport"):
        easypost.buy_label(reference="SH-12-P34", shipment_data=shipment, parcel=PARCEL)


def test_easypost_a_lost_buy_answer_gives_the_bought_shipment(httpserver, easypost):
    shipment = ShipmentData(**{**SHIPMENT.__dict__, "service": "USPS:Priority"})
    httpserver.expect_ordered_request("/v2/shipments", method="POST").respond_with_json(
        ep_shipment(httpserver)
    )
    httpserver.expect_ordered_request("/v2/shipments/shp_123/buy", method="POST").respond_with_json(
        {"error": {"code": "SHIPMENT.POSTAGE.EXISTS", "message": "Postage already exists"}},
        status=422,
    )
    httpserver.expect_ordered_request("/v2/shipments/shp_123", method="GET").respond_with_json(
        ep_shipment(httpserver, bought=True)
    )
    httpserver.expect_ordered_request("/files/label.pdf").respond_with_data(PDF)
    label = easypost.buy_label(reference="SH-12-P34", shipment_data=shipment, parcel=PARCEL)
    assert label.carrier_reference == "shp_123"


def test_easypost_rates_and_void(httpserver, easypost):
    httpserver.expect_request("/v2/shipments", method="POST").respond_with_json(
        ep_shipment(httpserver)
    )
    rates = easypost.rate(SHIPMENT, [PARCEL, ParcelData(id=35, weight_grams=200)])
    assert [(r.service, str(r.amount)) for r in rates] == [
        ("GroundAdvantage", "11.86"),
        ("Priority", "16.30"),
    ]
    httpserver.expect_request("/v2/shipments/shp_123/refund", method="POST").respond_with_json(
        {"id": "shp_123", "refund_status": "submitted"}
    )
    easypost.void(Label(tracking_number="9400", carrier_reference="shp_123", pdf=PDF))


def tracker(status: str = "in_transit") -> dict:
    return {
        "id": "trk_1",
        "object": "Tracker",
        "tracking_code": "9400100000000000000001",
        "status": status,
        "public_url": "https://track.easypost.com/djE6dHJrXzE",
        "tracking_details": [
            {
                "object": "TrackingDetail",
                "message": "Pre-Shipment Info Sent to USPS",
                "status": "pre_transit",
                "status_detail": "status_update",
                "datetime": "2026-03-01T08:00:00Z",
                "tracking_location": {"city": None, "state": None, "country": None, "zip": None},
            },
            {
                "object": "TrackingDetail",
                "message": "Arrived at USPS Facility",
                "status": status,
                "status_detail": "arrived_at_facility",
                "datetime": "2026-03-02T09:30:00Z",
                "tracking_location": {
                    "city": "COLUMBIA",
                    "state": "SC",
                    "country": "US",
                    "zip": "29201",
                },
            },
        ],
    }


def test_easypost_track(httpserver, easypost):
    httpserver.expect_request("/v2/trackers/trk_1", method="GET").respond_with_json(tracker())
    events = easypost.track("trk_1")
    assert [e.status for e in events] == ["pre_transit", "in_transit"]
    assert events[1].place == "COLUMBIA, SC, 29201, US"
    assert events[1].tracking_number == "9400100000000000000001"
    assert len({e.external_id for e in events}) == 2
    assert easypost.track("trk_1")[1].external_id == events[1].external_id  # stable
    httpserver.expect_request(
        "/v2/trackers", method="GET", query_string={"tracking_code": "X1", "page_size": "1"}
    ).respond_with_json({"trackers": [], "has_more": False})
    assert easypost.track("X1") == []


def test_easypost_webhook_signature(easypost):
    body = json.dumps(
        {"object": "Event", "id": "evt_1", "description": "tracker.updated", "result": tracker()}
    ).encode()
    digest = hmac.new(b"whsec", body, hashlib.sha256).hexdigest()
    events = easypost.parse_tracking_webhook(
        {"X-Hmac-Signature": f"hmac-sha256-hex={digest}"}, body
    )
    assert [e.status for e in events] == ["pre_transit", "in_transit"]
    with pytest.raises(PermanentError, match="signature"):
        easypost.parse_tracking_webhook({"X-Hmac-Signature": "hmac-sha256-hex=00"}, body)
    with pytest.raises(PermanentError, match="signature"):
        easypost.parse_tracking_webhook({}, body)
    other = json.dumps({"object": "Event", "description": "batch.created", "result": {}}).encode()
    sig = hmac.new(b"whsec", other, hashlib.sha256).hexdigest()
    assert (
        easypost.parse_tracking_webhook({"x-hmac-signature": f"hmac-sha256-hex={sig}"}, other) == []
    )
