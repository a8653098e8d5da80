"""Returns (RMAs), their lines, reasons and refunds.

Invariants the schema enforces:
- a return line asks for a positive quantity and never receives more than it asked for; what it
  received is exactly the sum of its condition counts (sellable, damaged, defective) and exactly
  the sum of its disposition counts (restocked, quarantined, written off);
- a line asks for an exchange with both a replacement SKU and a positive quantity, or neither;
- a return has at most one replacement order (`exchange_order`), and an order is the
  replacement of at most one return;
- a refund is for a positive amount and its idempotency key is unique (a refund is executed at
  most once by the payment provider);
- statuses are among the declared ones.
Invariants the services enforce (under the order's row lock): never more returned than shipped,
never more refunded than paid.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from returns.states import (
    PaymentKind,
    PaymentRecordStatus,
    RefundStatus,
    RefundWaiting,
    ReturnSource,
    ReturnStatus,
)

ZERO = Decimal("0")


def idempotency_key() -> str:
    return uuid.uuid4().hex


class ReturnReason(models.Model):
    """An admin-editable reason a shopper or staff gives for returning an item."""

    code = models.SlugField(max_length=32, unique=True)
    label = models.CharField(max_length=128)
    restocking_fee_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=ZERO,
        help_text="Kept from the refund of lines returned for this reason.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["label"]
        constraints = [
            models.CheckConstraint(
                condition=Q(restocking_fee_percent__gte=0, restocking_fee_percent__lte=100),
                name="return_reason_fee_percent_range",
            ),
        ]

    def __str__(self) -> str:
        return self.label


class ReturnRequest(models.Model):
    number = models.CharField(max_length=40, unique=True)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="returns")
    status = models.CharField(
        max_length=20, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED, db_index=True
    )
    source = models.CharField(
        max_length=10, choices=ReturnSource.choices, default=ReturnSource.STAFF
    )
    comment = models.TextField(blank=True)
    override_reason = models.CharField(
        max_length=500,
        blank=True,
        help_text="Why staff accepted this return outside the channel's return window.",
    )
    exchange_order = models.OneToOneField(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="exchange_for_return",
        help_text="The replacement order of the lines exchanged.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ReturnStatus.values), name="return_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=ReturnSource.values), name="return_source_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.number


#: A return line's receipt figures: what came back, by condition and by disposition.
RECEIPT_COUNTS = (
    "quantity_received",
    "quantity_sellable",
    "quantity_damaged",
    "quantity_defective",
    "quantity_restocked",
    "quantity_quarantined",
    "quantity_written_off",
)


class ReturnLine(models.Model):
    return_request = models.ForeignKey(
        ReturnRequest, on_delete=models.CASCADE, related_name="lines"
    )
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.PROTECT, related_name="return_lines"
    )
    quantity = models.PositiveIntegerField()
    reason = models.ForeignKey(ReturnReason, on_delete=models.PROTECT, related_name="lines")
    quantity_received = models.PositiveIntegerField(default=0)
    quantity_sellable = models.PositiveIntegerField(default=0)
    quantity_damaged = models.PositiveIntegerField(default=0)
    quantity_defective = models.PositiveIntegerField(default=0)
    quantity_restocked = models.PositiveIntegerField(default=0)
    quantity_quarantined = models.PositiveIntegerField(default=0)
    quantity_written_off = models.PositiveIntegerField(default=0)
    exchange_sku = models.ForeignKey(
        "inventory.Sku",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The replacement asked for instead of a refund (often the same SKU).",
    )
    exchange_quantity = models.PositiveIntegerField(default=0)
    exchange_unit_price = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="The replacement's price per unit, tax included, in the order's currency.",
    )

    class Meta:
        ordering = ["return_request_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["return_request", "order_line"], name="return_line_unique"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="return_line_quantity_pos"),
            models.CheckConstraint(
                condition=Q(quantity_received__lte=F("quantity")),
                name="return_line_received_within_quantity",
            ),
            models.CheckConstraint(
                condition=Q(
                    quantity_received=F("quantity_sellable")
                    + F("quantity_damaged")
                    + F("quantity_defective")
                ),
                name="return_line_received_is_sum_of_conditions",
            ),
            models.CheckConstraint(
                condition=Q(
                    quantity_received=F("quantity_restocked")
                    + F("quantity_quarantined")
                    + F("quantity_written_off")
                ),
                name="return_line_received_is_sum_of_dispositions",
            ),
            models.CheckConstraint(
                condition=Q(exchange_sku__isnull=True, exchange_quantity=0)
                | Q(exchange_sku__isnull=False, exchange_quantity__gt=0),
                name="return_line_exchange_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id} x {self.quantity}"

    @property
    def is_exchange(self) -> bool:
        return self.exchange_sku_id is not None and self.exchange_quantity > 0


class Refund(models.Model):
    """Money given back to the shopper; without a return it is an appeasement."""

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="refunds")
    return_request = models.ForeignKey(
        ReturnRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=10, choices=RefundStatus.choices, default=RefundStatus.PENDING, db_index=True
    )
    reason = models.CharField(max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=64, unique=True, default=idempotency_key)
    provider_reference = models.CharField(max_length=128, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    #: Calls to the payment provider started; from the second one on, it is asked first
    #: whether the refund already happened.
    attempts = models.PositiveSmallIntegerField(default=0)
    needs_attention = models.BooleanField(default=False, db_index=True)
    attention_message = models.CharField(
        max_length=500, blank=True, help_text="Why staff must look (the provider never answered)."
    )
    #: Who pays it back (the order's channel's payment provider when it was executed).
    provider = models.CharField(max_length=12, blank=True)
    #: The key sent to the provider: the idempotency key, then a new one per retry after a
    #: failure (a provider replays a failed key's failure).
    provider_key = models.CharField(max_length=80, blank=True)
    #: Tries after a failure (each one with its own provider key).
    retries = models.PositiveSmallIntegerField(default=0)
    waiting_for = models.CharField(
        max_length=8,
        choices=RefundWaiting.choices,
        blank=True,
        db_index=True,
        help_text="A pending refund the provider accepted: who must still confirm it.",
    )
    action_url = models.CharField(
        max_length=500, blank=True, help_text="Where staff pay it back (a task for staff)."
    )
    actor = models.CharField(max_length=150, default="system")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Paying money back is its own permission: `change` on returns does not imply it.
        permissions = [("refund_orders", "Can refund orders")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_pos"),
            models.CheckConstraint(
                condition=Q(status__in=RefundStatus.values), name="refund_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} ({self.status})"

    @property
    def key_for_provider(self) -> str:
        return self.provider_key or self.idempotency_key


class Payment(models.Model):
    """Money the shopper's payment provider holds or took for an order: the authorisation sent
    with the order, the captures made when goods ship, the void of what was never captured.

    Invariants: an amount is positive and in the order's currency; `key` (the idempotency key
    sent to the provider) is unique, so a capture or void is recorded once; captured never
    exceeds authorised (checked under the order's lock by returns.services.payments).
    """

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=12)
    kind = models.CharField(max_length=14, choices=PaymentKind.choices)
    status = models.CharField(
        max_length=10, choices=PaymentRecordStatus.choices, default=PaymentRecordStatus.SUCCEEDED
    )
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=128, blank=True, help_text="The provider's id.")
    key = models.CharField(max_length=80, unique=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    actor = models.CharField(max_length=150, default="system")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_pos"),
            models.CheckConstraint(
                condition=Q(kind__in=PaymentKind.values), name="payment_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=PaymentRecordStatus.values), name="payment_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.status})"


class ReceivingQueue(ReturnRequest):
    """Authorised returns not fully received yet, oldest first (the warehouse's to-do list)."""

    class Meta:
        proxy = True
        verbose_name = "return to receive"
        verbose_name_plural = "returns to receive"


class ReturnRateReport(ReturnRequest):
    """The admin's return-rate report (units returned / units shipped, per SKU and reason)."""

    class Meta:
        proxy = True
        verbose_name = "return rate"
        verbose_name_plural = "return rates"
