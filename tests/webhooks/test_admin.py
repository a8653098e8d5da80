"""The back office: an endpoint's secret is shown once (a message), rotate/disable/enable
actions, recent deliveries on its page, read-only deliveries with "Redeliver", events."""

from __future__ import annotations

import re

import pytest
from django.apps import apps

from oms.roles import MANAGER, WAREHOUSE, roles_sync
from tests import staff
from tests.outbox import queued
from tests.webhooks.conftest import order, put
from webhooks.models import Event, WebhookDelivery, WebhookEndpoint
from webhooks.services import endpoint_create

ENDPOINTS = "/admin/webhooks/webhookendpoint/"


@pytest.fixture
def manager(db):
    roles_sync(apps)
    return staff.admin_client_of(staff.user_of(MANAGER))


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def test_creating_an_endpoint_shows_its_secret_once(manager):
    response = manager.post(
        f"{ENDPOINTS}add/",
        {"url": "https://127.0.0.1/hook", "events": ["order.created"], "description": "ERP"},
        follow=True,
    )
    assert response.status_code == 200
    found = re.search(r"whsec_[A-Za-z0-9+/=]+", messages_of(response))
    assert found, messages_of(response)
    secret = found.group(0)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["order.created"]
    for page in (ENDPOINTS, f"{ENDPOINTS}{endpoint.pk}/change/"):
        shown = manager.get(page)
        assert shown.status_code == 200
        assert secret not in shown.content.decode()
        assert "whsec_" not in shown.content.decode()


def test_a_private_url_is_refused_on_the_form(manager, settings):
    settings.OMS_WEBHOOKS_ALLOW_PRIVATE = False
    response = manager.post(f"{ENDPOINTS}add/", {"url": "https://10.0.0.1/hook"})
    assert response.status_code == 200
    assert "private" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_rotate_disable_enable_actions(manager):
    endpoint, old = endpoint_create(url="https://127.0.0.1/hook")
    rotated = manager.post(
        ENDPOINTS, {"action": "rotate_secret", "_selected_action": [endpoint.pk]}, follow=True
    )
    text = messages_of(rotated)
    assert "whsec_" in text
    assert old not in text
    manager.post(ENDPOINTS, {"action": "disable", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "Disabled by" in endpoint.disabled_reason
    manager.post(ENDPOINTS, {"action": "enable", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.is_active


def test_deliveries_events_and_redeliver(manager, network):
    endpoint, _ = endpoint_create(url="https://127.0.0.1/hook", events=["order.created"])
    put(network, "BER", "A", 5)
    order(lines={"A": 1})
    delivery = WebhookDelivery.objects.get()
    page = manager.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    assert delivery.webhook_id in page  # recent deliveries on the endpoint's page
    assert manager.get("/admin/webhooks/webhookdelivery/?status__exact=pending").status_code == 200
    assert manager.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/").status_code == 200
    assert manager.get("/admin/webhooks/event/?type=order.created").status_code == 200
    event = Event.objects.first()
    assert manager.get(f"/admin/webhooks/event/{event.pk}/change/").status_code == 200
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=10)
    before = len(queued("webhooks.deliver"))
    manager.post(
        "/admin/webhooks/webhookdelivery/",
        {"action": "redeliver", "_selected_action": [delivery.pk]},
    )
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert len(queued("webhooks.deliver")) == before + 1


def test_view_only_staff_see_no_secret_and_no_actions(manager):
    endpoint, secret = endpoint_create(url="https://127.0.0.1/hook")
    warehouse = staff.admin_client_of(staff.user_of(WAREHOUSE))
    page = warehouse.get(f"{ENDPOINTS}{endpoint.pk}/change/")
    assert page.status_code == 200
    assert secret not in page.content.decode()
    warehouse.post(ENDPOINTS, {"action": "disable", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.is_active
