"""The webhooks API: endpoints (the secret answered once), deliveries, the events feed, problem
JSON on every bad input, and who may do what."""

from __future__ import annotations

import socket

import pytest
from django.apps import apps

from oms.roles import INTEGRATOR, MANAGER, WAREHOUSE, roles_sync
from tests.conftest import token_client
from tests.outbox import queued
from tests.webhooks.conftest import order, put
from webhooks import models as webhook_models
from webhooks.models import Event, WebhookDelivery, WebhookEndpoint

ENDPOINTS = "/api/v1/webhook-endpoints/"
DELIVERIES = "/api/v1/webhook-deliveries/"
FEED = "/api/v1/events/"


@pytest.fixture
def api(db):
    roles_sync(apps)
    return token_client(MANAGER)


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    return response.json()


def test_the_secret_is_answered_once(api):
    created = api.post(
        ENDPOINTS,
        {"url": "https://127.0.0.1/hook", "events": ["order.created"], "description": "ERP"},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_")
    pk = body["id"]
    for response in (
        api.get(ENDPOINTS),
        api.get(f"{ENDPOINTS}{pk}/"),
        api.patch(f"{ENDPOINTS}{pk}/", {"description": "ERP 2"}, format="json"),
        api.post(f"{ENDPOINTS}{pk}/disable/", {"reason": "maintenance"}, format="json"),
        api.post(f"{ENDPOINTS}{pk}/enable/", format="json"),
    ):
        assert response.status_code == 200, response.content
        assert "secret" not in response.content.decode().replace("previous_secret_valid", "")
        assert body["secret"] not in response.content.decode()
    endpoint = WebhookEndpoint.objects.get(pk=pk)
    assert body["secret"] not in endpoint.secret_encrypted
    rotated = api.post(f"{ENDPOINTS}{pk}/rotate-secret/")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in (body["secret"], None)
    assert rotated.json()["previous_secret_valid_until"]
    assert api.get(f"{ENDPOINTS}{pk}/").json()["description"] == "ERP 2"


def test_disable_and_enable(api):
    pk = api.post(ENDPOINTS, {"url": "https://127.0.0.1/h"}, format="json").json()["id"]
    off = api.post(f"{ENDPOINTS}{pk}/disable/", {"reason": "maintenance"}, format="json").json()
    assert off["is_active"] is False
    assert off["disabled_reason"] == "maintenance"
    on = api.post(f"{ENDPOINTS}{pk}/enable/").json()
    assert on["is_active"] is True
    assert on["disabled_reason"] == ""
    assert api.delete(f"{ENDPOINTS}{pk}/").status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=pk).exists()
    problem(api.get(f"{ENDPOINTS}{pk}/"), 404)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1/h", "loopback"),
        ("https://10.1.2.3/h", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[::1]/h", "loopback"),
        ("https://0.0.0.0/h", "reserved"),
        ("https://localhost/h", "loopback"),
    ],
)
def test_internal_addresses_are_refused_at_creation(api, settings, url, why):
    settings.OMS_WEBHOOKS_ALLOW_PRIVATE = False
    body = problem(api.post(ENDPOINTS, {"url": url}, format="json"), 400)
    assert "url" in str(body)
    assert not WebhookEndpoint.objects.exists()


def test_a_host_resolving_to_a_private_address_is_refused(api, settings, monkeypatch):
    settings.OMS_WEBHOOKS_ALLOW_PRIVATE = False
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.1.5", 443))],
    )
    problem(api.post(ENDPOINTS, {"url": "https://erp.example.com/h"}, format="json"), 400)
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))],
    )
    ok = api.post(ENDPOINTS, {"url": "https://erp.example.com/h"}, format="json")
    assert ok.status_code == 201


def test_https_is_required_unless_debug(api, settings):
    settings.DEBUG = False
    problem(api.post(ENDPOINTS, {"url": "http://127.0.0.1/h"}, format="json"), 400)
    settings.DEBUG = True
    assert api.post(ENDPOINTS, {"url": "http://127.0.0.1/h"}, format="json").status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": "not a url"},
        {"url": "ftp://127.0.0.1/x"},
        {"url": "https://127.0.0.1/h", "events": ["order.exploded"]},
        {"url": "https://127.0.0.1/h", "events": "order.created"},
        {"url": "https://127.0.0.1/h", "secret": "whsec_mine"},
        {"url": "https://user:pw@127.0.0.1/h"},
        [],
    ],
)
def test_bad_input_is_problem_json(api, body):
    problem(api.post(ENDPOINTS, body, format="json"), 400)


@pytest.mark.parametrize(
    "query",
    ["after=abc", "after=-1", "types=order.exploded", "limit=0", "limit=501", "after=1e3"],
)
def test_bad_feed_queries_are_problem_json(api, query):
    problem(api.get(f"{FEED}?{query}"), 400)


def test_the_feed_pages_with_a_cursor_and_filters_types(api, network, monkeypatch):
    monkeypatch.setattr(webhook_models, "STOCK_COALESCE_SECONDS", 0.0)
    put(network, "BER", "A", 50)
    orders = [order(lines={"A": 1}) for _ in range(3)]
    total = Event.objects.count()
    seen: list[int] = []
    after = 0
    while True:
        page = api.get(f"{FEED}?after={after}&limit=2").json()
        seen += [e["id"] for e in page["results"]]
        assert len(page["results"]) <= 2
        after = page["next_after"]
        if not page["has_more"]:
            break
        assert f"after={after}" in page["next"]
    assert len(seen) == total == len(set(seen))
    assert seen == sorted(seen)  # one writer at a time here: commit order is id order
    created = api.get(f"{FEED}?types=order.created,order.held").json()["results"]
    assert [e["data"]["id"] for e in created] == [o.pk for o in orders]
    assert {e["type"] for e in created} == {"order.created"}
    first = created[0]
    assert set(first) >= {"id", "type", "occurred_at", "sequence", "data"}
    # Replayable: reading again from the same cursor gives the same events.
    again = api.get(f"{FEED}?after={created[0]['id']}&types=order.created").json()["results"]
    assert [e["id"] for e in again] == [e["id"] for e in created[1:]]
    # Nothing new: an empty page that keeps the cursor.
    end = api.get(f"{FEED}?after={seen[-1]}").json()
    assert end["results"] == []
    assert end["next_after"] == seen[-1]


def test_a_stock_event_in_its_coalescing_second_stops_the_feed(api, network):
    put(network, "BER", "A", 5)
    assert api.get(FEED).json()["results"] == []
    Event.objects.update(sealed=True)
    assert len(api.get(FEED).json()["results"]) == 1


def test_deliveries_filter_and_redeliver(api, network):
    a = api.post(ENDPOINTS, {"url": "https://127.0.0.1/a"}, format="json").json()["id"]
    b = api.post(
        ENDPOINTS, {"url": "https://127.0.0.1/b", "events": ["order.created"]}, format="json"
    ).json()["id"]
    put(network, "BER", "A", 5)
    order(lines={"A": 1})
    listed = api.get(f"{DELIVERIES}?endpoint={b}").json()["results"]
    assert [d["event_type"] for d in listed] == ["order.created"]
    assert {d["endpoint"] for d in api.get(f"{DELIVERIES}?endpoint={a}").json()["results"]} == {a}
    assert api.get(f"{DELIVERIES}?status=succeeded").json()["results"] == []
    problem(api.get(f"{DELIVERIES}?status=exploded"), 400)
    problem(api.get(f"{DELIVERIES}?endpoint=x"), 400)
    delivery = WebhookDelivery.objects.get(pk=listed[0]["id"])
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=10)
    before = len(queued("webhooks.deliver"))
    response = api.post(f"{DELIVERIES}{delivery.pk}/redeliver/")
    assert response.status_code == 202
    assert response.json()["webhook_id"] == delivery.webhook_id
    assert response.json()["status"] == "pending"
    assert len(queued("webhooks.deliver")) == before + 1
    problem(api.post(f"{DELIVERIES}999999/redeliver/"), 404)


def test_who_may_do_what(api):
    pk = api.post(ENDPOINTS, {"url": "https://127.0.0.1/a"}, format="json").json()["id"]
    integrator = token_client(INTEGRATOR)
    made = integrator.post(ENDPOINTS, {"url": "https://127.0.0.1/i"}, format="json")
    assert made.status_code == 201
    assert integrator.post(f"{ENDPOINTS}{pk}/rotate-secret/").status_code == 200
    problem(integrator.delete(f"{ENDPOINTS}{pk}/"), 403)  # integrators never delete
    warehouse = token_client(WAREHOUSE)
    listed = warehouse.get(ENDPOINTS)
    assert listed.status_code == 200
    assert "whsec_" not in listed.content.decode()
    assert warehouse.get(FEED).status_code == 200
    problem(warehouse.post(ENDPOINTS, {"url": "https://127.0.0.1/w"}, format="json"), 403)
    problem(warehouse.post(f"{ENDPOINTS}{pk}/rotate-secret/"), 403)
    problem(warehouse.post(f"{ENDPOINTS}{pk}/disable/"), 403)
    assert WebhookEndpoint.objects.get(pk=pk).is_active
