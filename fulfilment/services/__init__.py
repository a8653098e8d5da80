"""Every write of the fulfilment app. Import services from here."""

from fulfilment.services.routing import order_route
from fulfilment.services.shipments import (
    shipment_cancel,
    shipment_deliver,
    shipment_pack,
    shipment_pick,
    shipment_send_to_3pl,
    shipment_ship,
)

__all__ = [
    "order_route",
    "shipment_cancel",
    "shipment_deliver",
    "shipment_pack",
    "shipment_pick",
    "shipment_send_to_3pl",
    "shipment_ship",
]
