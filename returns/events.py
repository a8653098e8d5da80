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
    #: Who paid it back ("channel": the channel itself did, so there is nothing to tell it).
    provider: str = ""


@dataclass(frozen=True)
class RefundFailed:
    """The payment provider refused a refund."""

    refund_id: int
    order_id: int
    failure: str


@dataclass(frozen=True)
class ReturnCreated:
    """A return was requested (by staff, the API or the shopper)."""

    return_id: int
    order_id: int


@dataclass(frozen=True)
class ReturnReceived:
    """Units of a return were received (`status`: partially_received or received)."""

    return_id: int
    order_id: int
    status: str
