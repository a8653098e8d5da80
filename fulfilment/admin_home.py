"""The warehouse's figures and stations on the operations home (oms.admin.home)."""

from __future__ import annotations

from django.urls import reverse

from fulfilment.models import Shipment
from fulfilment.states import ShipmentStatus
from oms.admin.home import Link, Tile, home_link, home_tile

VIEW = "fulfilment.view_shipment"


def _shipments(query: str) -> str:
    return f"{reverse('admin:fulfilment_shipment_changelist')}?{query}"


def _status(status: str) -> Tile:
    labels = {
        ShipmentStatus.PENDING: ("To pick", "Print the pick list"),
        ShipmentStatus.PICKING: ("Being picked", ""),
        ShipmentStatus.PACKED: ("Packed, to ship", "Buy labels, hand over"),
    }
    title, help_text = labels[ShipmentStatus(status)]
    return Tile(
        "Warehouse",
        title,
        lambda: Shipment.objects.filter(status=status).count(),
        lambda: _shipments(f"status__exact={status}"),
        VIEW,
        help=help_text,
    )


for status in (ShipmentStatus.PENDING, ShipmentStatus.PICKING, ShipmentStatus.PACKED):
    home_tile(_status(status))
home_tile(
    Tile(
        "Warehouse",
        "Shipments needing attention",
        lambda: Shipment.objects.filter(needs_attention=True).count(),
        lambda: _shipments("needs_attention__exact=1"),
        VIEW,
        help="Labels or 3PL hand-offs that failed",
    )
)
home_link(
    Link(
        "Warehouse",
        "Pack station",
        lambda: reverse("admin:fulfilment_shipment_pack"),
        "fulfilment.change_shipment",
        help="Scan a shipment, then its items",
    )
)
home_link(
    Link(
        "Warehouse",
        "Routing decisions",
        lambda: reverse("admin:fulfilment_routingdecision_changelist"),
        "fulfilment.view_routingdecision",
    )
)
