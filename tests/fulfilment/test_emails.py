"""The shopper's e-mails: sent once per fact, after the commit, in text and HTML."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail

from fulfilment.events import ShipmentException
from fulfilment.models import Shipment
from fulfilment.services import shipment_deliver, shipment_pack, shipment_pick, shipment_ship
from fulfilment.tasks import email_send
from oms import events
from oms.celery import app as celery_app
from oms.errors import ValidationFailed
from orders.models import Order, OrderEvent
from orders.services import order_cancel, order_capture
from tests.fulfilment.conftest import put

_numbers = iter(range(1, 10**6))


@pytest.fixture(autouse=True)
def locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "shop@example.com"


@pytest.fixture
def eager(monkeypatch):
    """Tasks enqueued after a commit run at once (and their errors surface in the test)."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", True)


@pytest.fixture
def shop(network, settings):
    settings.OMS_PUBLIC_URL = "https://shop.example/"
    put(network, "BER", "A", 10)
    put(network, "BER", "B", 10)
    return network


def capture(email: str = "darcy@example.com", **extra: Any) -> Order:
    return order_capture(
        channel="web",
        external_id=f"E-{next(_numbers)}",
        currency="EUR",
        lines=[
            {"sku": "A", "quantity": 2, "unit_price": "10.00"},
            {"sku": "B", "quantity": 1, "unit_price": "5.00"},
        ],
        customer={"email": email, "first_name": "D'Arcy", "last_name": "Smith"},
        shipping_address={
            "name": "D'Arcy Smith",
            "line1": "Jungfernstieg 1",
            "postal_code": "20095",
            "city": "Hamburg",
            "country": "DE",
            "latitude": 53.5511,
            "longitude": 9.9937,
        },
        payment_status="paid",
        **extra,
    ).order


def parts(message: mail.EmailMessage) -> tuple[str, str]:
    assert isinstance(message, mail.EmailMultiAlternatives)
    (html, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    return str(message.body), str(html)


def sent_events(order: Order) -> list[dict[str, Any]]:
    return [e.data for e in OrderEvent.objects.filter(order=order, kind="email_sent")]


def ship(order: Order) -> Shipment:
    shipment = Shipment.objects.get(order=order)
    shipment_pick(
        shipment=shipment, lines=[(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()]
    )
    shipment_pack(shipment=shipment, parcels=[{"weight_grams": 800}])
    return shipment_ship(
        shipment=shipment,
        carrier="dhl",
        service="paket",
        tracking_number="JJD0099887766",
        tracking_url="https://track.example/JJD0099887766",
    )


def test_every_kind_is_sent_once_with_text_and_html(
    shop, eager, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        o = capture()
        assert mailoutbox == []  # nothing leaves before the commit
    o.refresh_from_db()
    assert len(mailoutbox) == 1
    confirmed = mailoutbox[0]
    assert confirmed.to == ["darcy@example.com"]
    assert confirmed.from_email == "shop@example.com"
    assert o.number in confirmed.subject
    text, html = parts(confirmed)
    link = f"https://shop.example/track/{o.tracking_token}/"
    for part in (text, html):
        assert o.number in part
        assert link in part
        assert "Jungfernstieg 1" in part
    assert "Hello D'Arcy," in text  # the text part is not HTML-escaped
    assert "Hello D&#x27;Arcy," in html
    assert "€25.00" in text  # the amount in the shopper's locale (English here)

    # Shipped: the tracking number, the carrier's link, our page and the expected date.
    Shipment.objects.filter(order=o).update(expected_delivery_date=dt.date(2026, 12, 3))
    with django_capture_on_commit_callbacks(execute=True):
        shipment = ship(o)
    assert len(mailoutbox) == 2
    shipped = mailoutbox[1]
    text, html = parts(shipped)
    assert o.number in shipped.subject
    for part in (text, html):
        assert o.number in part
        assert "JJD0099887766" in part
        assert "https://track.example/JJD0099887766" in part
        assert link in part
        assert "Thursday 3 December 2026" in part

    with django_capture_on_commit_callbacks(execute=True):
        events.publish(
            ShipmentException(shipment_id=shipment.pk, order_id=o.pk, description="Address issue")
        )
    with django_capture_on_commit_callbacks(execute=True):
        shipment_deliver(shipment=shipment)
    assert [m.subject for m in mailoutbox[2:]] == [
        f"A delay with your order {o.number}",
        f"Your order {o.number} has been delivered",
    ]
    for message in mailoutbox:
        text, html = parts(message)
        assert o.number in text
        assert o.number in html
        assert '<html lang="en"' in html
        assert "<img" not in html

    assert sent_events(o) == [
        {"email": "confirmed", "shipment": None, "to": "darcy@example.com"},
        {"email": "shipped", "shipment": shipment.pk, "to": "darcy@example.com"},
        {"email": "exception", "shipment": shipment.pk, "to": "darcy@example.com"},
        {"email": "delivered", "shipment": shipment.pk, "to": "darcy@example.com"},
    ]

    # Replays (a task delivered twice, an event published again) send nothing more.
    assert email_send(order_id=o.pk, kind="confirmed") is False
    for kind in ("shipped", "exception", "delivered"):
        assert email_send(order_id=o.pk, kind=kind, shipment_id=shipment.pk) is False
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(ShipmentException(shipment_id=shipment.pk, order_id=o.pk, description="x"))
    assert len(mailoutbox) == 4
    assert len(sent_events(o)) == 4


def test_a_cancelled_order_is_told_once(
    shop, eager, mailoutbox, django_capture_on_commit_callbacks
):
    o = capture()  # not committed in this test: no confirmation
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=o, reason="customer asked")
    assert len(mailoutbox) == 1
    o.refresh_from_db()
    message = mailoutbox[0]
    assert message.subject == f"Order {o.number} cancelled"
    text, html = parts(message)
    assert o.number in text
    assert o.number in html
    assert "Cancelled items" in text
    assert email_send(order_id=o.pk, kind="cancelled") is False
    assert [e["email"] for e in sent_events(o)] == ["cancelled"]


def test_a_partial_cancel_sends_nothing(
    shop, eager, mailoutbox, django_capture_on_commit_callbacks
):
    o = capture()
    line = o.lines.get(sku_code="B")
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=o, lines=[(line.pk, 1)])
    assert mailoutbox == []


def test_a_channel_without_emails_sends_nothing(
    shop, eager, mailoutbox, django_capture_on_commit_callbacks
):
    channel = shop["channel"]
    channel.send_emails = False
    channel.save(update_fields=["send_emails"])
    with django_capture_on_commit_callbacks(execute=True):
        o = capture()
    with django_capture_on_commit_callbacks(execute=True):
        ship(o)
    assert mailoutbox == []
    # Even a task enqueued before the switch was turned off sends nothing.
    assert email_send(order_id=o.pk, kind="confirmed") is False
    assert mailoutbox == []
    assert sent_events(o) == []


def test_an_order_without_an_email_address_sends_nothing(shop, mailoutbox):
    o = capture()
    Order.objects.filter(pk=o.pk).update(email="")
    assert email_send(order_id=o.pk, kind="confirmed") is False
    assert mailoutbox == []
    assert sent_events(o) == []


def test_the_task_sends_when_called_directly_and_the_timeline_shows_it(
    shop, mailoutbox, manager_api
):
    o = capture()
    assert email_send(order_id=o.pk, kind="confirmed") is True
    assert email_send(order_id=o.pk, kind="confirmed") is False
    assert len(mailoutbox) == 1
    response = manager_api.get(f"/api/v1/orders/{o.pk}/events/")
    assert response.status_code == 200
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    sent = [row for row in rows if row["kind"] == "email_sent"]
    assert len(sent) == 1
    assert sent[0]["data"]["email"] == "confirmed"


def test_links_use_the_address_the_server_is_reached_at(shop, mailoutbox, settings):
    settings.OMS_PUBLIC_URL = "http://127.0.0.1:8100"  # what `make run PORT=8100` sets
    o = capture()
    email_send(order_id=o.pk, kind="confirmed")
    assert f"http://127.0.0.1:8100/track/{o.tracking_token}/" in mailoutbox[0].body


def test_unknown_kinds_and_missing_shipments_are_refused(shop, mailoutbox):
    o = capture()
    with pytest.raises(ValidationFailed):
        email_send(order_id=o.pk, kind="newsletter")
    with pytest.raises(ValidationFailed):
        email_send(order_id=o.pk, kind="shipped")  # which shipment?
    assert email_send(order_id=o.pk, kind="shipped", shipment_id=999999) is False
    assert email_send(order_id=999999, kind="confirmed") is False
    assert mailoutbox == []
