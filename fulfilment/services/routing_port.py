"""Fulfilment's routing as the orders app calls it (orders.ports.Routing), registered in
FulfilmentConfig.ready. It sits above routing and shipments: a re-route cancels what is not
picked yet (shipments) and routes again (routing), while cancelling a shipment routes again
too; neither of those modules imports the other for it."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from fulfilment.models import Shipment
from fulfilment.services.routing import order_route
from fulfilment.services.routing_batch import orders_route_batch
from fulfilment.services.shipments import shipment_cancel
from fulfilment.states import ShipmentStatus


class RoutingPort:
    """Fulfilment's routing as the orders app calls it (orders.ports.Routing)."""

    def route(self, *, order_id: int, trigger: str, actor: str = "system") -> object:
        # Called inside the orders app's own transaction around routing (orders.services.
        # routing): no savepoint of its own.
        return order_route(order_id=order_id, trigger=trigger, actor=actor, savepoint=False)

    def route_many(
        self, *, order_ids: Sequence[int], trigger: str, actor: str = "system"
    ) -> object:
        # Called inside the orders app's own transaction around routing.
        return orders_route_batch(order_ids=order_ids, trigger=trigger, actor=actor)

    def reroute(self, *, order_id: int, trigger: str, actor: str = "system") -> object:
        """What is not picked yet goes back, and the order is routed to its new destination."""
        with transaction.atomic():
            for shipment in Shipment.objects.filter(
                order_id=order_id, status=ShipmentStatus.PENDING
            ).order_by("pk"):
                shipment_cancel(shipment=shipment, reason=trigger.replace("_", " "), reroute=False)
            return order_route(order_id=order_id, trigger=trigger, actor=actor)
