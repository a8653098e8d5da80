""" "Current price" lines (priced from the catalogue at each renewal), renewals that cannot be
ordered (the subscription fails visibly, never retried blindly), resuming a failed subscription
(it tries the renewal that failed it again), and PATCH of lines (replaces all of them)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import SkuPrice
from inventory.selectors import sku_current_prices
from inventory.services import sku_price_set
from oms.errors import ValidationFailed
from oms.roles import CUSTOMER_CARE
from orders.models import Order
from returns.models import Payment
from subscriptions import services
from subscriptions.models import ChannelSubscriptionSettings, SubscriptionEvent, SubscriptionRenewal
from subscriptions.selectors import failed_payments_count
from subscriptions.tasks import renew_due
from tests.orders.test_admin import staff_client
from tests.outbox import run_outbox
from tests.subscriptions.conftest import sub_payload

URL = "/api/v1/subscriptions/"
PROCESS = "subscriptions.renewal_process"
CURRENT = [
    {"sku": "BEANS-1", "quantity": 2, "unit_price": None},
    {"sku": "FILTER-1", "quantity": 1, "unit_price": "3.00"},
]


def kinds(sub) -> list[str]:
    return list(SubscriptionEvent.objects.filter(subscription=sub).values_list("kind", flat=True))


# --- current price -------------------------------------------------------------------------


def test_the_channel_price_wins_over_the_default_price_in_one_query(
    shop, django_assert_num_queries
):
    beans, filters, web = shop["beans"], shop["filters"], shop["channel"]
    sku_price_set(sku=beans, currency="eur", amount=Decimal("11.00"))
    sku_price_set(sku=beans, channel=web, currency="EUR", amount=Decimal("10.00"))
    sku_price_set(sku=filters, currency="EUR", amount=Decimal("2.00"))
    sku_price_set(sku=filters, currency="USD", amount=Decimal("9.00"))
    sku_price_set(sku=filters, currency="EUR", amount=Decimal("2.50"))  # replaces
    assert SkuPrice.objects.count() == 4
    with django_assert_num_queries(1):
        prices = sku_current_prices(
            sku_ids=[beans.pk, filters.pk], channel_id=web.pk, currency="EUR"
        )
    assert prices == {beans.pk: Decimal("10.0000"), filters.pk: Decimal("2.5000")}
    with pytest.raises(ValidationFailed) as caught:
        sku_price_set(sku=beans, currency="EUR", amount=Decimal("1.001"))
    assert "amount" in caught.value.errors
    with pytest.raises(ValidationFailed):
        sku_price_set(sku=beans, currency="XYZ", amount=Decimal(1))


def test_a_current_price_line_is_priced_at_each_renewal(manager_api, shop):
    sku_price_set(sku=shop["beans"], currency="EUR", amount=Decimal("11.00"))
    response = manager_api.post(
        URL, sub_payload(lines=[{"sku": "BEANS-1", "quantity": 2}, CURRENT[1]]), format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert [line["unit_price"] for line in body["lines"]] == [None, "3.00"]
    first = manager_api.post(f"{URL}{body['id']}/renew/").json()
    assert first["total"] == "29.90"  # 2 x 11.00 + 3.00 + 4.90 shipping
    sku_price_set(sku=shop["beans"], channel=shop["channel"], currency="EUR", amount=Decimal(9))
    second = manager_api.post(f"{URL}{body['id']}/renew/").json()
    assert second["total"] == "25.90"  # the channel's price now: 2 x 9.00 + 3.00 + 4.90
    lines = Order.objects.get(pk=second["id"]).lines.order_by("id")
    assert [line.unit_price for line in lines] == [Decimal("9.0000"), Decimal("3.0000")]


# --- a renewal that cannot be ordered ------------------------------------------------------


def test_no_current_price_fails_the_subscription_visibly_and_resume_orders_it(
    make_sub, shop, manager_api
):
    sub = make_sub(lines=CURRENT)
    assert renew_due()["claimed"] == 1
    run_outbox(PROCESS)
    renewal = SubscriptionRenewal.objects.get(subscription=sub)
    sub.refresh_from_db()
    assert (renewal.status, renewal.order_id) == ("capture_failed", None)
    assert "BEANS-1 has no current price in EUR" in renewal.last_error
    assert sub.status == "failed"
    assert sub.failure_reason.startswith("Renewal 1 could not be ordered")
    assert {"renewal_failed", "failed"} <= set(kinds(sub))
    assert failed_payments_count() == 1  # the operations home counts it
    # never retried blindly: processing it again, or the beat, does nothing
    services.renewal_process(renewal_id=renewal.pk)
    assert renew_due() == services.DueRun(claimed=0, retries=0).__dict__
    assert not Order.objects.exists()
    care = staff_client(CUSTOMER_CARE, username="carla")
    listed = care.get("/admin/subscriptions/subscription/", {"status__exact": "failed"})
    assert sub.number in listed.content.decode()
    assert "could not be ordered" in listed.content.decode()
    assert manager_api.get(f"{URL}{sub.pk}/").json()["failure_reason"] == sub.failure_reason

    sku_price_set(sku=shop["beans"], currency="EUR", amount=Decimal("12.00"))
    resumed = manager_api.post(f"{URL}{sub.pk}/resume/").json()
    assert (resumed["status"], resumed["failure_reason"]) == ("active", "")
    run_outbox(PROCESS)
    renewal.refresh_from_db()
    assert renewal.status == "paid"
    assert renewal.order is not None
    assert renewal.order.external_id == f"SUB-{sub.number}-1"  # the same period, once
    assert str(renewal.order.total) == "31.9000"


def test_an_inactive_channel_fails_the_renew_command_with_409(make_sub, shop, manager_api):
    sub = make_sub(next_order_at=timezone.now() + dt.timedelta(days=3))
    type(shop["channel"]).objects.filter(pk=shop["channel"].pk).update(is_active=False)
    response = manager_api.post(f"{URL}{sub.pk}/renew/")
    assert response.status_code == 409, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "renewal_failed"
    sub.refresh_from_db()
    assert sub.status == "failed"
    assert not Order.objects.exists()


def test_resuming_after_the_dunning_gave_up_tries_the_payment_again(make_sub, shop):
    ChannelSubscriptionSettings.objects.create(channel=shop["channel"], dunning_days=[1])
    sub = make_sub(payment_reference="decline_card")
    renew_due()
    run_outbox(PROCESS)
    renewal = SubscriptionRenewal.objects.get(subscription=sub)
    SubscriptionRenewal.objects.filter(pk=renewal.pk).update(next_attempt_at=timezone.now())
    renew_due()
    run_outbox(PROCESS)
    sub.refresh_from_db()
    assert sub.status == "failed"
    assert "could not be paid" in sub.failure_reason
    services.subscription_update(subscription=sub, data={"payment_reference": "cus_2:pm_2"})
    services.subscription_resume(subscription=sub)
    run_outbox(PROCESS)
    renewal.refresh_from_db()
    assert (renewal.status, renewal.attempts) == ("paid", 3)
    assert renewal.order is not None
    assert renewal.order.payment_status == "paid"
    assert Payment.objects.filter(order=renewal.order).count() == 3
    resumed = SubscriptionEvent.objects.get(subscription=sub, kind="resumed")
    assert resumed.data["retried_sequence"] == 1


def test_resuming_a_paused_subscription_retries_nothing(make_sub):
    sub = make_sub(next_order_at=timezone.now() + dt.timedelta(days=3))
    services.subscription_pause(subscription=sub)
    services.subscription_resume(subscription=sub)
    assert "retried_sequence" not in SubscriptionEvent.objects.get(kind="resumed").data
    assert not SubscriptionRenewal.objects.exists()


# --- PATCH of lines ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lines",
    [
        [],
        [
            {"sku": "BEANS-1", "quantity": 1, "unit_price": "1.00"},
            {"sku": "BEANS-1", "quantity": 2, "unit_price": "1.00"},
        ],
    ],
    ids=["empty", "duplicate-sku"],
)
def test_patch_lines_refuses_empty_and_duplicate_skus_and_changes_nothing(
    manager_api, make_sub, lines
):
    sub = make_sub()
    before = list(sub.lines.values_list("sku__code", "quantity", "unit_price"))
    response = manager_api.patch(f"{URL}{sub.pk}/", {"lines": lines}, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert "lines" in response.json()["errors"]
    assert list(sub.lines.values_list("sku__code", "quantity", "unit_price")) == before
    assert "changed" not in kinds(sub)


def test_duplicate_skus_are_refused_by_the_service_too(make_sub):
    sub = make_sub()
    with pytest.raises(ValidationFailed) as caught:
        services.subscription_update(
            subscription=sub,
            data={"lines": [{"sku": "BEANS-1", "quantity": 1}, {"sku": "BEANS-1", "quantity": 1}]},
        )
    assert caught.value.errors == {"lines": ["One line per SKU: BEANS-1 more than once."]}


def test_patch_replaces_all_lines_and_the_schema_says_so(manager_api, make_sub):
    sub = make_sub()
    response = manager_api.patch(
        f"{URL}{sub.pk}/", {"lines": [{"sku": "FILTER-1", "quantity": 4}]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert [(ln["sku"], ln["quantity"], ln["unit_price"]) for ln in response.json()["lines"]] == [
        ("FILTER-1", 4, None)
    ]
    schema = manager_api.get("/api/schema/", {"format": "json"}).json()
    patch = schema["paths"]["/api/v1/subscriptions/{id}/"]["patch"]
    assert "replaces all the lines" in patch["description"]
