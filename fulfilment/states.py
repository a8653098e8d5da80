"""Shipment states and transitions (API.md): pending -> picking -> packed -> shipped ->
delivered, cancelled before shipped; a 3PL shipment goes pending -> sent -> shipped -> delivered."""

from __future__ import annotations

from django.db import models


class ShipmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    #: Picked, not packed yet (the pick confirmed, or the pack station at work).
    PICKING = "picking", "Picked"
    PACKED = "packed", "Packed"
    SENT = "sent", "Sent to 3PL"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"


S = ShipmentStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.PICKING, S.SENT, S.CANCELLED}),
    S.PICKING: frozenset({S.PACKED, S.CANCELLED}),
    S.PACKED: frozenset({S.SHIPPED, S.CANCELLED}),
    S.SENT: frozenset({S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset(),
    S.CANCELLED: frozenset(),
}
OPEN = frozenset({S.PENDING, S.PICKING, S.PACKED, S.SENT})
