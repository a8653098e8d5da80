"""The subscriptions' figures on the operations home (oms.admin.home)."""

from __future__ import annotations

from django.urls import reverse

from oms.admin.home import Tile, home_tile
from subscriptions.selectors import (
    churn_this_month_count,
    due_today_count,
    failed_payments_count,
)
from subscriptions.states import SubscriptionStatus


def _list() -> str:
    return reverse("admin:subscriptions_subscription_changelist")


for tile in (
    Tile(
        "Subscriptions",
        "Due today",
        due_today_count,
        lambda: _list() + f"?status__exact={SubscriptionStatus.ACTIVE}",
        "subscriptions.view_subscription",
        tone="info",
        help="Active subscriptions renewing by the end of today (UTC)",
    ),
    Tile(
        "Subscriptions",
        "Failed payments",
        failed_payments_count,
        lambda: _list() + f"?status__exact={SubscriptionStatus.FAILED}",
        "subscriptions.view_subscription",
        help="Renewals waiting for a payment retry, and subscriptions that failed",
    ),
    Tile(
        "Subscriptions",
        "Churn this month",
        churn_this_month_count,
        lambda: _list() + "?status__exact=cancelled",
        "subscriptions.view_subscription",
        tone="info",
        help="Cancelled or failed since the first of the month",
    ),
):
    home_tile(tile)
