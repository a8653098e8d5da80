"""Orders of every channel, their lines, holds, timeline and currency conversion.

Invariants the schema enforces:
- one order per (channel, external_id): a channel order delivered twice is one order;
- a line's allocated + shipped + cancelled never exceeds its quantity, returned never exceeds
  shipped, and no quantity is negative;
- at most one active hold per reason on an order;
- every amount of an order (totals and lines) is in the order's `currency`; the base-currency
  total is stored with the rate, its source and date once converted, and never re-converted.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from inventory.models import Channel, Sku
from oms.refdata import RefdataManager
from orders.states import HoldReason, OrderStatus, PaymentStatus

ZERO = Decimal("0")


def money_field(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=4, default=ZERO, **kwargs)  # type: ignore[arg-type]


def tracking_token() -> str:
    return secrets.token_urlsafe(24)


class Customer(models.Model):
    """One shopper across every channel, identified by e-mail (case-insensitive)."""

    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=40, blank=True, db_index=True)
    #: Set when the personal data were erased on request (orders.services.privacy).
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="customer_email_unique_ci"),
        ]
        indexes = [models.Index(fields=["last_name", "first_name"], name="customer_name")]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} <{self.email}>" if name else self.email

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Order(models.Model):
    number = models.CharField(max_length=20, unique=True, null=True, blank=True)
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="orders")
    external_id = models.CharField(max_length=128)
    external_number = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING, db_index=True
    )
    payment_status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    is_on_hold = models.BooleanField(default=False, db_index=True)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    currency = models.CharField(max_length=3)
    subtotal = money_field()
    shipping_price = money_field()
    tax_total = money_field()
    discount_total = money_field()
    total = money_field()
    prices_include_tax = models.BooleanField(
        default=False, help_text="Line prices include their tax (tax is not added on top)."
    )
    channel_total = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True, help_text="As the channel said."
    )
    base_currency = models.CharField(max_length=3)
    total_base = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    fx_rate = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    fx_source = models.CharField(max_length=64, blank=True)
    fx_date = models.DateField(null=True, blank=True)
    shipping_address = models.JSONField(default=dict, blank=True)
    billing_address = models.JSONField(default=dict, blank=True)
    ship_country = models.CharField(max_length=2, blank=True, db_index=True)
    placed_at = models.DateTimeField(default=timezone.now)
    raw_payload = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True, help_text="The customer's note from the channel.")
    priority = models.SmallIntegerField(default=0, help_text="Higher ships first.")
    tracking_token = models.CharField(max_length=64, unique=True, default=tracking_token)
    search_text = models.TextField(blank=True, editable=False)
    #: Set when the shopper's personal data on this order were erased (orders.services.privacy).
    personal_data_erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"], name="order_unique_channel_external_id"
            ),
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="order_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(payment_status__in=PaymentStatus.values),
                name="order_payment_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0, shipping_price__gte=0, tax_total__gte=0)
                & Q(discount_total__gte=0),
                name="order_amounts_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["channel", "status", "created_at"], name="order_channel_status"),
            models.Index(fields=["placed_at"], name="order_placed_at"),
        ]

    def __str__(self) -> str:
        return self.number or f"order {self.pk}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveSmallIntegerField()
    external_line_id = models.CharField(max_length=128, blank=True)
    sku = models.ForeignKey(
        Sku, null=True, blank=True, on_delete=models.PROTECT, related_name="order_lines"
    )
    sku_code = models.CharField(max_length=64, help_text="As the channel sent it.")
    name = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = money_field()
    discount = money_field()
    tax = money_field()
    line_total = money_field()
    quantity_allocated = models.PositiveIntegerField(default=0)
    quantity_shipped = models.PositiveIntegerField(default=0)
    quantity_cancelled = models.PositiveIntegerField(default=0)
    quantity_returned = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order_id", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_number"], name="order_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_pos"),
            models.CheckConstraint(
                condition=Q(
                    quantity__gte=F("quantity_allocated")
                    + F("quantity_shipped")
                    + F("quantity_cancelled")
                ),
                name="order_line_quantities_within_quantity",
            ),
            models.CheckConstraint(
                condition=Q(quantity_returned__lte=F("quantity_shipped")),
                name="order_line_returned_within_shipped",
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0, discount__gte=0, tax__gte=0),
                name="order_line_amounts_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku_code} x {self.quantity}"

    @property
    def quantity_open(self) -> int:
        """Ordered, not cancelled, not shipped."""
        return self.quantity - self.quantity_cancelled - self.quantity_shipped

    @property
    def quantity_unallocated(self) -> int:
        return self.quantity_open - self.quantity_allocated


class OrderHold(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="holds")
    reason = models.CharField(max_length=32, choices=HoldReason.choices)
    note = models.CharField(max_length=500, blank=True)
    placed_by = models.CharField(max_length=150, default="system")
    placed_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=150, blank=True)
    release_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["placed_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "reason"],
                condition=Q(released_at__isnull=True),
                name="order_hold_one_active_per_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason}{' (released)' if self.released_at else ''}"


class OrderEvent(models.Model):
    """The order's timeline: append-only."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=48)
    actor = models.CharField(max_length=150, default="system")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["order", "created_at"], name="order_event_time")]

    def __str__(self) -> str:
        return f"{self.kind} by {self.actor}"


class FraudRuleKind(models.TextChoices):
    VALUE_OVER = "value_over", "Order value over a threshold"
    FIRST_ORDER_ABROAD = "first_order_abroad", "First order of a customer, shipping abroad"


class FraudRule(models.Model):
    """A rule that puts a channel's new orders on hold for fraud review."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="fraud_rules")
    kind = models.CharField(max_length=32, choices=FraudRuleKind.choices)
    threshold = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="For 'value over': the order total, in the channel's currency.",
    )
    home_country = models.CharField(
        max_length=2,
        blank=True,
        help_text="For 'first order abroad': the country that is not abroad.",
    )
    is_active = models.BooleanField(default=True)

    objects = RefdataManager()  # queryset writes invalidate the cache (oms.refdata)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="value_over") | Q(threshold__isnull=False, threshold__gt=0),
                name="fraud_rule_value_needs_threshold",
            ),
            models.CheckConstraint(
                condition=~Q(kind="first_order_abroad") | ~Q(home_country=""),
                name="fraud_rule_abroad_needs_home",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.channel_id})"


class RateOverride(models.Model):
    """An exchange rate set by staff, for currencies the ECB does not publish (or to correct one).

    `rate` is units of `currency` per one unit of the base currency, like the ECB's rates.
    """

    currency = models.CharField(max_length=3, unique=True)
    rate = models.DecimalField(max_digits=20, decimal_places=10)
    valid_from = models.DateField(default=timezone.localdate)
    note = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(rate__gt=0), name="rate_override_pos")]

    def __str__(self) -> str:
        return f"{self.currency} {self.rate}"


class FxRatesRefresh(models.Model):
    """One refresh of the stored exchange rates: which day's reference rates they are."""

    source = models.CharField(max_length=32)
    rates_date = models.DateField()
    currencies = models.PositiveSmallIntegerField()
    refreshed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-refreshed_at", "-id"]
        get_latest_by = "refreshed_at"
        verbose_name = "exchange-rate refresh"
        verbose_name_plural = "exchange-rate refreshes"

    def __str__(self) -> str:
        return f"{self.source} rates of {self.rates_date}"


class PrivacyRequestKind(models.TextChoices):
    EXPORT = "export", "Export (access request)"
    ERASE = "erase", "Erasure"


class PrivacyRequestSource(models.TextChoices):
    ADMIN = "admin", "Back office"
    API = "api", "API"
    SHOPIFY = "shopify", "Shopify compliance webhook"


class PrivacyRequestStatus(models.TextChoices):
    PENDING = "pending", "Waiting for staff"
    COMPLETED = "completed", "Completed"
    BLOCKED = "blocked", "Blocked (orders still in fulfilment)"


class PrivacyRequestScope(models.TextChoices):
    CUSTOMER = "customer", "The customer, every channel"
    CHANNEL_CUSTOMER = "channel_customer", "The customer's orders of one channel"
    CHANNEL = "channel", "Every order of one channel (shop redact)"


class PrivacyRequest(models.Model):
    """A person's request to see (export) or remove (erase) their personal data, and what was
    done. The export itself is never stored: it is built when it is downloaded.

    Invariant: once an erasure completed, no row here holds the person's e-mail; their
    requests are found by `subject_key` (a keyed hash of the e-mail) instead.
    """

    kind = models.CharField(max_length=10, choices=PrivacyRequestKind.choices)
    source = models.CharField(max_length=10, choices=PrivacyRequestSource.choices)
    status = models.CharField(
        max_length=10,
        choices=PrivacyRequestStatus.choices,
        default=PrivacyRequestStatus.PENDING,
        db_index=True,
    )
    scope = models.CharField(
        max_length=20, choices=PrivacyRequestScope.choices, default=PrivacyRequestScope.CUSTOMER
    )
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="privacy_requests",
    )
    subject_email = models.CharField(max_length=254, blank=True)
    subject_key = models.CharField(max_length=64, blank=True, db_index=True)
    channel_code = models.CharField(max_length=32, blank=True)
    #: The channel's order ids the request names (Shopify's orders_requested / _to_redact).
    external_order_ids = models.JSONField(default=list, blank=True)
    #: The sender's id of the request (Shopify's data_request id or webhook id): once each.
    external_reference = models.CharField(max_length=128, blank=True)
    requested_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    #: What was exported or anonymised: rows per kind, orders erased and kept.
    summary = models.JSONField(default=dict, blank=True)
    detail = models.TextField(blank=True, help_text="Why it is blocked, or what was left.")

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("manage_personal_data", "Can export and erase customers' personal data"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_reference"],
                condition=~Q(external_reference=""),
                name="privacy_request_once_per_reference",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=PrivacyRequestKind.values), name="privacy_request_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=PrivacyRequestStatus.values),
                name="privacy_request_status_valid",
            ),
        ]

    def __str__(self) -> str:
        who = f"customer {self.customer_id}" if self.customer_id else self.channel_code
        return f"{self.get_kind_display()} of {who or 'a person'} ({self.status})"
