"""Domain events that fulfilment publishes for the apps above it (returns, channels).
Published inside the transaction that caused them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ShipmentCreated:
    """Routing created a shipment (a 3PL location's shipment is handed to its partner)."""

    shipment_id: int
    order_id: int
    location_id: int


@dataclass(frozen=True)
class ShipmentShipped:
    """A shipment left its location (the channel is told the tracking)."""

    shipment_id: int
    order_id: int


@dataclass(frozen=True)
class ShipmentDelivered:
    shipment_id: int
    order_id: int


@dataclass(frozen=True)
class ShipmentException:
    """The carrier reported a problem (customer care is alerted)."""

    shipment_id: int
    order_id: int
    description: str
