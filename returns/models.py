"""Returns (RMAs), their lines, reasons and refunds.

Invariants the schema enforces:
- a return line asks for a positive quantity and never receives more than it asked for; what it
  received is exactly the sum of its condition counts;
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

from returns.states import Condition, RefundStatus, ReturnSource, ReturnStatus

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
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id} x {self.quantity}"

    def count_for(self, condition: str) -> int:
        return {
            Condition.SELLABLE: self.quantity_sellable,
            Condition.DAMAGED: self.quantity_damaged,
            Condition.DEFECTIVE: self.quantity_defective,
        }[Condition(condition)]


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
    actor = models.CharField(max_length=150, default="system")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_pos"),
            models.CheckConstraint(
                condition=Q(status__in=RefundStatus.values), name="refund_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} ({self.status})"
