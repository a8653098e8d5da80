"""Order statuses, payment statuses, hold reasons and the transitions allowed between statuses.

`partially_shipped`, `shipped` and `delivered` follow from line quantities (see
orders.services.order_status_refresh); `cancelled` is reachable from every status before
everything has shipped.
"""

from __future__ import annotations

from django.db import models


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ALLOCATED = "allocated", "Allocated"
    BACKORDERED = "backordered", "Backordered"
    PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    AUTHORIZED = "authorized", "Authorized"
    #: Captured on shipment: what shipped is paid, the rest is still only authorised.
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PAID = "paid", "Paid"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"
    VOIDED = "voided", "Voided"


PAYMENT_OK_TO_SHIP = frozenset(
    {PaymentStatus.AUTHORIZED, PaymentStatus.PARTIALLY_PAID, PaymentStatus.PAID}
)


class HoldReason(models.TextChoices):
    UNKNOWN_SKU = "unknown_sku", "Unknown SKU"
    PAYMENT_PENDING = "payment_pending", "Payment pending"
    ADDRESS_INCOMPLETE = "address_incomplete", "Address incomplete"
    FRAUD_REVIEW = "fraud_review", "Fraud review"
    TOTALS_MISMATCH = "totals_mismatch", "Totals disagree with the channel"
    MANUAL = "manual", "Manual"
    CUSTOMER_CARE = "customer_care", "Customer care"


S = OrderStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.ALLOCATED, S.BACKORDERED, S.PARTIALLY_SHIPPED, S.SHIPPED, S.CANCELLED}),
    S.ALLOCATED: frozenset({S.PENDING, S.BACKORDERED, S.PARTIALLY_SHIPPED, S.SHIPPED, S.CANCELLED}),
    S.BACKORDERED: frozenset({S.PENDING, S.ALLOCATED, S.PARTIALLY_SHIPPED, S.SHIPPED, S.CANCELLED}),
    # Once something shipped, the order stays partially shipped until the rest ships or is
    # cancelled (which makes it shipped: everything not cancelled has left).
    S.PARTIALLY_SHIPPED: frozenset({S.SHIPPED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}
