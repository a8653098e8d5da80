"""Subscription statuses, renewal statuses and the transitions allowed between them.

A subscription is `active` (it renews on its dates), `paused` (it does not renew until resumed),
`cancelled` (final: by the shopper, staff, or because its term ended) or `failed` (the dunning
schedule of a renewal's payment gave up, or a renewal's order could not be captured: staff or
the shopper may resume it once the payment method or the lines are fixed, which tries that
renewal again at once, or cancel it). Skipping the next renewal and renewing now are commands that
change no status; they need an active subscription (skip: active or paused).
"""

from __future__ import annotations

from django.db import models


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed (payment gave up)"


class Interval(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"


class RenewalStatus(models.TextChoices):
    #: Claimed for its period (next_order_at advanced), its order not captured yet.
    PENDING = "pending", "Pending"
    #: Order captured, payment not taken yet (charging, or waiting for a dunning retry).
    PAYMENT_DUE = "payment_due", "Payment due"
    PAID = "paid", "Paid"
    #: The dunning schedule ran out: the subscription failed.
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    #: The order could not be captured (e.g. a SKU gone, no current price): the subscription
    #: failed; resuming it orders this period again.
    CAPTURE_FAILED = "capture_failed", "Order failed"


S = SubscriptionStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.ACTIVE: frozenset({S.PAUSED, S.CANCELLED, S.FAILED}),
    S.PAUSED: frozenset({S.ACTIVE, S.CANCELLED}),
    S.FAILED: frozenset({S.ACTIVE, S.CANCELLED}),
    S.CANCELLED: frozenset(),
}

#: The statuses from which each command may run (commands that change no status).
SKIPPABLE = frozenset({S.ACTIVE, S.PAUSED})
RENEWABLE = frozenset({S.ACTIVE})
#: Subscriptions whose lines, address, interval and date may still be changed.
EDITABLE = frozenset({S.ACTIVE, S.PAUSED, S.FAILED})
#: Subscriptions that count as live (the report's "active", the forecast's demand).
LIVE = frozenset({S.ACTIVE})
