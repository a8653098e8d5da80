"""Domain events that the orders app publishes for the apps above it (fulfilment, returns,
channels). Published inside the transaction that caused them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OrderCaptured:
    """A new order was captured (once per order; e-mails and integrations react).

    `emails`: whether the shopper gets e-mails (the channel sends them and the order has an
    address), as capture knew it; None: ask the database."""

    order_id: int
    emails: bool | None = None


@dataclass(frozen=True)
class OrderStatusChanged:
    """The order's status changed (published where the change is written to the timeline:
    orders.services.timeline, whichever command or batch made it)."""

    order_id: int
    previous: str
    status: str


@dataclass(frozen=True)
class OrderHeld:
    """A hold was placed (once per new hold, not on a replay): fulfilment stops and flags the
    order's open shipments."""

    order_id: int
    reason: str


@dataclass(frozen=True)
class OrderReleased:
    """The order's last active hold was released (`reasons`: the holds released by this
    command): fulfilment clears its hold flags and resumes what the hold stopped."""

    order_id: int
    reasons: tuple[str, ...]
    actor: str = "system"


@dataclass(frozen=True)
class OrderCancelled:
    """Quantities of an order were cancelled (all of it when `full`); refunds and channels react."""

    order_id: int
    line_quantities: tuple[tuple[int, int], ...]
    full: bool
    reason: str
    #: False when whoever cancelled them paid them back already (a channel's own refund):
    #: no refund of ours follows.
    refund: bool = True


@dataclass(frozen=True)
class OrderAddressChanged:
    """The shipping address changed before shipment: what is not picked must be re-routed."""

    order_id: int
