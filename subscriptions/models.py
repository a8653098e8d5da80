"""Subscriptions: recurring orders of a shopper on a channel, their renewals and timeline.

Invariants the schema enforces:
- a subscription's number is unique, its interval_count and line quantities positive, its
  status and interval among the declared ones;
- one renewal per (subscription, sequence): a period is ordered at most once, whichever beat,
  retried task or `renew` call gets there first (the renewal's order has the external id
  `SUB-<number>-<sequence>`, unique per channel in orders as well);
- one settings row per channel.
Invariants the services enforce (subscriptions.services): every status change follows
states.TRANSITIONS under the subscription's row lock and is written to the timeline.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone

from subscriptions.states import Interval, RenewalStatus, SubscriptionStatus

#: A subscription's number is NUMBER_BASE plus its primary key.
NUMBER_BASE = 5000


def manage_token() -> str:
    """The secret of the shopper's self-service link (like the order's tracking token)."""
    return secrets.token_urlsafe(24)


class ChannelSubscriptionSettings(models.Model):
    """How a channel's subscriptions renew: its time zone (renewal dates are wall-clock dates
    there), the dunning schedule and the reminder before a renewal."""

    channel = models.OneToOneField(
        "inventory.Channel", on_delete=models.CASCADE, related_name="subscription_settings"
    )
    time_zone = models.CharField(
        max_length=64, default="UTC", help_text="IANA name, e.g. Europe/Berlin."
    )
    dunning_days = models.JSONField(
        default=list,
        blank=True,
        help_text="Days after a failed renewal payment to try again, e.g. [1, 3, 7] "
        "(empty: the default 1, 3, 7). After the last one the subscription fails.",
    )
    reminder_days = models.PositiveSmallIntegerField(
        default=3, help_text="Days before a renewal the shopper is reminded (0: no reminder)."
    )

    class Meta:
        verbose_name = "channel subscription settings"
        verbose_name_plural = "channel subscription settings"

    def __str__(self) -> str:
        return f"Subscription settings of {self.channel_id}"


class Subscription(models.Model):
    number = models.CharField(max_length=20, unique=True, null=True, blank=True)
    channel = models.ForeignKey(
        "inventory.Channel", on_delete=models.PROTECT, related_name="subscriptions"
    )
    customer = models.ForeignKey(
        "orders.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="subscriptions",
    )
    email = models.EmailField(max_length=254)
    customer_name = models.CharField(max_length=200, blank=True)
    shipping_address = models.JSONField(default=dict, blank=True)
    currency = models.CharField(max_length=3)
    shipping_price = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    interval = models.CharField(max_length=8, choices=Interval.choices)
    interval_count = models.PositiveSmallIntegerField(default=1)
    #: The first renewal date of the current schedule (set again when the date is changed):
    #: renewal k is anchor + k intervals on the calendar of the channel's time zone, so the
    #: day of month never drifts (31 Jan -> 28/29 Feb -> 31 Mar).
    anchor_at = models.DateTimeField()
    #: The index (from anchor_at) of next_order_at.
    period_index = models.PositiveIntegerField(default=0)
    next_order_at = models.DateTimeField(db_index=True)
    #: The sequence number of the next renewal (its order: SUB-<number>-<sequence>).
    next_sequence = models.PositiveIntegerField(default=1)
    ends_after_orders = models.PositiveIntegerField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=12,
        choices=SubscriptionStatus.choices,
        default=SubscriptionStatus.ACTIVE,
        db_index=True,
    )
    cancel_reason = models.CharField(max_length=500, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    #: Why the subscription failed (the payment gave up, or a renewal could not be ordered).
    failure_reason = models.CharField(max_length=500, blank=True)
    payment_reference = models.CharField(
        max_length=255,
        blank=True,
        help_text="The saved payment method at the channel's provider (Stripe: cus_...:pm_...).",
    )
    manage_token = models.CharField(max_length=64, unique=True, default=manage_token)
    #: The next_order_at a reminder was sent for (one reminder per renewal date).
    reminded_for = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "next_order_at"], name="subscription_due")]
        constraints = [
            models.CheckConstraint(condition=Q(interval_count__gte=1), name="sub_interval_pos"),
            models.CheckConstraint(
                condition=Q(status__in=SubscriptionStatus.values), name="sub_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(interval__in=Interval.values), name="sub_interval_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Subscription {self.number or self.pk}"


class SubscriptionLine(models.Model):
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="lines")
    sku = models.ForeignKey("inventory.Sku", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    #: Empty: "current price", the SKU's price on the channel at each renewal (inventory's
    #: SkuPrice: the channel's price, else the SKU's default price, in the currency).
    unit_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="sub_line_quantity_pos"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="sub_line_price_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.sku_id} x {self.quantity}"


class SubscriptionRenewal(models.Model):
    """One period ordered: its order and the payment of it (with its dunning attempts)."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="renewals"
    )
    sequence = models.PositiveIntegerField()
    due_at = models.DateTimeField()
    order = models.OneToOneField(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="subscription_renewal",
    )
    status = models.CharField(
        max_length=16, choices=RenewalStatus.choices, default=RenewalStatus.PENDING
    )
    trigger = models.CharField(max_length=16, default="schedule")
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["subscription_id", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "sequence"], name="sub_renewal_once_per_period"
            ),
            models.CheckConstraint(
                condition=Q(status__in=RenewalStatus.values), name="sub_renewal_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Renewal {self.sequence} of subscription {self.subscription_id}"

    @property
    def external_id(self) -> str:
        return renewal_external_id(self.subscription.number or "", self.sequence)


def renewal_external_id(number: str, sequence: int) -> str:
    return f"SUB-{number}-{sequence}"


class SubscriptionEvent(models.Model):
    """The subscription's timeline: append-only."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=48)
    actor = models.CharField(max_length=150, default="system")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["subscription", "created_at"], name="sub_event_time")]

    def __str__(self) -> str:
        return f"{self.kind} by {self.actor}"
