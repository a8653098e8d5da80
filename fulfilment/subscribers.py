"""Fulfilment's reactions to orders' domain events (subscribed in FulfilmentConfig.ready).

Routing itself is not a reaction: the orders services call it through their routing port
(fulfilment.services.routing.RoutingPort, registered in FulfilmentConfig.ready).
"""

from __future__ import annotations

from fulfilment.models import Shipment
from fulfilment.states import ShipmentStatus
from inventory.events import StockChanged
from orders.events import OrderCancelled, OrderHeld, OrderReleased


def shrink_on_cancel(event: OrderCancelled) -> None:
    """Cancelled quantities leave their open shipments (the order already released the stock)."""
    from fulfilment.models import ShipmentLine
    from fulfilment.states import OPEN

    for line_id, quantity in event.line_quantities:
        remaining = quantity
        for line in (
            ShipmentLine.objects.select_for_update()
            .filter(order_line_id=line_id, shipment__status__in=OPEN)
            .order_by("-id")
        ):
            if remaining <= 0:
                break
            take = min(line.quantity - line.quantity_picked, remaining)
            if take <= 0:
                continue
            line.quantity -= take
            remaining -= take
            if line.quantity == 0:
                line.delete()
            else:
                line.save(update_fields=["quantity"])
    from fulfilment.services import shipment_cancel

    for shipment in Shipment.objects.filter(
        order_id=event.order_id, status__in=[ShipmentStatus.PENDING, ShipmentStatus.PICKING]
    ):
        if not shipment.lines.exists():
            shipment_cancel(shipment=shipment, reason="order cancelled", reroute=False)


def flag_shipments_on_hold(event: OrderHeld) -> None:
    """The shipment queue shows which open shipments wait for a held order (in the hold's
    transaction; the services refuse to progress them meanwhile)."""
    from fulfilment.services.holds import order_shipments_hold_flag

    order_shipments_hold_flag(order_id=event.order_id)


def resume_shipments_on_release(event: OrderReleased) -> None:
    """The hold flags go, and what the hold stopped (labels, 3PL hand-off) is asked again."""
    from fulfilment.services.holds import order_shipments_hold_clear

    order_shipments_hold_clear(order_id=event.order_id, actor=event.actor)


def reroute_backorders_on_stock(event: StockChanged) -> None:
    """Stock arrived or was released: after commit, serve the orders waiting for it."""
    if not event.freed:
        return
    from oms.outbox import outbox_enqueue

    sku_ids = sorted({sku_id for sku_id, _ in event.pairs})
    outbox_enqueue("fulfilment.backorders_reroute", sku_ids=sku_ids)
