"""A held order is not fulfilled (API.md: 409 `order_on_hold`): the API, the services, the labels
task, the 3PL hand-off and the back office refuse to progress its shipments and change nothing;
a hold flags the order's open shipments in the queue, and the release clears exactly those flags
and resumes what the hold stopped (labels asked for again, the 3PL hand-off sent again)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import messages
from django.test import Client

from fulfilment import services
from fulfilment.models import Parcel, RoutingRule, Shipment, ShippingLabel
from fulfilment.services import labels as label_services
from fulfilment.services.labels import (
    shipment_attention_flag,
    shipment_label_retry,
    shipment_ship_request,
)
from fulfilment.services.partners import partner_create, shipment_partner_resend
from fulfilment.tasks import labels_buy, partner_send
from inventory.models import StockLevel, StockMovement
from inventory.selectors import ledger_drift
from oms.celery import app as celery_app
from oms.errors import OrderOnHold
from oms.inbox import inbox_process
from oms.models import InboundWebhook
from oms.roles import WAREHOUSE
from orders.models import Order, OrderEvent
from orders.services import order_cancel, order_hold, order_release
from tests.factories import UserFactory
from tests.fulfilment.conftest import order, put
from tests.fulfilment.test_labels import RacingCarrier, enqueued
from tests.fulfilment.test_partners import SECRET, confirm
from tests.outbox import run_outbox

SHIPMENTS = "/admin/fulfilment/shipment/"
PACK = "/admin/fulfilment/shipment/pack/"
FRAUD = "Order on hold: Fraud review (card used in three countries)"


def hold(shipment: Shipment, reason: str = "fraud_review", note: str = "") -> None:
    order_hold(
        order=shipment.order_id,
        reason=reason,
        note=note or ("card used in three countries" if reason == "fraud_review" else ""),
        actor="care",
    )


def shipment_at(network, stage: str, city: str = "HAMBURG") -> Shipment:
    """A shipment at BER (2 A, 1 B) brought to `stage`: pending, picking or packed."""
    put(network, "BER", "A", 10)
    put(network, "BER", "B", 10)
    shipment = Shipment.objects.get(order=order(city, {"A": 2, "B": 1}))
    assert shipment.location.code == "BER"
    if stage in ("picking", "packed"):
        services.shipment_pick(
            shipment=shipment,
            lines=[(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()],
        )
    if stage == "packed":
        services.shipment_pack(shipment=shipment, parcels=[{"weight_grams": 900}])
    shipment.refresh_from_db()
    assert shipment.status == stage
    return shipment


def state(shipment: Shipment) -> dict[str, Any]:
    """Everything a fulfilment command could change."""
    shipment.refresh_from_db()
    return {
        "shipment": (
            shipment.status,
            shipment.carrier,
            shipment.service,
            shipment.tracking_number,
            shipment.picked_at,
            shipment.packed_at,
            shipment.shipped_at,
            shipment.needs_attention,
            shipment.attention_message,
        ),
        "lines": list(
            shipment.lines.order_by("pk").values_list(
                "quantity", "quantity_picked", "quantity_packed"
            )
        ),
        "order": Order.objects.filter(pk=shipment.order_id)
        .values_list("status", "is_on_hold", "search_text")
        .get(),
        "order_lines": list(
            shipment.order.lines.order_by("pk").values_list(
                "quantity_allocated", "quantity_shipped"
            )
        ),
        "parcels": Parcel.objects.count(),
        "labels": ShippingLabel.objects.count(),
        "levels": sorted(StockLevel.objects.values_list("pk", "on_hand", "reserved")),
        "movements": StockMovement.objects.count(),
        "events": OrderEvent.objects.filter(order_id=shipment.order_id).count(),
        "shipments": Shipment.objects.count(),
    }


def message_list(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in response.context["messages"]]


def staff(*roles: str) -> Client:
    client = Client()
    client.force_login(UserFactory(roles=list(roles), is_staff=True))
    return client


def run_action(client: Client, action: str, shipments: list[Shipment]):
    return client.post(
        SHIPMENTS,
        {"action": action, "_selected_action": [s.pk for s in shipments], "index": "0"},
        follow=True,
    )


@pytest.fixture
def eager():
    """Tasks enqueued after a commit run at once, in this process."""
    conf = celery_app.conf
    before = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield
    conf.task_always_eager, conf.task_eager_propagates = before


# --- the API ------------------------------------------------------------------------------------


def _pick_body(shipment: Shipment) -> dict[str, Any]:
    return {
        "lines": [
            {"order_line": ln.order_line_id, "quantity": ln.quantity} for ln in shipment.lines.all()
        ]
    }


COMMANDS: dict[str, tuple[str, str, Callable[[Shipment], dict[str, Any]], int]] = {
    # case: (stage, command, body, status once released)
    "pick": ("pending", "pick", _pick_body, 200),
    "pack": ("picking", "pack", lambda s: {"parcels": [{"weight_grams": 900}]}, 200),
    "ship_with_a_carrier": (
        "packed",
        "ship",
        lambda s: {"carrier": "inhouse", "service": "standard"},
        202,
    ),
    "ship_with_a_tracking_number": (
        "packed",
        "ship",
        lambda s: {"carrier": "dhl", "service": "parcel", "tracking_number": "JD0001"},
        200,
    ),
}


@pytest.mark.parametrize("case", list(COMMANDS))
def test_the_api_refuses_to_fulfil_a_held_order_and_changes_nothing(
    warehouse_api, network, case, django_capture_on_commit_callbacks
):
    stage, command, body, released_status = COMMANDS[case]
    shipment = shipment_at(network, stage)
    hold(shipment)
    enqueued()  # an empty queue to start with
    before = state(shipment)
    url = f"/api/v1/shipments/{shipment.pk}/{command}/"

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = warehouse_api.post(url, body(shipment), format="json")

    assert response.status_code == 409, response.json()
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "order_on_hold"
    assert problem["type"] == "urn:oms:problem:order_on_hold"
    assert "Fraud review (card used in three countries)" in problem["detail"]
    assert state(shipment) == before
    assert callbacks == []
    assert enqueued() == []

    # Released, the same request goes through.
    order_release(order=shipment.order_id, actor="care")
    with django_capture_on_commit_callbacks(execute=True):
        again = warehouse_api.post(url, body(shipment), format="json")
    assert again.status_code == released_status, again.json()
    assert ledger_drift() == []


def test_a_held_orders_shipment_may_still_be_cancelled(warehouse_api, network):
    shipment = shipment_at(network, "picking")
    hold(shipment)
    response = warehouse_api.post(
        f"/api/v1/shipments/{shipment.pk}/cancel/", {"reason": "customer wants it"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    level = StockLevel.objects.get(sku__code="A", location__code="BER")
    assert level.reserved == 0
    # Routing waits for the release: no new shipment for a held order.
    assert Shipment.objects.filter(order_id=shipment.order_id).count() == 1
    assert ledger_drift() == []


def test_a_shipped_parcel_of_a_held_order_is_still_delivered(network):
    shipment = shipment_at(network, "packed")
    services.shipment_ship(shipment=shipment, carrier="dhl", tracking_number="JD0002")
    hold(shipment, reason="customer_care", note="says the parcel is late")
    shipment.refresh_from_db()
    assert not shipment.needs_attention  # a shipped shipment is not in the queue any more
    assert services.shipment_deliver(shipment=shipment.pk).status == "delivered"


def test_the_ship_and_label_services_refuse_a_held_order(network):
    packed = shipment_at(network, "packed")
    shipment_ship_request(shipment=packed, carrier="inhouse")
    hold(packed)
    before = state(packed)
    for call in (
        lambda: services.shipment_ship(shipment=packed, tracking_number="X1"),
        lambda: shipment_ship_request(shipment=packed, carrier="inhouse"),
        lambda: shipment_label_retry(shipment=packed),
    ):
        with pytest.raises(OrderOnHold, match="Fraud review"):
            call()
    assert state(packed) == before


# --- labels -------------------------------------------------------------------------------------


def test_the_labels_task_buys_nothing_for_an_order_held_after_the_label_was_asked_for(network):
    shipment = shipment_at(network, "packed")
    shipment_ship_request(shipment=shipment, carrier="inhouse", service="standard")
    enqueued()
    hold(shipment)
    shipment.refresh_from_db()
    assert (shipment.needs_attention, shipment.attention_message) == (True, FRAUD)

    assert labels_buy(shipment_id=shipment.pk) == "packed"
    assert ShippingLabel.objects.count() == 0

    # A shipment the hold did not flag (held before fulfilment subscribed to holds): the run
    # flags it itself, and still buys nothing.
    Shipment.objects.filter(pk=shipment.pk).update(needs_attention=False, attention_message="")
    assert labels_buy(shipment_id=shipment.pk) == "packed"
    assert ShippingLabel.objects.count() == 0
    shipment.refresh_from_db()
    assert (shipment.needs_attention, shipment.attention_message) == (True, FRAUD)
    event = OrderEvent.objects.get(order_id=shipment.order_id, kind="label_held")
    assert event.data == {"shipment": shipment.pk, "message": FRAUD}


def test_a_hold_placed_while_the_labels_are_bought_keeps_them_and_stops_the_ship(
    network, monkeypatch, django_capture_on_commit_callbacks
):
    shipment = shipment_at(network, "packed")
    shipment_ship_request(shipment=shipment, carrier="inhouse")
    carrier = RacingCarrier()
    carrier.race = lambda: hold(shipment)
    monkeypatch.setattr(label_services, "carrier_for", lambda code: carrier)
    enqueued()

    assert run_outbox("fulfilment.labels_buy") == 1  # the purchase asked for above
    assert list(ShippingLabel.objects.values_list("tracking_number", flat=True)) == ["RACE1"]
    assert carrier.voided == []  # paid for, and it will be used
    shipment.refresh_from_db()
    assert (shipment.needs_attention, shipment.attention_message) == (True, FRAUD)

    with django_capture_on_commit_callbacks(execute=True):
        order_release(order=shipment.order_id, actor="care")
    assert enqueued() == [("fulfilment.labels_buy", {"shipment_id": shipment.pk, "actor": "care"})]
    assert labels_buy(shipment_id=shipment.pk) == "shipped"
    assert carrier.sold == 1  # nothing bought twice
    shipment.refresh_from_db()
    assert (shipment.tracking_number, shipment.needs_attention) == ("RACE1", False)
    assert ledger_drift() == []


# --- the hold flags -----------------------------------------------------------------------------


def test_a_hold_flags_the_open_shipments_and_the_release_clears_them_and_asks_for_labels(
    network, django_capture_on_commit_callbacks
):
    put(network, "BER", "A", 5)
    put(network, "MUC", "B", 5)
    put(network, "PAR", "C", 5)
    o = order("HAMBURG", {"A": 1, "B": 1, "C": 1})
    ber, muc = (Shipment.objects.get(order=o, location__code=c) for c in ("BER", "MUC"))
    assert Shipment.objects.filter(order=o, location__code="PAR").exists()
    for shipment in (ber, muc):
        services.shipment_pick(
            shipment=shipment,
            lines=[(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()],
        )
    services.shipment_pack(shipment=ber, parcels=[{"weight_grams": 300}])
    shipment_ship_request(shipment=ber, carrier="inhouse")  # the label is asked for
    shipment_attention_flag(shipment=muc, message="Scanner broke at the packing table")
    enqueued()

    hold(ber, reason="customer_care", note="customer called")
    flags = {
        s.location.code: (s.status, s.needs_attention, s.attention_message)
        for s in Shipment.objects.filter(order=o).select_related("location")
    }
    assert flags == {
        "BER": ("packed", True, "Order on hold: Customer care (customer called)"),
        "MUC": ("picking", True, "Scanner broke at the packing table"),  # its own reason stays
        "PAR": ("pending", True, "Order on hold: Customer care (customer called)"),
    }
    # A second hold names both; releasing one of them keeps the flags.
    hold(ber, reason="fraud_review")
    ber.refresh_from_db()
    assert ber.attention_message == (
        "Order on hold: Customer care (customer called); "
        "Fraud review (card used in three countries)"
    )
    order_release(order=o, reason="fraud_review", actor="care")
    assert Shipment.objects.filter(order=o, needs_attention=True).count() == 3
    assert run_outbox("fulfilment.labels_buy") == 1  # the queued purchase buys nothing
    assert ShippingLabel.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        order_release(order=o, note="called back", actor="care")
    flags = {
        s.location.code: (s.needs_attention, s.attention_message)
        for s in Shipment.objects.filter(order=o).select_related("location")
    }
    assert flags == {
        "BER": (False, ""),
        "MUC": (True, "Scanner broke at the packing table"),
        "PAR": (False, ""),
    }
    # Only the packed shipment whose label was asked for asks again.
    assert enqueued() == [("fulfilment.labels_buy", {"shipment_id": ber.pk, "actor": "care"})]
    retry = OrderEvent.objects.get(order=o, kind="label_retry")
    assert retry.actor == "care"
    assert retry.data["previous"].startswith("Order on hold: Customer care")
    assert labels_buy(shipment_id=ber.pk) == "shipped"
    assert ShippingLabel.objects.filter(shipment=ber).count() == 1


def test_cancelling_a_held_order_clears_the_flags_and_asks_for_nothing(
    network, django_capture_on_commit_callbacks
):
    shipment = shipment_at(network, "picking")
    hold(shipment)
    enqueued()
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=shipment.order_id, reason="fraud confirmed", actor="care")
    shipment.refresh_from_db()
    assert (shipment.needs_attention, shipment.attention_message) == (False, "")
    assert enqueued() == []
    assert not Order.objects.get(pk=shipment.order_id).is_on_hold


# --- 3PL partners -------------------------------------------------------------------------------


@pytest.fixture
def london(network, httpserver):
    """The London 3PL (GB only) with a partner at the fake server; a pending shipment there
    whose hand-off task has not run yet."""
    rule = RoutingRule.objects.create(name="LON serves GB", kind="serves", countries="GB")
    rule.locations.set([network["locations"]["LON"]])
    put(network, "LON", "A", 5)
    partner_create(
        location=network["locations"]["LON"],
        name="UK Fulfilment Ltd",
        endpoint=httpserver.url_for("/orders"),
        secret=SECRET,
        countries="gb",
    )
    shipment = Shipment.objects.get(order=order("LONDON", {"A": 2}))
    assert (shipment.location.code, shipment.status) == ("LON", "pending")
    return shipment


def test_a_held_orders_3pl_shipment_is_handed_off_only_after_the_release(
    london, httpserver, eager, django_capture_on_commit_callbacks
):
    hold(london)
    assert partner_send(shipment_id=london.pk) == "skipped: the order is on hold"
    assert run_outbox("fulfilment.partner_send") == 1  # the hand-off routing asked for: skipped
    assert httpserver.log == []
    with pytest.raises(OrderOnHold):
        shipment_partner_resend(shipment=london.pk)
    with pytest.raises(OrderOnHold):
        services.shipment_send_to_3pl(shipment=london.pk)
    london.refresh_from_db()
    assert (london.status, london.attention_message) == ("pending", FRAUD)

    httpserver.expect_oneshot_request("/orders", method="POST").respond_with_data("", status=201)
    with django_capture_on_commit_callbacks(execute=True):
        order_release(order=london.order_id, actor="care")
    assert len(httpserver.log) == 1
    london.refresh_from_db()
    assert (london.status, london.needs_attention, london.attention_message) == ("sent", False, "")
    assert OrderEvent.objects.filter(order_id=london.order_id, kind="partner_send_again").exists()


def test_what_a_partner_did_for_a_held_order_is_recorded(london, client):
    services.shipment_send_to_3pl(shipment=london)
    hold(london, reason="customer_care", note="address doubt")
    london.refresh_from_db()
    assert (london.status, london.needs_attention) == ("sent", True)

    response = confirm(
        client, {"type": "shipment.shipped", "shipment": london.pk, "tracking_number": "RM1GB"}
    )
    assert response.status_code == 200
    hook = InboundWebhook.objects.get()
    assert inbox_process(inbox_id=hook.pk).status == "processed"
    london.refresh_from_db()
    assert (london.status, london.tracking_number) == ("shipped", "RM1GB")
    assert london.attention_message == "Order on hold: Customer care (address doubt)"
    assert ledger_drift() == []


# --- the back office ----------------------------------------------------------------------------


def test_the_shipment_actions_refuse_a_held_order_per_shipment(network):
    warehouse = staff(WAREHOUSE)
    held = shipment_at(network, "pending")
    free = shipment_at(network, "pending", city="BERLIN")
    hold(held)
    before = state(held)

    response = run_action(warehouse, "mark_picked", [held, free])
    assert response.status_code == 200
    found = message_list(response)
    assert (
        messages.ERROR,
        f"SH-{held.pk} not marked picked: Order {held.order.number} is on hold "
        f"(Fraud review (card used in three countries)): shipment {held.pk} is not picked "
        "until the order is released.",
    ) in found
    assert (messages.SUCCESS, f"SH-{free.pk} picked: 3 units. Pack it at the pack station.") in (
        found
    )
    assert state(held) == before

    pick_list = run_action(warehouse, "print_pick_list", [held])
    assert (
        messages.WARNING,
        f"SH-{held.pk} is left off the pick list: order {held.order.number} is on hold "
        "(Fraud review (card used in three countries)).",
    ) in message_list(pick_list)
    assert state(held) == before


def test_the_label_actions_and_pages_refuse_a_held_order(network):
    warehouse = staff(WAREHOUSE)
    packed = shipment_at(network, "packed")
    shipment_ship_request(shipment=packed, carrier="inhouse")
    hold(packed)
    enqueued()
    before = state(packed)

    for action, prefix in (
        ("ship_inhouse", f"SH-{packed.pk} not shipped: Order"),
        ("buy_label_again", f"SH-{packed.pk}: Order"),
        ("print_labels", f"SH-{packed.pk} left out: its order is on hold"),
    ):
        response = run_action(warehouse, action, [packed])
        assert response.status_code == 200
        errors = [text for level, text in message_list(response) if level == messages.ERROR]
        assert any(text.startswith(prefix) for text in errors), (action, errors)

    page = warehouse.get(f"{SHIPMENTS}{packed.pk}/ship/")
    assert page.status_code == 200
    assert "gets no label: order" in page.context["problem"]
    posted = warehouse.post(f"{SHIPMENTS}{packed.pk}/ship/", follow=True)
    assert any(
        level == messages.ERROR and "is on hold" in text for level, text in message_list(posted)
    )
    assert state(packed) == before
    assert enqueued() == []


def test_the_pack_station_refuses_a_held_order(network):
    warehouse = staff(WAREHOUSE)
    picking = shipment_at(network, "picking")
    page = warehouse.get(PACK, {"shipment": f"SH-{picking.pk}"})
    token = page.context["token"]
    for code, quantity in (("A", 2), ("B", 1)):
        token = warehouse.post(PACK, {"token": token, "scan": code, "quantity": quantity}).context[
            "token"
        ]
    hold(picking)
    before = state(picking)

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
    assert packed.status_code == 200
    expected = (
        f"SH-{picking.pk} cannot be packed: order {picking.order.number} is on hold "
        "(Fraud review (card used in three countries)). Release the order first."
    )
    assert packed.context["find_error"] == expected
    assert expected in packed.content.decode()
    again = warehouse.get(PACK, {"shipment": f"SH-{picking.pk}"})
    assert again.context["find_error"] == expected
    assert state(picking) == before


def test_the_shipment_list_shows_and_filters_held_orders(network):
    warehouse = staff(WAREHOUSE)
    held = shipment_at(network, "pending")
    free = shipment_at(network, "pending", city="BERLIN")
    hold(held)

    def listed(query: str) -> set[int]:
        response = warehouse.get(f"{SHIPMENTS}{query}")
        assert response.status_code == 200
        return {s.pk for s in response.context["cl"].result_list}

    assert listed("?order_on_hold=yes") == {held.pk}
    assert listed("?order_on_hold=no") == {free.pk}
    assert listed("?needs_attention__exact=1") == {held.pk}
    html = warehouse.get(SHIPMENTS).content.decode()
    assert "⚠ Order on hold: Fraud review" in html
