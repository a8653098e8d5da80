"""Tracking: carrier events recorded once, delivery and exceptions, carrier webhooks, polling,
the tracking-events API, the shopper's tracking page and the back-office screens."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import admin
from django.db import connection, connections
from django.template import loader
from django.template.loader_tags import BlockNode
from django.test import Client

from fulfilment import services
from fulfilment.events import ShipmentException
from fulfilment.models import Shipment, TrackingEvent
from fulfilment.services import tracking
from fulfilment.tasks import tracking_poll as tracking_poll_task
from oms import events as domain_events
from oms.celery import app as celery_app
from oms.errors import PermanentError, ValidationFailed
from oms.inbox import inbox_process
from oms.models import InboundWebhook
from oms.outbox import outbox_enqueue
from oms.roles import CUSTOMER_CARE, WAREHOUSE
from orders.models import Order, OrderEvent, OrderLine
from orders.services import order_capture, order_note_add
from tests.factories import UserFactory
from tests.fulfilment.conftest import put
from tests.outbox import run_outbox

UTC = dt.UTC
T0 = dt.datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
FAKE = "fakecarrier"
FAKE_SECRET = "fake-webhook-secret"
INHOUSE_SECRET = "inhouse-webhook-secret"
THREADS = 6


# --- the carrier double ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """Shaped like fulfilment.adapters.carriers.TrackingEventData."""

    external_id: str
    status: str
    description: str = ""
    place: str = ""
    occurred_at: dt.datetime = T0
    tracking_number: str = ""


def ev(n: int, status: str, description: str = "", place: str = "", **kw: Any) -> Event:
    return Event(
        external_id=f"E{n}",
        status=status,
        description=description or f"scan {n}",
        place=place,
        occurred_at=T0 + dt.timedelta(hours=n),
        **kw,
    )


class FakeCarrier:
    """A carrier without webhooks (polled), with a signed webhook format of its own."""

    code = FAKE
    supports_tracking_webhooks = False

    def __init__(self) -> None:
        self.events: dict[str, list[Event]] = {}
        self.calls: list[tuple[str, int]] = []

    def track(self, tracking_number: str) -> list[Event]:
        # How deep in transactions we are while the carrier is asked (no lock may be held).
        self.calls.append((tracking_number, len(connection.atomic_blocks)))
        return list(self.events.get(tracking_number, []))

    def parse_tracking_webhook(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        expected = hmac.new(FAKE_SECRET.encode(), body, hashlib.sha256).hexdigest()
        given = {k.lower(): v for k, v in headers.items()}.get("x-fake-signature", "")
        if not given or not hmac.compare_digest(given, expected):
            raise PermanentError("fake carrier: the signature does not match")
        rows = json.loads(body)["events"]
        return [
            Event(
                external_id=r["id"],
                status=r["status"],
                description=r.get("description", ""),
                place=r.get("place", ""),
                occurred_at=dt.datetime.fromisoformat(r["occurred_at"]),
                tracking_number=r["tracking_number"],
            )
            for r in rows
        ]


@pytest.fixture
def fake_carrier(monkeypatch) -> FakeCarrier:
    """Register the double next to the real carriers (the registry is looked up lazily)."""
    import fulfilment.adapters.carriers as registry

    double = FakeCarrier()
    real = registry.carrier_for
    monkeypatch.setattr(
        registry, "carrier_for", lambda code: double if code == FAKE else real(code)
    )
    return double


@pytest.fixture
def inhouse_webhooks(monkeypatch) -> str:
    monkeypatch.setenv("OMS_INHOUSE_WEBHOOK_SECRET", INHOUSE_SECRET)
    return INHOUSE_SECRET


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Tasks enqueued after commit run at once, in this process."""
    conf = celery_app.conf
    before = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield
    conf.task_always_eager, conf.task_eager_propagates = before


@pytest.fixture
def published() -> Iterator[list[ShipmentException]]:
    seen: list[ShipmentException] = []
    domain_events.subscribe(ShipmentException, seen.append)
    yield seen
    domain_events.unsubscribe(ShipmentException, seen.append)


# --- orders and shipments -------------------------------------------------------------------------

_numbers = iter(range(1, 10**6))

SECRETS = {
    "email": "petra.geheim@example.com",
    "phone": "+49 170 5550199",
    "street": "Geheimweg 7",
    "customer_note": "Please ring twice CUSTOMER-NOTE",
    "staff_note": "Refund agreed on the phone STAFF-NOTE",
    # Three digits before the point: a timestamp's seconds and microseconds ("03:14:12.345678")
    # cannot contain it by chance, as they could contain "12.34".
    "price": "987.65",
}


def capture(lines: dict[str, int]) -> Order:
    """A paid order to Hamburg with recognisable private data (routing runs in the capture)."""
    n = next(_numbers)
    return order_capture(
        channel="web",
        external_id=f"EXT-{n}",
        external_number=f"#{5000 + n}",
        currency="EUR",
        lines=[
            {"sku": sku, "quantity": q, "unit_price": SECRETS["price"]} for sku, q in lines.items()
        ],
        customer={
            "email": SECRETS["email"],
            "first_name": "Petra",
            "last_name": "Geheim",
            "phone": SECRETS["phone"],
        },
        shipping_address={
            "name": "Petra Geheim",
            "line1": SECRETS["street"],
            "postal_code": "20095",
            "city": "Hamburg",
            "country": "DE",
            "phone": SECRETS["phone"],
            "latitude": 53.5511,
            "longitude": 9.9937,
        },
        payment_status="paid",
        notes=SECRETS["customer_note"],
    ).order


def ship(
    shipment: Shipment, carrier: str = FAKE, number: str | None = None, url: str = ""
) -> Shipment:
    lines = [(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()]
    services.shipment_pick(shipment=shipment.pk, lines=lines)
    services.shipment_pack(shipment=shipment.pk, parcels=[{"weight_grams": 800}])
    number = number or f"TN{shipment.pk:06d}"
    return services.shipment_ship(
        shipment=shipment.pk,
        carrier=carrier,
        service="standard",
        tracking_number=number,
        tracking_url=url or f"https://carrier.example/track/{number}",
    )


@pytest.fixture
def stocked(network):
    for location in ("BER", "MUC"):
        for sku in ("A", "B", "C"):
            put(network, location, sku, 20)
    network["skus"]["A"].name = "Blue mug"
    network["skus"]["A"].save()
    network["skus"]["B"].name = "Green tea"
    network["skus"]["B"].save()
    return network


@pytest.fixture
def shipped(stocked) -> Shipment:
    """One order, one shipment, shipped with the fake carrier."""
    o = capture({"A": 2, "B": 1})
    return ship(Shipment.objects.get(order=o))


@pytest.fixture
def split(network) -> tuple[Order, Shipment, Shipment]:
    """One order of two shipments (A only at BER, B only at MUC); nothing shipped yet."""
    put(network, "BER", "A", 5)
    put(network, "MUC", "B", 5)
    o = capture({"A": 1, "B": 1})
    first, second = Shipment.objects.filter(order=o).order_by("pk")
    return o, first, second


def timeline(order: Order, kind: str = "tracking") -> list[dict]:
    return list(OrderEvent.objects.filter(order=order, kind=kind).values_list("data", flat=True))


# --- recording events -----------------------------------------------------------------------------


def test_events_are_recorded_once_and_set_the_status(shipped):
    batch = [ev(1, "pre_transit"), ev(2, "in_transit", "Arrived at hub", "Berlin")]
    tracking.tracking_events_record(shipment=shipped, events=batch, source="test")
    again = tracking.tracking_events_record(shipment=shipped.pk, events=batch, source="test")

    assert TrackingEvent.objects.filter(shipment=shipped).count() == 2
    assert again.tracking_status == "in_transit"
    rows = timeline(shipped.order)
    assert [r["status"] for r in rows] == ["pre_transit", "in_transit"]
    assert rows[1]["place"] == "Berlin"
    assert rows[1]["shipment"] == shipped.pk


def test_duplicates_inside_one_batch_are_stored_once(shipped):
    tracking.tracking_events_record(
        shipment=shipped, events=[ev(1, "in_transit"), ev(1, "in_transit")], source="test"
    )
    assert TrackingEvent.objects.filter(shipment=shipped).count() == 1
    assert len(timeline(shipped.order)) == 1


def test_an_older_event_arriving_late_moves_nothing(shipped):
    tracking.tracking_events_record(shipment=shipped, events=[ev(5, "in_transit")], source="t")
    late = tracking.tracking_events_record(
        shipment=shipped, events=[ev(1, "pre_transit")], source="t"
    )
    assert late.tracking_status == "in_transit"
    assert TrackingEvent.objects.filter(shipment=shipped).count() == 2


def test_an_unknown_status_is_refused_and_nothing_is_stored(shipped):
    with pytest.raises(ValidationFailed):
        tracking.tracking_events_record(
            shipment=shipped, events=[ev(1, "in_transit"), ev(2, "lost_in_space")], source="t"
        )
    assert not TrackingEvent.objects.filter(shipment=shipped).exists()


def test_delivered_delivers_the_shipment_and_the_order(shipped):
    result = tracking.tracking_events_record(
        shipment=shipped,
        events=[ev(1, "in_transit"), ev(2, "out_for_delivery"), ev(3, "delivered", "Handed over")],
        source="test",
    )
    assert (result.status, result.tracking_status) == ("delivered", "delivered")
    assert result.delivered_at is not None
    order = Order.objects.get(pk=shipped.order_id)
    assert order.status == "delivered"
    # Replayed: nothing new, nothing moves.
    tracking.tracking_events_record(shipment=shipped, events=[ev(3, "delivered")], source="t")
    assert len(timeline(order)) == 3


def test_the_order_is_delivered_when_all_its_shipments_are(split):
    o, first, second = split
    ship(first)
    ship(second)
    tracking.tracking_events_record(shipment=first, events=[ev(1, "delivered")], source="t")
    o.refresh_from_db()
    assert o.status == "shipped"
    tracking.tracking_events_record(shipment=second, events=[ev(2, "delivered")], source="t")
    o.refresh_from_db()
    assert o.status == "delivered"


def test_an_exception_flags_the_shipment_holds_the_order_and_publishes(split, published):
    o, first, _second = split
    ship(first)  # the order is partially shipped: it can still be held
    result = tracking.tracking_events_record(
        shipment=first,
        events=[ev(1, "in_transit"), ev(2, "exception", "Address not found", "Hamburg")],
        source="test",
    )
    assert result.tracking_status == "exception"
    assert result.needs_attention
    assert "Address not found" in result.attention_message
    o.refresh_from_db()
    assert o.is_on_hold
    hold = o.holds.get(released_at__isnull=True)
    assert hold.reason == "customer_care"
    assert "Address not found" in hold.note
    assert published == [
        ShipmentException(shipment_id=first.pk, order_id=o.pk, description="Address not found")
    ]


def test_an_exception_on_a_shipped_order_holds_it_for_customer_care(shipped, published):
    result = tracking.tracking_events_record(
        shipment=shipped, events=[ev(1, "exception", "Damaged")], source="test"
    )
    assert result.needs_attention
    order = Order.objects.get(pk=shipped.order_id)
    assert order.is_on_hold
    assert order.holds.get().reason == "customer_care"
    assert "Damaged" in order.holds.get().note
    assert len(published) == 1


def test_delivered_for_a_shipment_not_shipped_asks_for_attention(split):
    _o, first, _ = split
    result = tracking.tracking_events_record(
        shipment=first, events=[ev(1, "delivered")], source="t"
    )
    assert result.status == "pending"
    assert result.needs_attention
    assert "delivered" in result.attention_message


def test_returned_to_sender_asks_for_attention(shipped):
    result = tracking.tracking_events_record(
        shipment=shipped, events=[ev(1, "in_transit"), ev(2, "returned", "Refused")], source="t"
    )
    assert result.tracking_status == "returned"
    assert result.needs_attention
    assert "Refused" in result.attention_message


@pytest.mark.django_db(transaction=True)
def test_the_same_events_recorded_in_parallel_are_stored_once(network):
    put(network, "BER", "A", 5)
    shipment = ship(Shipment.objects.get(order=capture({"A": 1})))
    batch = [ev(1, "in_transit"), ev(2, "out_for_delivery"), ev(3, "delivered")]
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def work(events: list[Event]) -> None:
        try:
            barrier.wait()
            tracking.tracking_events_record(shipment=shipment.pk, events=events, source="t")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    # Overlapping batches, as a webhook, its redelivery and a poll would bring them.
    threads = [
        threading.Thread(target=work, args=(batch[i % 3 :] + batch[: i % 3],))
        for i in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 3
    assert len(timeline(shipment.order)) == 3
    shipment.refresh_from_db()
    assert (shipment.status, shipment.tracking_status) == ("delivered", "delivered")
    assert Order.objects.get(pk=shipment.order_id).status == "delivered"
    assert len(timeline(shipment.order, "shipment_delivered")) == 1


# --- carrier webhooks -----------------------------------------------------------------------------


def inhouse_body(*rows: dict) -> bytes:
    return json.dumps({"events": list(rows)}).encode()


def inhouse_row(n: int, number: str, status: str, description: str = "", place: str = "") -> dict:
    return {
        "id": f"IH-{n}",
        "tracking_number": number,
        "status": status,
        "description": description or f"scan {n}",
        "place": place,
        "occurred_at": (T0 + dt.timedelta(hours=n)).isoformat(),
    }


def signed(body: bytes, secret: str = INHOUSE_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-OMS-Signature": f"sha256={digest}"}


def post_webhook(client: Client, carrier: str, body: bytes, headers: dict[str, str]):
    return client.post(
        f"/webhooks/carriers/{carrier}/",
        data=body,
        content_type="application/json",
        headers=headers,
    )


@pytest.fixture
def inhouse_shipped(stocked, inhouse_webhooks) -> Shipment:
    o = capture({"A": 1})
    return ship(Shipment.objects.get(order=o), carrier="inhouse", number="NW000000010000000017")


@pytest.mark.parametrize("signature", ["sha256=" + "0" * 64, None])
def test_a_webhook_with_a_bad_or_missing_signature_is_401_and_stores_nothing(
    inhouse_shipped, signature, django_capture_on_commit_callbacks
):
    body = inhouse_body(inhouse_row(1, inhouse_shipped.tracking_number, "delivered"))
    headers = {"X-OMS-Signature": signature} if signature else {}
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_webhook(Client(), "inhouse", body, headers)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_signature"
    assert not InboundWebhook.objects.exists()
    assert not TrackingEvent.objects.exists()
    assert callbacks == []


def test_a_signed_webhook_is_stored_answered_and_processed_by_a_task(
    inhouse_shipped, eager_tasks, django_capture_on_commit_callbacks
):
    number = inhouse_shipped.tracking_number
    body = inhouse_body(
        inhouse_row(1, number, "in_transit", "Left the depot", "Berlin"),
        inhouse_row(2, number, "delivered", "Delivered to the door", "Hamburg"),
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_webhook(Client(), "inhouse", body, signed(body))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    assert callbacks  # the processing task, after commit
    delivery = InboundWebhook.objects.get()
    assert (delivery.kind, delivery.source) == ("carrier", "inhouse")
    assert delivery.delivery_id.startswith("sha256:")  # in-house sends no delivery id
    assert (delivery.status, delivery.attempts) == ("processed", 1)
    assert delivery.processed_at is not None
    assert delivery.error == ""
    assert len(delivery.payload["events"]) == 2
    shipment = Shipment.objects.get(pk=inhouse_shipped.pk)
    assert (shipment.status, shipment.tracking_status) == ("delivered", "delivered")
    assert list(
        shipment.tracking_events.order_by("occurred_at").values_list("external_id", "place")
    ) == [("IH-1", "Berlin"), ("IH-2", "Hamburg")]


def test_the_same_delivery_twice_is_ignored(
    inhouse_shipped, eager_tasks, django_capture_on_commit_callbacks
):
    body = inhouse_body(inhouse_row(1, inhouse_shipped.tracking_number, "in_transit"))
    with django_capture_on_commit_callbacks(execute=True):
        first = post_webhook(Client(), "inhouse", body, signed(body))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = post_webhook(Client(), "inhouse", body, signed(body))
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["status"] == "duplicate"
    assert callbacks == []  # nothing enqueued again
    assert InboundWebhook.objects.count() == 1
    assert TrackingEvent.objects.count() == 1
    assert len(timeline(inhouse_shipped.order)) == 1


def test_a_delivery_id_header_makes_the_delivery_unique(fake_carrier, shipped):
    row = {
        "id": "F-1",
        "tracking_number": shipped.tracking_number,
        "status": "in_transit",
        "occurred_at": T0.isoformat(),
    }
    one = json.dumps({"events": [row]}).encode()
    other = json.dumps({"events": [row], "sent": 2}).encode()  # a resend, body differs
    for body in (one, other):
        digest = hmac.new(FAKE_SECRET.encode(), body, hashlib.sha256).hexdigest()
        response = post_webhook(
            Client(), FAKE, body, {"X-Fake-Signature": digest, "Webhook-Id": "msg_123"}
        )
        assert response.status_code == 200
    assert list(InboundWebhook.objects.values_list("kind", "source", "delivery_id")) == [
        ("carrier", FAKE, "msg_123")
    ]


def test_processing_twice_records_once_and_unknown_numbers_are_noted(
    inhouse_shipped, django_capture_on_commit_callbacks
):
    body = inhouse_body(
        inhouse_row(1, inhouse_shipped.tracking_number, "in_transit"),
        inhouse_row(2, "NW-NOT-OURS", "in_transit"),
    )
    response = post_webhook(Client(), "inhouse", body, signed(body))
    assert response.status_code == 200
    delivery = InboundWebhook.objects.get()
    inbox_process(inbox_id=delivery.pk)
    inbox_process(inbox_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("processed", 1)
    assert "NW-NOT-OURS" in delivery.error
    assert TrackingEvent.objects.count() == 1
    assert len(timeline(inhouse_shipped.order)) == 1


def test_a_delivery_queued_under_the_former_task_name_is_processed(inhouse_shipped):
    """Outbox messages written before the inbox moved to the kernel name the old task."""
    body = inhouse_body(inhouse_row(1, inhouse_shipped.tracking_number, "in_transit"))
    assert post_webhook(Client(), "inhouse", body, signed(body)).status_code == 200
    delivery = InboundWebhook.objects.get()
    outbox_enqueue("fulfilment.carrier_webhook_process", inbound_webhook_id=delivery.pk)
    assert run_outbox("fulfilment.carrier_webhook_process") == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("processed", 1)
    assert TrackingEvent.objects.count() == 1
    assert run_outbox("oms.inbox_process") == 1  # its own task finds it done
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_unknown_carrier_is_404_and_get_is_405(db):
    response = post_webhook(Client(), "pigeon", b"{}", {})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert Client().get("/webhooks/carriers/inhouse/").status_code == 405
    assert not InboundWebhook.objects.exists()


# --- polling --------------------------------------------------------------------------------------


def test_the_poll_task_asks_carriers_without_webhooks_and_records(
    stocked, fake_carrier, inhouse_webhooks, eager_tasks, django_capture_on_commit_callbacks
):
    polled = ship(Shipment.objects.get(order=capture({"A": 1})))
    pushed = ship(Shipment.objects.get(order=capture({"B": 1})), carrier="inhouse")
    done = ship(Shipment.objects.get(order=capture({"C": 1})))
    tracking.tracking_events_record(shipment=done, events=[ev(1, "delivered")], source="t")
    not_shipped = Shipment.objects.get(order=capture({"A": 1}))
    fake_carrier.events[polled.tracking_number] = [
        ev(1, "in_transit", "Sorted", "Leipzig"),
        ev(2, "out_for_delivery", "With the driver", "Hamburg"),
    ]
    assert tracking.tracking_poll_due() == [polled.pk]

    depth = len(connection.atomic_blocks)
    with django_capture_on_commit_callbacks(execute=True):
        assert tracking_poll_task() == 1
    assert fake_carrier.calls == [(polled.tracking_number, depth)]  # no transaction, no lock
    polled.refresh_from_db()
    assert polled.tracking_status == "out_for_delivery"
    assert polled.tracking_events.count() == 2
    for other in (pushed, done, not_shipped):
        assert not TrackingEvent.objects.filter(shipment=other, raw__source__startswith="poll")
    # Polled again: nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        tracking_poll_task()
    assert polled.tracking_events.count() == 2
    assert len(timeline(polled.order)) == 2


def test_a_carrier_with_a_webhook_secret_is_not_polled(stocked, monkeypatch):
    ship(Shipment.objects.get(order=capture({"A": 1})), carrier="inhouse")
    monkeypatch.delenv("OMS_INHOUSE_WEBHOOK_SECRET", raising=False)
    assert len(tracking.tracking_poll_due()) == 1  # no secret: cannot push, so polled
    monkeypatch.setenv("OMS_INHOUSE_WEBHOOK_SECRET", "s")
    assert tracking.tracking_poll_due() == []


# --- the API --------------------------------------------------------------------------------------


def test_api_lists_tracking_events_oldest_first(
    shipped, care_api, django_assert_num_queries, django_assert_max_num_queries
):
    tracking.tracking_events_record(
        shipment=shipped,
        events=[ev(2, "in_transit", "Sorted", "Leipzig"), ev(1, "pre_transit", "Label made")],
        source="t",
    )
    url = f"/api/v1/shipments/{shipped.pk}/tracking-events/"
    response = care_api.get(url)
    assert response.status_code == 200
    assert response.json() == [
        {
            "status": "pre_transit",
            "description": "Label made",
            "place": "",
            "occurred_at": "2025-03-03T09:00:00Z",
        },
        {
            "status": "in_transit",
            "description": "Sorted",
            "place": "Leipzig",
            "occurred_at": "2025-03-03T10:00:00Z",
        },
    ]
    with django_assert_max_num_queries(10) as few:
        care_api.get(url)
    tracking.tracking_events_record(
        shipment=shipped, events=[ev(n, "in_transit") for n in range(3, 20)], source="t"
    )
    with django_assert_num_queries(len(few.captured_queries)):
        assert len(care_api.get(url).json()) == 19


def test_api_tracking_events_permissions_and_404(shipped, anonymous_api, api_client_for):
    url = f"/api/v1/shipments/{shipped.pk}/tracking-events/"
    assert anonymous_api.get(url).status_code == 401
    nobody = api_client_for()
    assert nobody.get(url).status_code == 403
    assert api_client_for(WAREHOUSE).get(url).status_code == 200
    missing = api_client_for(WAREHOUSE).get("/api/v1/shipments/999999/tracking-events/")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/problem+json"


# --- the tracking page ----------------------------------------------------------------------------


def page_text(html: str) -> str:
    """The visible text, roughly: tags out, whitespace folded."""
    html = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def tracked(split) -> Order:
    """Two shipments shipped with events; the second then reported an exception (so the
    order got a customer-care hold: a held order's shipment would not ship)."""
    o, first, second = split
    for sku, name in (("A", "Blue mug"), ("B", "Green tea")):
        OrderLine.objects.filter(order=o, sku_code=sku).update(name=name)
    ship(second, number="TRK-TWO-002")
    ship(first, number="TRK-ONE-001", url="https://carrier.example/t/TRK-ONE-001")
    Shipment.objects.filter(pk=first.pk).update(expected_delivery_date=dt.date(2025, 3, 6))
    tracking.tracking_events_record(
        shipment=second, events=[ev(4, "exception", "Parcel damaged", "Munich")], source="t"
    )
    tracking.tracking_events_record(
        shipment=first,
        events=[
            ev(1, "pre_transit", "Label created", "Berlin"),
            ev(2, "in_transit", "Arrived at the sorting centre", "Leipzig"),
            ev(3, "out_for_delivery", "With the driver", "Hamburg"),
        ],
        source="t",
    )
    order_note_add(order=o, text=SECRETS["staff_note"], actor="care")
    return Order.objects.get(pk=o.pk)


def test_the_tracking_page_shows_the_order_shipments_and_events(tracked):
    response = Client().get(f"/track/{tracked.tracking_token}/")
    assert response.status_code == 200
    html = response.content.decode()
    text = page_text(html)
    assert f"Order {tracked.number}" in text
    assert "Blue mug" in text
    assert "Green tea" in text
    assert "Parcel 1 of 2" in text
    assert "Parcel 2 of 2" in text
    assert "TRK-ONE-001" in text
    assert "TRK-TWO-002" in text
    assert 'href="https://carrier.example/t/TRK-ONE-001"' in html
    assert "Arrived at the sorting centre" in text
    assert "Leipzig" in text
    assert "Delivery problem" in text
    assert "Parcel damaged" in text
    assert "Thu 6 Mar 2025" in text
    # Newest first.
    assert (
        html.index("With the driver")
        < html.index("Arrived at the sorting")
        < html.index("Label created")
    )
    assert '<ol class="timeline"' in html
    assert '<html lang="en">' in html
    assert 'name="viewport"' in html
    assert "<link" not in html
    assert "<script" not in html
    assert "src=" not in html
    assert response["X-Robots-Tag"].startswith("noindex")
    assert "private" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"


def test_the_tracking_page_shows_nothing_staff_only(tracked):
    shipment = tracked.shipments.order_by("pk").last()
    assert shipment.needs_attention
    assert tracked.is_on_hold
    html = Client().get(f"/track/{tracked.tracking_token}/").content.decode()
    leaks = [
        *SECRETS.values(),
        "Geheim",
        shipment.attention_message,
        "Carrier exception",
        "customer_care",
        "Customer care",
        "hold",
        shipment.location.name,
        tracked.external_id,
    ]
    found = [leak for leak in leaks if leak in html]
    assert found == [], [html[max(0, html.find(x) - 120) : html.find(x) + 60] for x in found]


@pytest.mark.parametrize("token", ["x" * 32, "short", "a" * 65, "bad token!", "%00"])
def test_unknown_and_malformed_tokens_get_the_same_404(tracked, token):
    response = Client().get(f"/track/{token}/")
    reference = Client().get("/track/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/")
    assert response.status_code == reference.status_code == 404
    assert response.content == reference.content
    assert response["X-Robots-Tag"].startswith("noindex")
    assert tracked.number.encode() not in response.content


def test_the_tracking_page_is_built_in_constant_queries(stocked, django_assert_num_queries):
    small = capture({"A": 1})
    ship(Shipment.objects.get(order=small))
    tracking.tracking_events_record(
        shipment=Shipment.objects.get(order=small), events=[ev(1, "in_transit")], source="t"
    )
    with django_assert_num_queries(6):
        assert Client().get(f"/track/{small.tracking_token}/").status_code == 200

    big = capture({"A": 3, "B": 2, "C": 1})
    for shipment in Shipment.objects.filter(order=big):
        ship(shipment)
        tracking.tracking_events_record(
            shipment=shipment, events=[ev(n, "in_transit") for n in range(10)], source="t"
        )
    with django_assert_num_queries(6):
        response = Client().get(f"/track/{big.tracking_token}/")
    assert response.content.decode().count('class="timeline"') >= 1


def test_a_pending_order_says_it_is_being_prepared(stocked):
    o = capture({"A": 1})
    text = page_text(Client().get(f"/track/{o.tracking_token}/").content.decode())
    assert "Being prepared" in text
    assert "No tracking updates yet" in text or "being prepared" in text


def test_the_page_leaves_a_block_for_returns():
    template = loader.get_template("tracking/page.html")
    names = {node.name for node in template.template.nodelist.get_nodes_by_type(BlockNode)}
    assert "returns" in names


# --- the back office ------------------------------------------------------------------------------


def staff(*roles: str, superuser: bool = False) -> Client:
    client = Client()
    client.force_login(UserFactory(roles=list(roles), is_staff=True, is_superuser=superuser))
    return client


def test_the_shipment_page_shows_the_tracking_events(tracked):
    from fulfilment.admin.tracking import TrackingEventInline

    assert TrackingEventInline in admin.site._registry[Shipment].inlines
    shipment = tracked.shipments.order_by("pk").first()
    response = staff(CUSTOMER_CARE).get(f"/admin/fulfilment/shipment/{shipment.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Tracking events" in html
    assert "Arrived at the sorting centre" in html


def test_poll_tracking_now_reports_per_shipment(shipped, fake_carrier):
    fake_carrier.events[shipped.tracking_number] = [ev(1, "in_transit", "Sorted", "Leipzig")]
    client = staff(WAREHOUSE)
    response = client.post(
        "/admin/fulfilment/shipment/",
        {"action": "poll_tracking_now", "_selected_action": [shipped.pk], "index": "0"},
        follow=True,
    )
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [f"SH-{shipped.pk}: 1 new tracking event; In transit."]
    assert shipped.tracking_events.count() == 1


def test_poll_tracking_now_needs_change_permission(shipped, fake_carrier):
    response = staff(CUSTOMER_CARE).get("/admin/fulfilment/shipment/")
    assert "poll_tracking_now" not in response.content.decode()


def test_inbound_webhooks_are_a_read_only_record(inhouse_shipped):
    body = inhouse_body(inhouse_row(1, inhouse_shipped.tracking_number, "in_transit"))
    post_webhook(Client(), "inhouse", body, signed(body))
    delivery = InboundWebhook.objects.get()
    boss = staff(superuser=True)
    listing = boss.get("/admin/oms/inboundwebhook/")
    assert listing.status_code == 200
    assert delivery.delivery_id in listing.content.decode()
    page = boss.get(f"/admin/oms/inboundwebhook/{delivery.pk}/change/")
    assert page.status_code == 200
    assert "IH-1" in page.content.decode()
    assert boss.get("/admin/oms/inboundwebhook/add/").status_code == 403
    assert boss.post(f"/admin/oms/inboundwebhook/{delivery.pk}/delete/").status_code == 403
    # The page's former address leads there (a carrier's delivery kept its id in the move).
    old = boss.get(f"/admin/fulfilment/inboundwebhook/{delivery.pk}/change/")
    assert (old.status_code, old["Location"]) == (
        301,
        f"/admin/oms/inboundwebhook/{delivery.pk}/change/",
    )
