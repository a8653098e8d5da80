"""Reads of subscriptions shared by the API, the admin, the shopper's page and the tasks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from inventory.models import Channel
from orders.models import Order
from subscriptions.models import (
    ChannelSubscriptionSettings,
    Subscription,
    SubscriptionEvent,
    SubscriptionLine,
    SubscriptionRenewal,
)
from subscriptions.states import RenewalStatus, SubscriptionStatus

#: The dunning schedule when a channel sets none: days after the renewal date to try again.
DEFAULT_DUNNING_DAYS = (1, 3, 7)


def subscription_list() -> QuerySet[Subscription]:
    """Subscriptions with their channel and lines (SKUs), newest first (3 queries a page)."""
    return (
        Subscription.objects.select_related("channel")
        .prefetch_related(
            Prefetch("lines", queryset=SubscriptionLine.objects.select_related("sku"))
        )
        .order_by("-id")
    )


def subscription_events(subscription: Subscription) -> QuerySet[SubscriptionEvent]:
    return SubscriptionEvent.objects.filter(subscription=subscription).order_by("created_at", "id")


def subscription_orders(subscription: Subscription) -> QuerySet[Order]:
    """The renewal orders of the subscription, newest first."""
    return Order.objects.filter(subscription_renewal__subscription=subscription).order_by("-id")


def subscription_renewals(subscription: Subscription) -> QuerySet[SubscriptionRenewal]:
    return SubscriptionRenewal.objects.filter(subscription=subscription).select_related("order")


def subscription_by_token(token: str) -> Subscription | None:
    return subscription_list().filter(manage_token=token).first()


def channel_settings(channel: Channel | int) -> ChannelSubscriptionSettings:
    """The channel's subscription settings (an unsaved default row when it has none)."""
    channel_id = channel if isinstance(channel, int) else channel.pk
    found = ChannelSubscriptionSettings.objects.filter(channel_id=channel_id).first()
    return found or ChannelSubscriptionSettings(channel_id=channel_id)


def dunning_days(settings: ChannelSubscriptionSettings) -> tuple[int, ...]:
    days = tuple(int(d) for d in (settings.dunning_days or []) if int(d) > 0)
    return tuple(sorted(days)) or DEFAULT_DUNNING_DAYS


def subscriptions_due(now: dt.datetime) -> QuerySet[Subscription]:
    return Subscription.objects.filter(status=SubscriptionStatus.ACTIVE, next_order_at__lte=now)


def renewals_payment_due(now: dt.datetime) -> QuerySet[SubscriptionRenewal]:
    """Renewals whose order waits for a (dunning) payment attempt that is due."""
    return SubscriptionRenewal.objects.filter(
        status=RenewalStatus.PAYMENT_DUE, next_attempt_at__lte=now
    )


@dataclass(frozen=True)
class SubscriptionCounts:
    due_today: int
    failed_payments: int
    churn_this_month: int


def subscription_counts(now: dt.datetime | None = None) -> SubscriptionCounts:
    """The operations home's counts: active subscriptions renewing by the end of today (UTC),
    renewals waiting for a payment retry plus failed subscriptions, and subscriptions
    cancelled or failed since the first of the month."""
    now = now or timezone.now()
    end_of_day = now.replace(hour=23, minute=59, second=59, microsecond=999999)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    due = subscriptions_due(end_of_day).count()
    failed = (
        SubscriptionRenewal.objects.filter(status=RenewalStatus.PAYMENT_DUE, attempts__gt=0).count()
        + Subscription.objects.filter(status=SubscriptionStatus.FAILED).count()
    )
    churn = (
        Subscription.objects.filter(cancelled_at__gte=month_start).count()
        + Subscription.objects.filter(failed_at__gte=month_start, cancelled_at__isnull=True).count()
    )
    return SubscriptionCounts(due_today=due, failed_payments=failed, churn_this_month=churn)


def subscription_line_total(subscription: Subscription) -> Decimal:
    return sum((line.unit_price * line.quantity for line in subscription.lines.all()), Decimal(0))
