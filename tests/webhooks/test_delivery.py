"""Deliveries to a local receiver: signed per Standard Webhooks, retried with the same
webhook-id after a 500 or a timeout, in per-object sequence, limited per endpoint, and an
endpoint failing for days is disabled and the admins are e-mailed."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time

import httpx
import pytest
from django.core import mail
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError
from werkzeug import Response

from oms.models import OutboxMessage
from tests.outbox import queued, run_outbox
from tests.webhooks.conftest import order, put, recorded
from webhooks.models import DeliveryStatus, Event, WebhookDelivery, WebhookEndpoint
from webhooks.services import delivery as delivery_module
from webhooks.services import (
    delivery_attempt,
    delivery_redeliver,
    endpoint_create,
    endpoint_rotate_secret,
)

DELIVER = "webhooks.deliver"


@pytest.fixture
def receiver(httpserver):
    """An endpoint for order.created events at a local receiver; (endpoint, secret, server)."""
    endpoint, secret = endpoint_create(
        url=httpserver.url_for("/hook"), events=["order.created"], description="test"
    )
    return endpoint, secret, httpserver


def received(server) -> list[tuple[bytes, dict[str, str]]]:
    return [(req.get_data(), dict(req.headers)) for req, _ in server.log]


@pytest.mark.django_db
def test_a_delivery_is_signed_and_verifies_with_standardwebhooks(network, receiver):
    endpoint, secret, server = receiver
    server.expect_request("/hook", method="POST").respond_with_data("thanks", status=200)
    put(network, "BER", "A", 5)
    o = order(lines={"A": 1})
    assert run_outbox(DELIVER) == 1
    [(body, headers)] = received(server)
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "order.created"
    assert payload["data"]["id"] == o.pk
    assert set(payload) == {"id", "type", "occurred_at", "sequence", "data", "change"}
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(body, headers)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert headers["Webhook-Id"] == delivery.webhook_id
    assert delivery.last_response_code == 200
    assert delivery.response_body_head == "thanks"
    assert delivery.last_duration_ms is not None
    assert delivery.attempts == 1


@pytest.mark.django_db
def test_a_500_is_retried_with_the_same_webhook_id(network, receiver):
    endpoint, secret, server = receiver
    server.expect_ordered_request("/hook").respond_with_data("boom", status=500)
    server.expect_ordered_request("/hook").respond_with_data("ok", status=204)
    put(network, "BER", "A", 5)
    order(lines={"A": 1})
    before = timezone.now()
    run_outbox(DELIVER, rounds=1)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_response_code == 500
    assert delivery.last_error == "HTTP 500"
    # The first retry comes within a minute (30 s, with jitter).
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 20 <= wait <= 40
    assert queued(DELIVER) == [(DELIVER, {"delivery_id": delivery.pk})]
    run_outbox(DELIVER)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 2
    ids = {headers["Webhook-Id"] for _, headers in received(server)}
    assert ids == {delivery.webhook_id}
    for body, headers in received(server):
        Webhook(secret).verify(body, headers)


@pytest.mark.django_db
def test_a_timeout_is_retried_with_the_same_webhook_id(network, receiver, monkeypatch):
    endpoint, _, server = receiver
    monkeypatch.setattr(delivery_module, "TIMEOUT", httpx.Timeout(0.3, connect=0.3))

    calls: list[float] = []

    def slow_then_fast(request):
        calls.append(time.monotonic())
        if len(calls) == 1:
            time.sleep(1.0)
        return Response("ok", status=200)

    server.expect_request("/hook").respond_with_handler(slow_then_fast)
    put(network, "BER", "A", 5)
    order(lines={"A": 1})
    run_outbox(DELIVER, rounds=1)
    time.sleep(1.0)  # the receiver (one thread) finishes the late answer
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_response_code is None
    assert "Timeout" in delivery.last_error
    run_outbox(DELIVER)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert {h["Webhook-Id"] for _, h in received(server)} == {delivery.webhook_id}


@pytest.mark.django_db
def test_the_schedule_spans_about_three_days_then_the_delivery_fails(network, receiver):
    endpoint, _, server = receiver
    server.expect_request("/hook").respond_with_data("down", status=503)
    put(network, "BER", "A", 5)
    order(lines={"A": 1})
    assert 2.5 <= sum(delivery_module.RETRY_SCHEDULE) / 86400 <= 3.5  # about three days
    assert delivery_module.RETRY_SCHEDULE[0] <= 60
    run_outbox(DELIVER, rounds=30)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == delivery_module.MAX_ATTEMPTS
    assert len(server.log) == delivery_module.MAX_ATTEMPTS
    # Redelivered: one more attempt, the same webhook-id.
    server.clear_all_handlers()
    server.expect_request("/hook").respond_with_data("back")
    delivery_redeliver(delivery=delivery)
    run_outbox(DELIVER)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert received(server)[-1][1]["Webhook-Id"] == delivery.webhook_id


@pytest.mark.django_db
def test_receivers_order_an_object_s_events_by_sequence(network, httpserver):
    endpoint, secret = endpoint_create(url=httpserver.url_for("/hook"))
    httpserver.expect_request("/hook").respond_with_data("ok")
    put(network, "BER", "A", 5)
    o = order(lines={"A": 1})
    from orders.services import order_hold, order_release

    order_hold(order=o, reason="manual")
    order_release(order=o, route=False)
    recorded()
    # Delivered in any order (newest first here), as concurrent workers might.
    for pk in WebhookDelivery.objects.order_by("-pk").values_list("pk", flat=True):
        delivery_attempt(delivery_id=pk)
    payloads = [Webhook(secret).verify(body, headers) for body, headers in received(httpserver)]
    about_order = [p for p in payloads if p["type"].startswith("order.")]
    assert [p["data"]["id"] for p in about_order] == [o.pk] * len(about_order)
    ordered = sorted(about_order, key=lambda p: p["sequence"])
    assert len({p["sequence"] for p in ordered}) == len(ordered)  # increasing, one per event
    assert [p["type"] for p in ordered][-2:] == ["order.held", "order.released"]
    assert ordered[-1]["data"]["hold_reasons"] == []
    # `data` is the order when the worker recorded it (released by then); `change` says what
    # each event did.
    assert ordered[-2]["change"] == {"reason": "manual"}
    assert ordered[-1]["change"] == {"reasons": ["manual"]}
    assert endpoint.deliveries.filter(status="succeeded").count() == Event.objects.count()


@pytest.mark.django_db
def test_both_secrets_sign_during_a_rotation(network, receiver, settings):
    endpoint, old, server = receiver
    server.expect_request("/hook").respond_with_data("ok")
    _, new = endpoint_rotate_secret(endpoint=endpoint)
    assert new != old
    assert new.startswith("whsec_")
    put(network, "BER", "A", 5)
    order(lines={"A": 1})
    run_outbox(DELIVER)
    body, headers = received(server)[-1]
    assert len(headers["Webhook-Signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)
    # After the grace period only the new one signs.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    order(lines={"A": 1})
    run_outbox(DELIVER)
    body, headers = received(server)[-1]
    Webhook(new).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body, headers)


@pytest.mark.django_db
def test_the_response_body_is_kept_up_to_1_kib(network, receiver):
    endpoint, _, server = receiver
    server.expect_request("/hook").respond_with_data("x" * 100_000, status=200)
    put(network, "BER", "A", 5)
    order(lines={"A": 1})
    run_outbox(DELIVER)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.response_body_head == "x" * 1024


@pytest.mark.django_db
def test_an_endpoint_failing_for_days_is_disabled_and_the_admins_e_mailed(
    network, receiver, django_user_model
):
    endpoint, _, server = receiver
    django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    server.expect_request("/hook").respond_with_data("down", status=500)
    put(network, "BER", "A", 5)
    order(lines={"A": 1})
    run_outbox(DELIVER, rounds=1)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    assert endpoint.is_active
    # Three days later (the clock of the streak's start moved back), it still fails.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - dt.timedelta(hours=72, minutes=1)
    )
    run_outbox(DELIVER, rounds=1)
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "72 hours" in endpoint.disabled_reason
    run_outbox("webhooks.endpoint_disabled_notify")
    [message] = mail.outbox
    assert message.to == ["boss@example.com"]
    assert endpoint.url in message.subject
    # Its deliveries are not sent any more.
    calls = len(server.log)
    order(lines={"A": 1})
    run_outbox(DELIVER)
    assert len(server.log) == calls
    assert WebhookDelivery.objects.filter(status="failed", endpoint=endpoint).exists()


@pytest.mark.django_db
def test_a_success_ends_the_failure_streak(network, receiver):
    endpoint, _, server = receiver
    server.expect_ordered_request("/hook").respond_with_data("down", status=500)
    server.expect_ordered_request("/hook").respond_with_data("ok")
    put(network, "BER", "A", 5)
    order(lines={"A": 1})
    run_outbox(DELIVER, rounds=1)
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).failing_since is not None
    run_outbox(DELIVER)
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).failing_since is None


@pytest.mark.django_db
def test_at_most_n_deliveries_of_an_endpoint_are_in_flight(network, receiver, settings):
    endpoint, _, server = receiver
    settings.OMS_WEBHOOKS_MAX_IN_FLIGHT = 1
    server.expect_request("/hook").respond_with_data("ok")
    put(network, "BER", "A", 5)
    order(lines={"A": 1})
    order(lines={"A": 1})
    first, second = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("pk")
    WebhookDelivery.objects.filter(pk=first.pk).update(
        lease_until=timezone.now() + dt.timedelta(seconds=20)
    )
    assert delivery_attempt(delivery_id=second.pk).startswith("busy")
    assert not server.log
    assert (DELIVER, {"delivery_id": second.pk}) in queued(DELIVER)
    WebhookDelivery.objects.filter(pk=first.pk).update(lease_until=None)
    assert delivery_attempt(delivery_id=second.pk) == "succeeded"


@pytest.mark.django_db
def test_a_host_that_now_resolves_to_a_private_address_is_refused_at_delivery(
    network, receiver, settings, monkeypatch
):
    endpoint, _, server = receiver
    server.expect_request("/hook").respond_with_data("ok")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url="https://hooks.example.com/in")
    settings.OMS_WEBHOOKS_ALLOW_PRIVATE = False
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 443))],
    )
    put(network, "BER", "A", 5)
    order(lines={"A": 1})
    run_outbox(DELIVER, rounds=1)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert "private" in delivery.last_error
    assert delivery.status == DeliveryStatus.PENDING  # retried: DNS may change back
    assert not server.log


def test_payload_is_compact_json():
    event = Event(
        pk=1,
        type="order.created",
        occurred_at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        sequence=1,
        data={"id": 7},
    )
    assert json.loads(delivery_module.body_of(event)) == {
        "id": 1,
        "type": "order.created",
        "occurred_at": "2026-01-02T03:04:05Z",
        "sequence": 1,
        "data": {"id": 7},
        "change": {},
    }


@pytest.mark.django_db(transaction=True)
def test_an_event_raised_while_the_broker_is_down_is_recorded_and_delivered_when_it_is_back(
    network, receiver, monkeypatch, tmp_path, settings
):
    from oms import outbox
    from tests.conftest import point_celery_at
    from tests.fulfilment import conftest as fulfilment

    endpoint, secret, server = receiver
    server.expect_request("/hook").respond_with_data("ok")
    monkeypatch.setattr(outbox, "_paused_until", 0.0)
    point_celery_at("redis://127.0.0.1:1/0", None, tmp_path, monkeypatch)  # nothing listens
    fulfilment.put(network, "BER", "A", 5)
    o = fulfilment.order(lines={"A": 1})  # committed: the broker is not needed for that
    assert not Event.objects.exists()
    noted = OutboxMessage.objects.filter(task="webhooks.event_record", state="pending")
    assert noted.filter(kwargs__event_type="order.created", kwargs__object_id=o.pk).exists()
    assert outbox.outbox_sweep() == 0  # still down: nothing published, nothing lost

    point_celery_at("memory://", None, tmp_path, monkeypatch)  # the broker is back
    assert outbox.outbox_sweep() >= noted.count()
    run_outbox("webhooks.event_record", DELIVER)
    created = Event.objects.get(type="order.created", object_id=o.pk)
    [(body, headers)] = received(server)
    payload = Webhook(secret).verify(body, headers)
    assert (payload["id"], payload["data"]["id"]) == (created.pk, o.pk)
    assert WebhookDelivery.objects.get(endpoint=endpoint).status == DeliveryStatus.SUCCEEDED


@pytest.mark.django_db
def test_the_post_goes_to_the_address_that_was_checked(network, receiver, settings, monkeypatch):
    """The host is looked up once per attempt: the request connects to the public address that
    passed the check (a second look-up answering a private one would not be used), with the
    host's name in the Host header and as the TLS server name."""
    endpoint, _, _ = receiver
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url="https://hooks.example.com/in")
    settings.OMS_WEBHOOKS_ALLOW_PRIVATE = False
    answers = iter(["93.184.215.14", "10.0.0.7"])  # public first, then private (rebinding)
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), 443))],
    )
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    put(network, "BER", "A", 5)
    order(lines={"A": 1})
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    outcome = delivery_attempt(delivery_id=delivery.pk, transport=httpx.MockTransport(answer))
    assert outcome == "succeeded"
    [request] = seen
    assert str(request.url) == "https://93.184.215.14/in"
    assert request.headers["Host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
