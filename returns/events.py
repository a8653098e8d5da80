"""Domain events that returns publishes for the apps above it (channels).
Published inside the transaction that caused them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RefundSucceeded:
    """Money went back to the shopper (the order's channel is told)."""

    refund_id: int
    order_id: int
    amount: str
    currency: str
    reference: str  # the refund's idempotency key
    reason: str
