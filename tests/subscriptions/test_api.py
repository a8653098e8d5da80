"""The subscriptions API: create, list with filters, retrieve, PATCH, the commands, the renewal
orders; problem JSON for bad input (nothing written), permissions, idempotency, query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from oms.roles import CUSTOMER_CARE, WAREHOUSE
from orders.models import Order
from subscriptions.models import Subscription, SubscriptionEvent
from tests.subscriptions.conftest import sub_payload

URL = "/api/v1/subscriptions/"


@pytest.fixture
def api(shop, manager_api):
    return manager_api


def test_create_retrieve_and_list(api):
    response = api.post(URL, sub_payload(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "active"
    assert body["number"]
    assert body["customer"]["email"] == "anna@example.com"
    assert [ln["sku"] for ln in body["lines"]] == ["BEANS-1", "FILTER-1"]
    assert body["lines"][0]["unit_price"] == "12.50"
    assert body["has_payment_method"] is True
    assert "payment_reference" not in body  # never shown
    got = api.get(f"{URL}{body['id']}/").json()
    assert got["next_order_at"] == body["next_order_at"]
    listed = api.get(URL, {"status": "active", "channel": "web"}).json()
    assert [s["id"] for s in listed["results"]] == [body["id"]]
    assert api.get(URL, {"status": "paused"}).json()["results"] == []
    assert api.get(URL, {"email": "ANNA@example.com"}).json()["results"]


def test_filters_on_next_date_and_customer(api, make_sub):
    soon = make_sub(next_order_at=timezone.now() + dt.timedelta(days=2))
    later = make_sub(next_order_at=timezone.now() + dt.timedelta(days=20))
    before = (timezone.now() + dt.timedelta(days=5)).isoformat()
    ids = [s["id"] for s in api.get(URL, {"next_order_before": before}).json()["results"]]
    assert ids == [soon.pk]
    ids = [s["id"] for s in api.get(URL, {"next_order_after": before}).json()["results"]]
    assert ids == [later.pk]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"channel": "nope"}, "channel"),
        ({"lines": [{"sku": "NOPE", "quantity": 1, "unit_price": "1.00"}]}, "lines.0.sku"),
        ({"lines": [{"sku": "BEANS-1", "quantity": 0, "unit_price": "1.00"}]}, "lines.0.quantity"),
        (
            {"lines": [{"sku": "BEANS-1", "quantity": 1, "unit_price": "1.001"}]},
            "lines.0.unit_price",
        ),
        ({"interval": "year"}, "interval"),
        ({"currency": "XYZ"}, "currency"),
        ({"lines": []}, "lines"),
    ],
)
def test_bad_input_is_problem_json_and_writes_nothing(api, changes, field):
    response = api.post(URL, sub_payload(**changes), format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert field in response.json()["errors"]
    assert not Subscription.objects.exists()


def test_patch_lines_address_interval_and_date(api, make_sub):
    sub = make_sub()
    new_date = (timezone.now() + dt.timedelta(days=10)).replace(microsecond=0)
    response = api.patch(
        f"{URL}{sub.pk}/",
        {
            "lines": [{"sku": "BEANS-1", "quantity": 3, "unit_price": "12.00"}],
            "shipping_address": {"line1": "Neue Straße 5"},
            "interval": "week",
            "interval_count": 2,
            "next_order_at": new_date.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(ln["sku"], ln["quantity"]) for ln in body["lines"]] == [("BEANS-1", 3)]
    assert body["shipping_address"]["line1"] == "Neue Straße 5"
    assert body["shipping_address"]["city"] == "Berlin"  # the rest stays
    assert (body["interval"], body["interval_count"]) == ("week", 2)
    assert dt.datetime.fromisoformat(body["next_order_at"]) == new_date
    assert SubscriptionEvent.objects.filter(subscription=sub, kind="changed").exists()


def test_commands_follow_the_state_table(api, make_sub):
    sub = make_sub(next_order_at=timezone.now() + dt.timedelta(days=3))
    base = f"{URL}{sub.pk}/"
    assert api.post(f"{base}pause/", {"reason": "holiday"}, format="json").json()["status"] == (
        "paused"
    )
    assert api.post(f"{base}renew/").status_code == 409  # paused: nothing to renew
    skipped = api.post(f"{base}skip/").json()
    assert skipped["next_order_at"] > sub.next_order_at.isoformat().replace("+00:00", "Z")
    assert api.post(f"{base}resume/").json()["status"] == "active"
    cancelled = api.post(f"{base}cancel/", {"reason": "too much coffee"}, format="json").json()
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "too much coffee")
    for command in ("pause", "resume", "skip", "renew"):
        response = api.post(f"{base}{command}/")
        assert response.status_code == 409, command
        assert response.json()["code"] == "invalid_transition"
    kinds = [e["kind"] for e in api.get(f"{base}events/").json()]
    assert kinds[0] == "created"
    assert {"paused", "skipped", "resumed", "cancelled", "status_changed"} <= set(kinds)


def test_renew_orders_now_and_lists_the_orders(api, make_sub):
    sub = make_sub(next_order_at=timezone.now() + dt.timedelta(days=3))
    response = api.post(f"{URL}{sub.pk}/renew/", HTTP_IDEMPOTENCY_KEY="renew-1")
    assert response.status_code == 200, response.content
    order = response.json()
    assert order["external_id"] == f"SUB-{sub.number}-1"
    assert order["payment_status"] == "paid"  # charged through the payment port
    assert order["total"] == "32.90"
    again = api.post(f"{URL}{sub.pk}/renew/", HTTP_IDEMPOTENCY_KEY="renew-1")
    assert again.json()["id"] == order["id"]  # the key replays
    assert Order.objects.count() == 1
    listed = api.get(f"{URL}{sub.pk}/orders/").json()["results"]
    assert [(o["id"], o["sequence"]) for o in listed] == [(order["id"], 1)]


def test_permissions(shop, api_client_for, make_sub):
    sub = make_sub()
    warehouse = api_client_for(WAREHOUSE)
    assert warehouse.get(URL).status_code == 200
    assert warehouse.post(f"{URL}{sub.pk}/pause/").status_code == 403
    assert warehouse.post(URL, sub_payload(), format="json").status_code == 403
    care = api_client_for(CUSTOMER_CARE)
    assert care.post(f"{URL}{sub.pk}/pause/").status_code == 200


def test_list_query_count(api, make_sub, django_assert_num_queries):
    for _ in range(5):
        make_sub()
    # the token with its user, the user's groups, its permissions (user's and groups'), the
    # page of subscriptions with their channels, their lines with their SKUs
    with django_assert_num_queries(6):
        response = api.get(URL)
    assert len(response.json()["results"]) == 5


def test_schema_documents_the_endpoints(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    for path in ("pause", "resume", "skip", "cancel", "renew", "orders", "events"):
        assert f"/api/v1/subscriptions/{{id}}/{path}/" in paths
    assert "patch" in paths["/api/v1/subscriptions/{id}/"]


def test_renew_while_the_provider_is_unreachable_answers_202_and_the_outbox_finishes(
    api, make_sub, fake_payments, monkeypatch
):
    from oms.errors import TransientError
    from tests.outbox import run_outbox

    sub = make_sub(next_order_at=timezone.now() + dt.timedelta(days=3))
    real_charge = fake_payments.charge

    def unreachable(request):
        raise TransientError("Stripe: connection reset")

    monkeypatch.setattr(fake_payments, "charge", unreachable)
    response = api.post(f"{URL}{sub.pk}/renew/")
    # claimed; charged first, so nothing is captured until the provider answers
    assert response.status_code == 202
    assert response.json() == {"sequence": 1, "status": "pending"}
    assert not Order.objects.exists()
    monkeypatch.setattr(fake_payments, "charge", real_charge)
    run_outbox("subscriptions.renewal_process")
    order = Order.objects.get()
    assert order.payment_status == "paid"
    assert Order.objects.count() == 1
