"""Subscriptions in the back office: the list and its filters, the page with its timeline and
orders, the actions through the services, and the counts on the operations home."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from oms.roles import CUSTOMER_CARE, WAREHOUSE
from subscriptions import services
from subscriptions.models import Subscription
from tests.orders.test_admin import staff_client

LIST = "/admin/subscriptions/subscription/"


@pytest.fixture
def care(db):
    return staff_client(CUSTOMER_CARE, username="carla")


def act(client, action, subs):
    return client.post(
        LIST,
        {"action": action, "_selected_action": [s.pk for s in subs], "index": "0"},
        follow=True,
    )


def test_list_filters_and_page_with_timeline_and_orders(care, make_sub):
    sub = make_sub()
    services.subscription_renew(subscription=sub)
    paused = make_sub(next_order_at=timezone.now() + dt.timedelta(days=3))
    services.subscription_pause(subscription=paused)
    listed = care.get(LIST).content.decode()
    assert sub.number in listed
    assert paused.number in listed
    only_paused = care.get(LIST, {"status__exact": "paused"}).content.decode()
    assert paused.number in only_paused
    assert f">{sub.number}<" not in only_paused
    page = care.get(f"{LIST}{sub.pk}/change/").content.decode()
    assert "renewals and their orders" in page.lower()
    order = sub.renewals.get().order
    assert order is not None
    assert f"/admin/orders/order/{order.pk}/change/" in page
    assert "renewal_ordered" in page  # the timeline
    assert f"/track/subscription/{sub.manage_token}/" in page


def test_list_takes_a_bounded_number_of_queries(care, make_sub, django_assert_num_queries):
    for _ in range(4):
        make_sub()
    # session, user, groups, permissions (2), the channel filter, counts (2), the page with its
    # channels, the groups again (actions), the date hierarchy's first and last day (1): the
    # same for any page size
    with django_assert_num_queries(11):
        response = care.get(LIST)
    assert response.status_code == 200
    for _ in range(4):
        make_sub()
    with django_assert_num_queries(11):
        care.get(LIST)


def test_actions_call_the_services_and_report_per_subscription(care, make_sub):
    one = make_sub(next_order_at=timezone.now() + dt.timedelta(days=3))
    two = make_sub(next_order_at=timezone.now() + dt.timedelta(days=3))
    response = act(care, "pause", [one, two])
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        f"Subscription {one.number}: paused.",
        f"Subscription {two.number}: paused.",
    ]
    response = act(care, "renew", [one])  # paused: refused, reported
    assert any("cannot be renewed" in str(m) for m in response.context["messages"])
    act(care, "resume", [one])
    act(care, "skip", [one])
    act(care, "renew", [one])
    assert one.renewals.count() == 1
    act(care, "cancel", [two])
    assert Subscription.objects.get(pk=two.pk).status == "cancelled"


def test_warehouse_sees_but_cannot_act(make_sub):
    sub = make_sub(next_order_at=timezone.now() + dt.timedelta(days=3))
    warehouse = staff_client(WAREHOUSE, username="wanda")
    assert warehouse.get(LIST).status_code == 200
    act(warehouse, "pause", [sub])
    assert Subscription.objects.get(pk=sub.pk).status == "active"


def test_operations_home_counts(care, make_sub):
    make_sub()  # due now
    failed = make_sub(next_order_at=timezone.now() + dt.timedelta(days=3))
    Subscription.objects.filter(pk=failed.pk).update(status="failed", failed_at=timezone.now())
    gone = make_sub(next_order_at=timezone.now() + dt.timedelta(days=3))
    services.subscription_cancel(subscription=gone, reason="test")
    from subscriptions.selectors import (
        churn_this_month_count,
        due_today_count,
        failed_payments_count,
    )

    assert (due_today_count(), failed_payments_count(), churn_this_month_count()) == (1, 1, 2)
    home = care.get("/admin/").content.decode()
    assert "Subscriptions" in home
    assert "Due today" in home
    assert "Churn this month" in home
