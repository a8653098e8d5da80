"""A customer's personal data, exported and erased on request, across every app.

The person below has been everywhere: an API order (stored with its Idempotency-Key answer),
an address change, a note, a confirmation e-mail, a shipment with a label and tracking, a
rejected return with a comment, a refund, a channel webhook and a failed channel record, and
an admin log entry. After the erasure no text, JSON or binary column of any row of the
database holds one of their values, while the business (orders, lines, amounts, the stock
ledger) is untouched.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import models

from channels.models import ChannelSyncFailure, ChannelSyncRun
from fulfilment.models import Parcel, Shipment, ShippingLabel, TrackingEvent
from fulfilment.notifications import order_email_send
from fulfilment.services import shipment_pack, shipment_pick, shipment_ship
from inventory.models import StockLevel, StockMovement
from oms.models import IdempotencyKey, InboundWebhook
from oms.roles import CUSTOMER_CARE, INTEGRATOR, MANAGER
from orders.models import Customer, Order, OrderLine, PrivacyRequest
from orders.services import order_capture, order_note_add, order_shipping_address_update
from orders.services.privacy import (
    ErasureBlocked,
    customer_data_erase,
    customer_data_export,
)
from returns.models import Refund, ReturnRequest
from returns.services import return_cancel, return_create
from returns.services.refunds import refund_create
from tests.conftest import token_client
from tests.factories import UserFactory
from tests.fulfilment.conftest import network, put
from tests.returns.conftest import reasons

__all__ = ["network", "reasons"]

EMAIL = "annabel.schmidtke@example.org"
FIRST, LAST = "Annabel", "Schmidtke"
PHONE = "+49 170 5550123"
OLD_LINE1, LINE1, LINE2 = "Lindenweg 3", "Kastanienallee 77", "Hinterhaus links"
POSTCODE, CITY = "20095", "Hamburg"
#: Every value of the person: none may survive the erasure anywhere.
PERSONAL = [EMAIL, FIRST, LAST, PHONE, OLD_LINE1, LINE1, LINE2, "5550123", "Please ring twice"]
OTHER_EMAIL = "someone.else@example.net"


_numbers = iter(range(1, 10**6))


def order_of(email: str, sku: str = "A", **customer: str) -> Order:
    """A paid order of one unit, routed and allocated at once."""
    placed = order_capture(
        channel="web",
        external_id=f"P-{next(_numbers)}",
        currency="EUR",
        lines=[{"sku": sku, "quantity": 1, "unit_price": "10.00"}],
        customer={"email": email, **customer},
        shipping_address={
            "name": "Someone",
            "line1": "Elsewhere 1",
            "postal_code": "10117",
            "city": "Berlin",
            "country": "DE",
        },
        payment_status="paid",
    ).order
    placed.refresh_from_db()  # routed after the capture committed
    return placed


def ship(o: Order) -> Order:
    """Pick, pack and ship the order's open shipments."""
    for shipment in Shipment.objects.filter(order=o).exclude(status="cancelled"):
        shipment_pick(
            shipment=shipment,
            lines=[(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()],
        )
        shipment_pack(shipment=shipment, parcels=[{"weight_grams": 500}])
        shipment_ship(shipment=shipment, carrier="dhl", tracking_number=f"T{shipment.pk}")
    o.refresh_from_db()
    return o


def address(line1: str) -> dict[str, Any]:
    return {
        "name": f"{FIRST} {LAST}",
        "line1": line1,
        "line2": LINE2,
        "postal_code": POSTCODE,
        "city": CITY,
        "country": "DE",
        "phone": PHONE,
        "latitude": 53.5511,
        "longitude": 9.9937,
    }


@pytest.fixture
def person(network, reasons, settings):
    """The customer, their shipped order everywhere, and another customer's order."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    put(network, "BER", "A", 10)
    put(network, "BER", "B", 10)
    api = token_client(INTEGRATOR)
    payload = {
        "channel": "web",
        "external_id": "SHOP-4711",
        "currency": "EUR",
        "customer": {"email": EMAIL, "first_name": FIRST, "last_name": LAST, "phone": PHONE},
        "shipping_address": address(OLD_LINE1),
        "billing_address": address(OLD_LINE1),
        "lines": [{"sku": "A", "quantity": 2, "unit_price": "10.00"}],
        "shipping_price": "4.95",
        "payment_status": "paid",
        "notes": "Please ring twice",
    }
    response = api.post("/api/v1/orders/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 201, response.json()
    placed = Order.objects.get(external_id="SHOP-4711")
    order_shipping_address_update(order=placed, address=address(LINE1), actor="care")
    order_note_add(order=placed, text=f"{FIRST} {LAST} asked for gift wrap", actor="care")
    assert order_email_send(order_id=placed.pk, kind="confirmed")
    placed = ship(placed)
    shipment = Shipment.objects.get(order=placed, status="shipped")
    Parcel.objects.create(shipment=shipment, weight_grams=400)
    ShippingLabel.objects.create(
        parcel=Parcel.objects.filter(shipment=shipment).last(),
        shipment=shipment,
        carrier="inhouse",
        service="standard",
        tracking_number="TRK-1",
        pdf=f"%PDF ship to {FIRST} {LAST} {LINE1}".encode(),
        zpl=f"^XA^FD{FIRST} {LAST}^FS^FD{LINE1}^FS^XZ",
    )
    TrackingEvent.objects.create(
        shipment=shipment,
        external_id="ev-1",
        status="delivered",
        description=f"Delivered to {FIRST} {LAST}",
        place=CITY,
        occurred_at=placed.placed_at,
        raw={"signed_by": LAST, "address": {"street": LINE1, "city": CITY}},
    )
    line = placed.lines.get()
    ret = return_create(
        order=placed,
        lines=[{"order_line": line.pk, "quantity": 1, "reason": "damaged"}],
        comment=f"Too small. Call me on {PHONE}",
        source="shopper",
        actor="shopper",
    )
    return_cancel(return_request=ret, reason="changed their mind", actor="care")
    refund_create(order=placed, amount=Decimal("5.00"), reason=f"Goodwill for {FIRST} {LAST}")
    channel = network["channel"]
    InboundWebhook.objects.create(
        kind="channel",
        source=channel.code,
        channel_id=channel.pk,
        delivery_id="wh-1",
        topic="orders/updated",
        payload={
            "id": 4711,
            "email": EMAIL,
            "customer": {"first_name": FIRST, "last_name": LAST, "phone": PHONE},
            "shipping_address": {"address1": LINE1, "zip": POSTCODE, "country_code": "DE"},
            "total_price": "24.95",
        },
    )
    run = ChannelSyncRun.objects.create(channel=channel, trigger="schedule")
    ChannelSyncFailure.objects.create(
        run=run,
        channel=channel,
        external_id="SHOP-4711",
        reason="unknown SKU",
        raw={"id": "SHOP-4711", "contact_email": EMAIL, "note": "Please ring twice"},
    )
    customer = Customer.objects.get(email=EMAIL)
    LogEntry.objects.create(
        user=UserFactory(),
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=str(customer.pk),
        object_repr=str(customer),
        action_flag=CHANGE,
        change_message=f"Changed phone of {FIRST}.",
    )
    other = order_of(OTHER_EMAIL, "B", first_name="Otto")
    return {"customer": customer, "order": placed, "other": other, "return": ret}


def database_text() -> str:
    """Every text, JSON and binary value of every row of the database, as one string."""
    chunks = []
    kinds = (models.CharField, models.TextField, models.JSONField, models.BinaryField)
    for model in apps.get_models():
        fields = [f.attname for f in model._meta.concrete_fields if isinstance(f, kinds)]
        if not fields:
            continue
        for row in model._base_manager.values_list(*fields):
            for value in row:
                if isinstance(value, bytes | memoryview):
                    chunks.append(bytes(value).decode("latin-1"))
                elif value is not None:
                    chunks.append(json.dumps(value, ensure_ascii=False))
    return "\n".join(chunks).casefold()


# --- export ------------------------------------------------------------------------------------


def test_the_export_holds_everything_about_the_person_and_is_not_stored(person):
    request, document = customer_data_export(
        customer=person["customer"], source="admin", requested_by="boss"
    )
    assert document["format"] == "oms-personal-data/1"
    assert document["customer"]["email"] == EMAIL
    assert document["customer"]["phone"] == PHONE
    [exported] = document["orders"]
    assert exported["external_id"] == "SHOP-4711"
    assert exported["shipping_address"]["line1"] == LINE1
    assert exported["billing_address"]["line1"] == OLD_LINE1
    assert exported["notes"] == "Please ring twice"
    assert exported["lines"][0]["sku"] == "A"
    assert exported["lines"][0]["quantity"] == 2
    assert exported["channel_payload"]["customer"]["email"] == EMAIL
    kinds = [event["kind"] for event in exported["timeline"]]
    assert "address_changed" in kinds
    assert "note" in kinds
    assert document["emails_sent"] == [
        {
            "order": person["order"].number,
            "email": "confirmed",
            "to": EMAIL,
            "at": document["emails_sent"][0]["at"],
        }
    ]
    assert document["returns"]["returns"][0]["comment"] == f"Too small. Call me on {PHONE}"
    assert document["returns"]["refunds"][0]["reason"] == f"Goodwill for {FIRST} {LAST}"
    [shipped] = [s for s in document["fulfilment"]["shipments"] if s["status"] == "shipped"]
    assert shipped["tracking_events"][0]["place"] == CITY
    assert document["channels"]["webhook_deliveries"][0]["payload"]["email"] == EMAIL
    assert document["channels"]["failed_records"][0]["payload"]["contact_email"] == EMAIL
    assert OTHER_EMAIL not in json.dumps(document)
    # Recorded, with counts and no copy of the export.
    assert request.kind == "export"
    assert request.status == "completed"
    assert request.completed_at is not None
    assert request.summary["orders"] == 1
    assert request.summary["returns.returns"] == 1
    assert "Please ring twice" not in json.dumps(request.summary)


def test_an_export_by_email_finds_the_same_person(person):
    _, document = customer_data_export(email=EMAIL.upper(), source="api", requested_by="x")
    assert document["customer"]["id"] == person["customer"].pk
    assert len(document["orders"]) == 1


# --- erasure -----------------------------------------------------------------------------------


def test_the_erasure_leaves_no_personal_value_anywhere_and_keeps_the_business(person):
    placed, other = person["order"], person["other"]
    before_text = database_text()
    for value in PERSONAL:
        assert value.casefold() in before_text, value  # the test would see them
    lines_before = list(
        OrderLine.objects.order_by("pk").values_list("pk", "quantity", "unit_price")
    )
    ledger_before = list(
        StockMovement.objects.order_by("pk").values_list("pk", "on_hand_delta", "reserved_delta")
    )
    levels_before = list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved"))
    old_token = placed.tracking_token

    request = customer_data_erase(customer=person["customer"], source="admin", requested_by="boss")

    text = database_text()
    survivors = [value for value in PERSONAL if value.casefold() in text]
    assert survivors == []
    assert OTHER_EMAIL in text  # the other customer is untouched
    # The business is intact.
    placed.refresh_from_db()
    assert placed.status == "shipped"
    assert placed.total == Decimal("24.95")
    assert placed.shipping_address == {"country": "DE"}
    assert placed.ship_country == "DE"
    assert placed.customer_id == person["customer"].pk
    assert placed.personal_data_erased_at is not None
    assert placed.tracking_token != old_token
    lines = list(OrderLine.objects.order_by("pk").values_list("pk", "quantity", "unit_price"))
    assert lines == lines_before
    assert (
        list(
            StockMovement.objects.order_by("pk").values_list(
                "pk", "on_hand_delta", "reserved_delta"
            )
        )
        == ledger_before
    )
    assert list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")) == (
        levels_before
    )
    call_command("inventory_audit")  # raises CommandError on any drift
    assert ReturnRequest.objects.get().status == "cancelled"
    assert Refund.objects.get().amount == Decimal("5.00")
    assert ShippingLabel.objects.get().tracking_number == "TRK-1"
    customer = Customer.objects.get(pk=person["customer"].pk)
    assert customer.email == f"erased-{customer.pk}@erased.invalid"
    assert customer.erased_at is not None
    other.refresh_from_db()
    assert other.email == OTHER_EMAIL
    assert other.personal_data_erased_at is None
    # Recorded, without the e-mail.
    assert request.status == "completed"
    assert request.subject_email == ""
    assert request.summary["orders"] == 1
    assert request.summary["customers"] == 1
    assert request.summary["fulfilment.labels"] == 1
    assert PrivacyRequest.objects.filter(subject_key=request.subject_key).count() == 1


def test_after_erasure_the_old_tracking_link_is_dead_and_search_finds_nothing(person, client):
    old = person["order"].tracking_token
    assert client.get(f"/track/{old}/").status_code == 200
    customer_data_erase(customer=person["customer"], source="admin", requested_by="boss")
    assert client.get(f"/track/{old}/").status_code == 404
    api = token_client(MANAGER)
    found = api.get("/api/v1/orders/", {"search": LAST})
    assert found.json()["results"] == []
    assert len(api.get("/api/v1/orders/", {"search": "SHOP-4711"}).json()["results"]) == 1


def test_an_erased_label_is_not_served(person):
    customer_data_erase(customer=person["customer"], source="admin", requested_by="boss")
    shipment = Shipment.objects.get(order=person["order"], status="shipped")
    response = token_client(MANAGER).get(f"/api/v1/shipments/{shipment.pk}/label/")
    assert response.status_code == 404
    assert "erased" in response.json()["detail"]


def test_an_order_still_in_fulfilment_blocks_the_erasure_and_changes_nothing(person, network):
    open_order = order_of(EMAIL, first_name=FIRST, last_name=LAST)
    assert open_order.status == "allocated", list(open_order.events.values_list("kind", "data"))
    before = database_text()
    with pytest.raises(ErasureBlocked) as blocked:
        customer_data_erase(customer=person["customer"], source="admin", requested_by="boss")
    assert f"order {open_order.number} is allocated" in blocked.value.detail
    assert blocked.value.code == "erasure_blocked"
    request = PrivacyRequest.objects.get(kind="erase")
    assert request.status == "blocked"
    assert f"order {open_order.number} is allocated" in request.detail
    # Nothing else changed (the request row is the only new text).
    after = database_text()
    assert EMAIL.casefold() in after
    assert len(after) >= len(before)
    assert Order.objects.filter(personal_data_erased_at__isnull=False).count() == 0


def test_an_open_return_blocks_the_erasure(person):
    placed = person["order"]
    line = placed.lines.get()
    return_create(
        order=placed,
        lines=[{"order_line": line.pk, "quantity": 1, "reason": "damaged"}],
        actor="care",
    )
    with pytest.raises(ErasureBlocked, match="is requested"):
        customer_data_erase(customer=person["customer"], source="admin", requested_by="boss")


def test_a_blocked_request_runs_again_once_the_orders_shipped(person, network):
    from orders.services.privacy import privacy_request_run

    open_order = order_of(EMAIL)
    with pytest.raises(ErasureBlocked):
        customer_data_erase(customer=person["customer"], source="admin", requested_by="boss")
    ship(open_order)
    request = privacy_request_run(request=PrivacyRequest.objects.get(), actor="boss")
    assert request.status == "completed"
    assert request.summary["orders"] == 2
    assert EMAIL.casefold() not in database_text()


# --- API ---------------------------------------------------------------------------------------


def test_api_export_needs_the_permission_and_is_not_kept_for_replays(person):
    url = f"/api/v1/customers/{person['customer'].pk}/export/"
    for role in (INTEGRATOR, CUSTOMER_CARE):
        refused = token_client(role).post(url)
        assert refused.status_code == 403
        assert refused.json()["code"] == "permission_denied"
    manager = token_client(MANAGER)
    keys_before = IdempotencyKey.objects.count()
    response = manager.post(url, HTTP_IDEMPOTENCY_KEY="export-1")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response.json()["customer"]["email"] == EMAIL
    assert IdempotencyKey.objects.count() == keys_before  # the export is not stored
    assert PrivacyRequest.objects.get(kind="export").source == "api"


def test_api_erase_answers_the_record_and_409_while_in_fulfilment(person, network):
    manager = token_client(MANAGER)
    customer = person["customer"]
    blocker = order_of(EMAIL)
    refused = manager.post(f"/api/v1/customers/{customer.pk}/erase/")
    assert refused.status_code == 409
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "erasure_blocked"
    assert blocker.number in refused.json()["detail"]
    ship(blocker)
    done = manager.post(f"/api/v1/customers/{customer.pk}/erase/")
    assert done.status_code == 200
    body = done.json()
    assert body["kind"] == "erase"
    assert body["status"] == "completed"
    assert body["source"] == "api"
    assert body["summary"]["orders"] == 2
    assert token_client(INTEGRATOR).post(f"/api/v1/customers/{customer.pk}/erase/").status_code == (
        403
    )
    shown = manager.get(f"/api/v1/customers/{customer.pk}/").json()
    assert shown["email"].endswith("@erased.invalid")
    assert shown["erased_at"] is not None


def test_api_lists_customers_by_email(person):
    response = token_client(CUSTOMER_CARE).get("/api/v1/customers/", {"email": EMAIL.upper()})
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [person["customer"].pk]


# --- admin -------------------------------------------------------------------------------------


def admin_client(client, *roles, superuser=False):
    user = UserFactory(roles=list(roles), is_staff=True, is_superuser=superuser)
    client.force_login(user)
    return client


CHANGELIST = "/admin/orders/customer/"


def test_admin_export_downloads_the_json(person, client):
    admin_client(client, MANAGER)
    response = client.post(
        CHANGELIST,
        {"action": "export_personal_data", "_selected_action": [person["customer"].pk]},
    )
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert json.loads(response.content)["customer"]["email"] == EMAIL
    assert PrivacyRequest.objects.get().source == "admin"


def test_admin_erase_asks_for_confirmation_then_erases(person, client):
    admin_client(client, MANAGER)
    data = {"action": "erase_personal_data", "_selected_action": [person["customer"].pk]}
    page = client.post(CHANGELIST, data)
    assert page.status_code == 200
    assert b"cannot be undone" in page.content
    assert Customer.objects.get(pk=person["customer"].pk).erased_at is None
    done = client.post(CHANGELIST, {**data, "post": "yes"}, follow=True)
    assert done.status_code == 200
    assert b"personal data erased" in done.content
    assert Customer.objects.get(pk=person["customer"].pk).erased_at is not None
    assert client.get("/admin/orders/privacyrequest/").status_code == 200


def test_customer_care_has_neither_action(person, client):
    admin_client(client, CUSTOMER_CARE)
    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert b"erase_personal_data" not in page.content
    assert b"export_personal_data" not in page.content
    refused = client.post(
        CHANGELIST,
        {
            "action": "erase_personal_data",
            "_selected_action": [person["customer"].pk],
            "post": "yes",
        },
    )
    assert refused.status_code in (200, 302)
    assert Customer.objects.get(pk=person["customer"].pk).erased_at is None


def test_the_manager_role_carries_the_permission(db):
    assert UserFactory(roles=[MANAGER]).has_perm("orders.manage_personal_data")
    assert not UserFactory(roles=[CUSTOMER_CARE]).has_perm("orders.manage_personal_data")
    assert not UserFactory(roles=[INTEGRATOR]).has_perm("orders.manage_personal_data")
