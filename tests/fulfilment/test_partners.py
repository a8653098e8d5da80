"""The 3PL hand-off against a local fake partner (pytest-httpserver), and its confirmations."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from django.urls import reverse
from werkzeug import Request, Response

from fulfilment.models import RoutingRule, Shipment
from fulfilment.services import shipment_send_to_3pl
from fulfilment.services.partners import (
    SignatureInvalid,
    partner_create,
    partner_update,
    shipment_partner_resend,
    webhook_sign,
    webhook_verify,
)
from fulfilment.tasks import partner_send
from oms.celery import app as celery_app
from oms.errors import Conflict, TransientError, ValidationFailed
from oms.inbox import inbox_process
from oms.models import InboundWebhook
from oms.outbox import outbox_enqueue
from orders.models import OrderEvent
from tests.fulfilment.conftest import order, put
from tests.outbox import queued, run_outbox

KEY = b"0123456789abcdef0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
URL = "/webhooks/3pl/LON/"


@pytest.fixture
def partner(network, httpserver):
    """The London 3PL serves GB only, holds stock of A and has a partner at the fake server."""
    rule = RoutingRule.objects.create(name="LON serves GB", kind="serves", countries="GB")
    rule.locations.set([network["locations"]["LON"]])
    put(network, "LON", "A", 5)
    return partner_create(
        location=network["locations"]["LON"],
        name="UK Fulfilment Ltd",
        endpoint=httpserver.url_for("/orders"),
        secret=SECRET,
        countries="gb",
    )


@pytest.fixture
def eager(monkeypatch):
    """Tasks enqueued after a commit run at once (and their errors surface in the test)."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", True)


def london_shipment(**lines: int) -> Shipment:
    o = order("LONDON", lines or {"A": 2})
    shipment = Shipment.objects.get(order=o)
    assert shipment.location.code == "LON"
    return shipment


def expected_signature(msg_id: str, timestamp: str, body: bytes) -> str:
    """Computed here from the Standard Webhooks definition, independently of the service."""
    digest = hmac.new(KEY, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed(payload: dict[str, Any], *, msg_id: str = "msg_1", timestamp: int | None = None):
    body = json.dumps(payload).encode()
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "HTTP_WEBHOOK_ID": msg_id,
        "HTTP_WEBHOOK_TIMESTAMP": str(stamp),
        "HTTP_WEBHOOK_SIGNATURE": webhook_sign(
            secret=SECRET, msg_id=msg_id, timestamp=stamp, body=body
        ),
    }
    return body, headers


def confirm(client, payload: dict[str, Any], *, msg_id: str = "msg_1", **extra: Any):
    body, headers = signed(payload, msg_id=msg_id)
    return client.post(URL, data=body, content_type="application/json", **{**headers, **extra})


# --- signatures ----------------------------------------------------------------------------------


def test_signatures_match_the_standard_webhooks_reference_vector():
    # The example of the Standard Webhooks specification (and of its reference libraries).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    signature = webhook_sign(
        secret=secret, msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=1614265330, body=body
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": f"v1,bm90IHRoaXMgb25l {signature}",  # rotation: several signatures
    }
    assert webhook_verify(secret=secret, headers=headers, body=body, now=1614265330 + 60)
    with pytest.raises(SignatureInvalid):  # five minutes and one second later
        webhook_verify(secret=secret, headers=headers, body=body, now=1614265330 + 301)
    with pytest.raises(SignatureInvalid):
        webhook_verify(secret=secret, headers=headers, body=body + b" ", now=1614265330)


# --- hand-off ------------------------------------------------------------------------------------


def test_a_new_3pl_shipment_is_sent_signed_after_the_commit(
    partner, httpserver, eager, django_capture_on_commit_callbacks
):
    received: list[Request] = []

    def accept(request: Request) -> Response:
        received.append(request)
        return Response('{"id": "P-77"}', status=202, content_type="application/json")

    httpserver.expect_oneshot_request("/orders", method="POST").respond_with_handler(accept)
    with django_capture_on_commit_callbacks(execute=True):
        shipment = london_shipment(A=2)
        assert not received  # nothing leaves before the commit

    assert len(received) == 1
    request = received[0]
    body = request.get_data()
    assert request.headers["webhook-id"] == f"SH-{shipment.pk}"
    assert request.headers["content-type"] == "application/json"
    stamp = request.headers["webhook-timestamp"]
    assert abs(int(stamp) - time.time()) < 60
    assert request.headers["webhook-signature"] == expected_signature(
        f"SH-{shipment.pk}", stamp, body
    )
    payload = json.loads(body)
    shipment.order.refresh_from_db()
    assert payload["shipment"] == shipment.pk
    assert payload["order"] == shipment.order.number
    assert payload["ship_to"]["country"] == "GB"
    assert payload["ship_to"]["postal_code"] == "SW1A 1AA"
    line = shipment.order.lines.get()
    assert payload["lines"] == [{"sku": "A", "name": line.name, "quantity": 2}]
    shipment.refresh_from_db()
    assert shipment.status == "sent"
    assert not shipment.needs_attention
    assert OrderEvent.objects.filter(order=shipment.order, kind="shipment_sent").count() == 1

    # Replayed (a worker died after the POST): nothing is sent again.
    assert partner_send(shipment_id=shipment.pk) == "skipped: sent"
    assert len(received) == 1


def test_a_warehouse_shipment_is_not_sent_to_any_partner(
    partner, network, httpserver, eager, django_capture_on_commit_callbacks
):
    put(network, "BER", "A", 5)
    with django_capture_on_commit_callbacks(execute=True):
        o = order("HAMBURG", {"A": 1})
    assert Shipment.objects.get(order=o).location.code == "BER"
    assert httpserver.log == []


def test_a_server_error_is_transient_and_leaves_the_shipment_pending(partner, httpserver):
    shipment = london_shipment()
    httpserver.expect_oneshot_request("/orders", method="POST").respond_with_data(
        "down for maintenance", status=503
    )
    with pytest.raises(TransientError, match="503"):
        partner_send(shipment_id=shipment.pk)
    shipment.refresh_from_db()
    assert shipment.status == "pending"
    assert not shipment.needs_attention


def test_500_then_accepted_on_the_retry(partner, httpserver):
    shipment = london_shipment()
    httpserver.expect_ordered_request("/orders", method="POST").respond_with_data("", status=500)
    httpserver.expect_ordered_request("/orders", method="POST").respond_with_data("", status=200)
    with pytest.raises(TransientError):
        partner_send(shipment_id=shipment.pk)
    assert Shipment.objects.get(pk=shipment.pk).status == "pending"
    assert partner_send(shipment_id=shipment.pk) == "sent"
    assert Shipment.objects.get(pk=shipment.pk).status == "sent"
    # Both attempts carried the same dedupe key for the partner.
    ids = {req.headers["webhook-id"] for req, _ in httpserver.log}
    assert ids == {f"SH-{shipment.pk}"}


def test_an_unreachable_partner_is_transient(partner, httpserver):
    shipment = london_shipment()
    partner_update(partner=partner, data={"endpoint": "http://127.0.0.1:9/orders"})
    with pytest.raises(TransientError):
        partner_send(shipment_id=shipment.pk)
    assert Shipment.objects.get(pk=shipment.pk).status == "pending"


def test_the_last_retry_gives_up_and_flags_the_shipment(partner, httpserver):
    shipment = london_shipment()
    httpserver.expect_request("/orders", method="POST").respond_with_data("", status=502)
    with pytest.raises(TransientError):  # a first attempt: retried later, nobody is bothered
        partner_send(shipment_id=shipment.pk)
    shipment.refresh_from_db()
    assert not shipment.needs_attention
    # The last two attempts (run in-process here: eager retries follow each other at once).
    result = partner_send.apply(
        kwargs={"shipment_id": shipment.pk}, retries=partner_send.max_retries - 1
    )
    assert isinstance(result.result, TransientError)
    assert len(httpserver.log) == 3
    shipment.refresh_from_db()
    assert shipment.status == "pending"
    assert shipment.needs_attention
    assert "could not be reached" in shipment.attention_message


def test_a_refusal_needs_attention_and_can_be_sent_again(
    partner, httpserver, admin_client, eager, django_capture_on_commit_callbacks
):
    shipment = london_shipment()
    httpserver.expect_oneshot_request("/orders", method="POST").respond_with_json(
        {"error": "unknown SKU A"}, status=422
    )
    assert run_outbox("fulfilment.partner_send") == 1  # refused: flagged, not retried
    assert queued("fulfilment.partner_send") == []
    shipment.refresh_from_db()
    assert shipment.status == "pending"
    assert shipment.needs_attention
    assert "422" in shipment.attention_message
    assert "unknown SKU A" in shipment.attention_message
    assert OrderEvent.objects.filter(order=shipment.order, kind="partner_send_failed").exists()

    # Fixed at the partner: staff send it again from the shipment list.
    httpserver.expect_oneshot_request("/orders", method="POST").respond_with_data("", status=201)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:fulfilment_shipment_changelist"),
            {"action": "send_to_partner_again", "_selected_action": [shipment.pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert "will be sent to the partner of LON again" in response.content.decode()
    shipment.refresh_from_db()
    assert shipment.status == "sent"
    assert not shipment.needs_attention
    assert shipment.attention_message == ""
    assert len(httpserver.log) == 2


def test_send_again_refuses_what_is_not_a_pending_3pl_shipment(partner, network):
    shipment = london_shipment()
    shipment_send_to_3pl(shipment=shipment)
    with pytest.raises(Conflict):
        shipment_partner_resend(shipment=shipment.pk)
    put(network, "BER", "B", 1)
    ber = Shipment.objects.get(order=order("HAMBURG", {"B": 1}))
    with pytest.raises(Conflict):
        shipment_partner_resend(shipment=ber.pk)


def test_an_inactive_partner_gets_nothing_and_the_shipment_needs_attention(partner, httpserver):
    shipment = london_shipment()
    partner_update(partner=partner, data={"is_active": False})
    assert partner_send(shipment_id=shipment.pk).startswith("refused")
    shipment.refresh_from_db()
    assert shipment.needs_attention
    assert "no active 3PL partner" in shipment.attention_message
    assert httpserver.log == []


# --- configuration and admin ---------------------------------------------------------------------


def test_the_secret_is_stored_encrypted_and_validated(partner, network):
    partner.refresh_from_db()
    assert partner.secret_encrypted
    assert SECRET not in partner.secret_encrypted
    assert partner.countries == "GB"
    with pytest.raises(ValidationFailed):
        partner_update(partner=partner, data={"secret": "short"})
    with pytest.raises(ValidationFailed):
        partner_create(
            location=network["locations"]["BER"],
            name="Not a 3PL",
            endpoint="https://example.com/",
            secret=SECRET,
        )
    with pytest.raises(Conflict):
        partner_create(
            location=network["locations"]["LON"],
            name="Second",
            endpoint="https://example.com/",
            secret=SECRET,
        )


def test_the_admin_never_shows_the_secret_and_keeps_it_when_left_empty(partner, admin_client):
    url = reverse("admin:fulfilment_thirdpartypartner_change", args=[partner.pk])
    page = admin_client.get(url).content.decode()
    assert SECRET not in page
    assert partner.secret_encrypted not in page
    before = partner.secret_encrypted
    response = admin_client.post(
        url,
        {
            "name": "UK Fulfilment",
            "endpoint": partner.endpoint,
            "countries": "GB, IE",
            "is_active": "on",
            "secret": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    partner.refresh_from_db()
    assert (partner.name, partner.countries) == ("UK Fulfilment", "GB,IE")
    assert partner.secret_encrypted == before  # kept
    assert (
        admin_client.get(reverse("admin:fulfilment_thirdpartypartner_changelist")).status_code
        == 200
    )


def test_a_partner_is_added_in_the_admin_with_a_secret(network, admin_client):
    from tests.factories import LocationFactory

    location = LocationFactory(code="MK", kind="3pl", country="GB")
    url = reverse("admin:fulfilment_thirdpartypartner_add")
    data = {
        "location": location.pk,
        "name": "MK Logistics",
        "endpoint": "https://mk.example/hooks",
        "countries": "gb",
        "is_active": "on",
        "secret": "",
    }
    assert "A new partner needs a secret" in admin_client.post(url, data).content.decode()
    response = admin_client.post(url, {**data, "secret": SECRET})
    assert response.status_code == 302
    from fulfilment.models import ThirdPartyPartner
    from fulfilment.services.partners import partner_secret

    created = ThirdPartyPartner.objects.get(location=location)
    assert partner_secret(created) == SECRET
    assert created.countries == "GB"
    # Only 3PL locations are offered.
    page = admin_client.get(url).content.decode()
    assert ">MK" in page or "MK" in page
    assert f'value="{network["locations"]["BER"].pk}"' not in page


# --- confirmations -------------------------------------------------------------------------------


def test_a_signed_shipped_confirmation_ships_the_shipment_and_the_order(
    partner, client, django_capture_on_commit_callbacks
):
    shipment = london_shipment()
    shipment_send_to_3pl(shipment=shipment)
    with django_capture_on_commit_callbacks() as callbacks:
        response = confirm(
            client,
            {
                "type": "shipment.shipped",
                "shipment": shipment.pk,
                "tracking_number": "RM123456785GB",
                "carrier": "royalmail",
                "tracking_url": "https://track.example/RM123456785GB",
            },
        )
    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "id": "msg_1"}
    hook = InboundWebhook.objects.get()
    assert (hook.kind, hook.source, hook.delivery_id, hook.status, hook.processed_at) == (
        "partner",
        "LON",
        "msg_1",
        "received",
        None,
    )
    assert len(callbacks) == 1  # the processing task, after the commit

    assert inbox_process(inbox_id=hook.pk).status == "processed"
    shipment.refresh_from_db()
    assert shipment.status == "shipped"
    assert shipment.tracking_number == "RM123456785GB"
    assert shipment.carrier == "royalmail"
    assert shipment.tracking_url == "https://track.example/RM123456785GB"
    shipment.order.refresh_from_db()
    assert shipment.order.status == "shipped"
    hook.refresh_from_db()
    assert hook.processed_at is not None
    assert hook.error == ""

    # Delivered next.
    response = confirm(
        client, {"type": "shipment.delivered", "shipment": shipment.pk}, msg_id="msg_2"
    )
    assert response.status_code == 200
    inbox_process(inbox_id=InboundWebhook.objects.get(delivery_id="msg_2").pk)
    shipment.refresh_from_db()
    shipment.order.refresh_from_db()
    assert (shipment.status, shipment.order.status) == ("delivered", "delivered")


def test_a_bad_signature_is_401_and_stores_nothing(partner, client):
    shipment = london_shipment()
    body, headers = signed({"type": "shipment.shipped", "shipment": shipment.pk})
    tampered = body.replace(b"shipped", b"rejected")
    response = client.post(URL, data=tampered, content_type="application/json", **headers)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_signature"
    # Missing headers, a stale timestamp, another partner's secret, an unknown location.
    assert client.post(URL, data=body, content_type="application/json").status_code == 401
    old_body, old_headers = signed({"type": "x"}, timestamp=int(time.time()) - 6 * 60)
    assert (
        client.post(URL, data=old_body, content_type="application/json", **old_headers).status_code
        == 401
    )
    other = {
        **headers,
        "HTTP_WEBHOOK_SIGNATURE": webhook_sign(
            secret="whsec_" + base64.b64encode(b"x" * 32).decode(),
            msg_id=headers["HTTP_WEBHOOK_ID"],
            timestamp=int(headers["HTTP_WEBHOOK_TIMESTAMP"]),
            body=body,
        ),
    }
    assert client.post(URL, data=body, content_type="application/json", **other).status_code == 401
    unknown = client.post(
        "/webhooks/3pl/NOPE/", data=body, content_type="application/json", **headers
    )
    assert unknown.status_code == 401
    assert InboundWebhook.objects.count() == 0
    shipment.refresh_from_db()
    assert shipment.status == "pending"


def test_the_same_confirmation_twice_is_processed_once(
    partner, client, django_capture_on_commit_callbacks
):
    shipment = london_shipment()
    shipment_send_to_3pl(shipment=shipment)
    payload = {"type": "shipment.shipped", "shipment": shipment.pk, "tracking_number": "T-1"}
    with django_capture_on_commit_callbacks() as callbacks:
        first = confirm(client, payload, msg_id="dup-1")
        second = confirm(client, payload, msg_id="dup-1")
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["status"] == "duplicate"
    assert InboundWebhook.objects.count() == 1
    assert len(callbacks) == 1
    hook = InboundWebhook.objects.get()
    inbox_process(inbox_id=hook.pk)
    inbox_process(inbox_id=hook.pk)  # a replayed task
    assert OrderEvent.objects.filter(order=shipment.order, kind="shipment_shipped").count() == 1


def test_a_rejection_cancels_and_routes_the_order_elsewhere(partner, network, client):
    put(network, "BER", "A", 5)
    shipment = london_shipment(A=2)  # London is nearest: the 3PL gets it
    shipment_send_to_3pl(shipment=shipment)
    confirm(
        client,
        {"type": "shipment.rejected", "shipment": shipment.pk, "reason": "out of stock"},
    )
    hook = InboundWebhook.objects.get()
    inbox_process(inbox_id=hook.pk)
    shipment.refresh_from_db()
    assert shipment.status == "cancelled"
    o = shipment.order
    o.refresh_from_db()
    assert o.status == "allocated"
    new = Shipment.objects.exclude(pk=shipment.pk).get(order=o)
    assert (new.location.code, new.status) == ("BER", "pending")
    cancelled = OrderEvent.objects.get(order=o, kind="shipment_cancelled")
    assert "out of stock" in cancelled.data["reason"]
    assert cancelled.actor == "3pl:LON"


def test_a_rejection_with_no_stock_elsewhere_backorders_the_order(partner, client):
    shipment = london_shipment(A=2)
    shipment_send_to_3pl(shipment=shipment)
    confirm(client, {"type": "shipment.rejected", "shipment": shipment.pk, "reason": "damaged"})
    inbox_process(inbox_id=InboundWebhook.objects.get().pk)
    o = shipment.order
    o.refresh_from_db()
    assert o.status == "backordered"
    assert not Shipment.objects.filter(order=o, status="pending").exists()


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"type": "shipment.shipped", "shipment": 999999}, "No shipment 999999"),
        ({"type": "shipment.teleported", "shipment": "own"}, "Unknown confirmation type"),
        ({"type": "shipment.shipped", "shipment": "abc"}, "Not a shipment id"),
    ],
)
def test_what_cannot_be_applied_is_recorded_as_an_error(partner, client, payload, error):
    response = confirm(client, payload)
    assert response.status_code == 200  # accepted: the signature is right
    hook = InboundWebhook.objects.get()
    assert error in inbox_process(inbox_id=hook.pk).error
    hook.refresh_from_db()
    assert hook.status == "failed"
    assert hook.processed_at is not None
    assert error in hook.error
    assert inbox_process(inbox_id=hook.pk).status == "failed"  # no loop: done is done
    hook.refresh_from_db()
    assert hook.attempts == 1


def test_a_partner_cannot_confirm_another_locations_shipment(partner, network, client):
    put(network, "BER", "A", 5)
    ber = Shipment.objects.get(order=order("HAMBURG", {"A": 1}))
    confirm(client, {"type": "shipment.shipped", "shipment": ber.pk, "tracking_number": "X"})
    hook = InboundWebhook.objects.get()
    inbox_process(inbox_id=hook.pk)
    hook.refresh_from_db()
    assert "not one of LON's" in hook.error
    ber.refresh_from_db()
    assert ber.status == "pending"


def test_a_confirmation_queued_under_the_former_task_name_is_processed(partner, client):
    """Outbox messages written before the inbox moved to the kernel name the old task."""
    shipment = london_shipment()
    shipment_send_to_3pl(shipment=shipment)
    confirm(client, {"type": "shipment.shipped", "shipment": shipment.pk, "tracking_number": "T"})
    hook = InboundWebhook.objects.get()
    outbox_enqueue("fulfilment.partner_confirmation_process", webhook_id=hook.pk)
    assert run_outbox("fulfilment.partner_confirmation_process") == 1
    hook.refresh_from_db()
    assert (hook.status, hook.error) == ("processed", "")
    shipment.refresh_from_db()
    assert shipment.status == "shipped"


def test_a_javascript_tracking_link_is_dropped(partner, client):
    shipment = london_shipment()
    shipment_send_to_3pl(shipment=shipment)
    confirm(
        client,
        {
            "type": "shipment.shipped",
            "shipment": shipment.pk,
            "tracking_number": "T-9",
            "tracking_url": "javascript:alert(1)",
        },
    )
    inbox_process(inbox_id=InboundWebhook.objects.get().pk)
    shipment.refresh_from_db()
    assert (shipment.status, shipment.tracking_number, shipment.tracking_url) == (
        "shipped",
        "T-9",
        "",
    )


def test_signatures_are_the_standard_webhooks_ones():
    # The example of the Standard Webhooks specification (and of its libraries' tests).
    from standardwebhooks import Webhook

    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    signature = webhook_sign(
        secret=secret, msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=1614265330, body=body
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    now = int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": webhook_sign(secret=secret, msg_id="msg_1", timestamp=now, body=body),
    }
    assert Webhook(secret).verify(body, headers) == {"test": 2432232314}
    # A secret without the whsec_ prefix is its own text as the key, as before.
    raw = hmac.new(b"a plain shared secret!", b"m.1." + body, hashlib.sha256).digest()
    plain = webhook_sign(secret="a plain shared secret!", msg_id="m", timestamp=1, body=body)
    assert plain == "v1," + base64.b64encode(raw).decode()
