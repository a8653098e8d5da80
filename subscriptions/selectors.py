"""Reads of subscriptions shared by the API, the admin, the shopper's page and the tasks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from inventory.models import Channel, SkuPrice
from oms.i18n import format_money
from orders.models import Order
from subscriptions import calendar
from subscriptions.models import (
    ChannelSubscriptionSettings,
    Subscription,
    SubscriptionEvent,
    SubscriptionLine,
    SubscriptionRenewal,
)
from subscriptions.states import LIVE, Interval, RenewalStatus, SubscriptionStatus

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


def due_today_count(now: dt.datetime | None = None) -> int:
    """Active subscriptions renewing by the end of today (UTC)."""
    now = now or timezone.now()
    return subscriptions_due(now.replace(hour=23, minute=59, second=59, microsecond=999999)).count()


def failed_payments_count() -> int:
    """Renewals waiting for a payment retry, plus subscriptions whose dunning gave up."""
    waiting = SubscriptionRenewal.objects.filter(status=RenewalStatus.PAYMENT_DUE, attempts__gt=0)
    return waiting.count() + Subscription.objects.filter(status=SubscriptionStatus.FAILED).count()


def churned(since: dt.datetime) -> QuerySet[Subscription]:
    """Subscriptions that left since `since`: cancelled, or failed and not cancelled since."""
    return Subscription.objects.filter(
        Q(cancelled_at__gte=since) | Q(failed_at__gte=since, status=SubscriptionStatus.FAILED)
    )


def churn_this_month_count(now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    return churned(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)).count()


def line_price_text(line: SubscriptionLine, currency: str) -> str:
    """A line's unit price as the shopper reads it, in the active language ("current price"
    when it has none)."""
    if line.unit_price is None:
        return gettext("current price")
    return format_money(line.unit_price, currency)


def _renewals_within(sub: Subscription, end: dt.datetime, time_zone: str) -> int:
    """How many renewals of `sub` fall before `end`: its schedule from the next date (a skip
    has moved that already), stopping at its end (after N orders, or on a date)."""
    count = 0
    while True:
        at = calendar.renewal_at(
            anchor=sub.anchor_at,
            index=sub.period_index + count,
            interval=sub.interval,
            count=sub.interval_count,
            time_zone=time_zone,
        )
        sequence = sub.next_sequence + count
        if at >= end or (sub.ends_after_orders is not None and sequence > sub.ends_after_orders):
            return count
        if sub.ends_on is not None and at.date() > sub.ends_on:
            return count
        count += 1


def renewal_demand(now: dt.datetime, horizon: dt.timedelta) -> dict[tuple[int, int | None], int]:
    """Planned demand of subscriptions (inventory.planned_demand): the units of the renewals of
    active subscriptions due before now + horizon (paused, failed and cancelled ones renew
    nothing), per SKU, without a location (routing decides it at capture). 2 queries."""
    end = now + horizon
    subs = list(
        Subscription.objects.filter(status__in=LIVE, next_order_at__lt=end)
        .select_related("channel__subscription_settings")
        .only(
            "anchor_at",
            "period_index",
            "interval",
            "interval_count",
            "next_sequence",
            "ends_after_orders",
            "ends_on",
            "channel__subscription_settings__time_zone",
        )
    )
    renewals: dict[int, int] = {}
    for sub in subs:
        settings = getattr(sub.channel, "subscription_settings", None)
        count = _renewals_within(sub, end, settings.time_zone if settings else "UTC")
        if count:
            renewals[sub.pk] = count
    units: dict[tuple[int, int | None], int] = {}
    lines = SubscriptionLine.objects.filter(subscription_id__in=list(renewals)).values_list(
        "subscription_id", "sku_id", "quantity"
    )
    for subscription_id, sku_id, quantity in lines.order_by() if renewals else ():
        key = (sku_id, None)
        units[key] = units.get(key, 0) + quantity * renewals[subscription_id]
    return units


#: A renewal's amount times these, over interval_count, is its monthly amount (MRR).
MONTHLY_FACTOR = {
    Interval.DAY: Decimal("30.4375"),  # 365.25 / 12
    Interval.WEEK: Decimal(52) / Decimal(12),
    Interval.MONTH: Decimal(1),
}


def monthly_amounts(channel: Channel | None = None) -> list[tuple[str, str, Decimal]]:
    """(channel code, currency, monthly amount) of each active subscription: what one renewal
    costs (lines at their unit price, "current price" lines at the SKU's current price on the
    channel, a line without any price counting 0, plus shipping), normalised to a month (day x
    30.4375, week x 52/12, month x 1, each over interval_count). 3 queries at most."""
    subs = Subscription.objects.filter(status__in=LIVE)
    if channel is not None:
        subs = subs.filter(channel=channel)
    rows = list(
        subs.values_list(
            "pk",
            "channel_id",
            "channel__code",
            "currency",
            "shipping_price",
            "interval",
            "interval_count",
        ).order_by()
    )
    ids = [row[0] for row in rows]
    lines = list(
        SubscriptionLine.objects.filter(subscription_id__in=ids)
        .values_list("subscription_id", "sku_id", "quantity", "unit_price")
        .order_by()
        if ids
        else ()
    )
    unpriced = {sku_id for _, sku_id, _, price in lines if price is None}
    prices: dict[tuple[int, int | None, str], Decimal] = {}
    if unpriced:
        for sku_id, channel_id, currency, amount in SkuPrice.objects.filter(
            sku_id__in=unpriced
        ).values_list("sku_id", "channel_id", "currency", "amount"):
            prices[(sku_id, channel_id, currency)] = amount
    info = {pk: (channel_id, currency) for pk, channel_id, _, currency, *_ in rows}
    per_renewal: dict[int, Decimal] = dict.fromkeys(ids, Decimal(0))
    for sub_id, sku_id, quantity, price in lines:
        channel_id, currency = info[sub_id]
        if price is None:
            price = prices.get((sku_id, channel_id, currency), prices.get((sku_id, None, currency)))
        per_renewal[sub_id] += (price or Decimal(0)) * quantity
    return [
        (
            code,
            currency,
            (per_renewal[pk] + shipping) * MONTHLY_FACTOR[Interval(interval)] / count,
        )
        for pk, _, code, currency, shipping, interval, count in rows
    ]
