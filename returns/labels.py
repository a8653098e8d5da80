"""The shopper's return label: an in-house carrier label from the shopper's address to the
location that shipped the order, made on demand (nothing is stored or bought).

Invariants:
- only a return that is authorised (or partly received) has a label;
- the label goes to the location of the shipment that carried the return's first line (any
  shipped shipment of the order otherwise), from the order's shipping address;
- it is the in-house carrier's label (fulfilment.adapters.carriers), computed from ids alone, so
  the same return always gets the same tracking number; its parcel id is the return's id in a
  range of its own (RETURN_PARCEL_BASE + id), so it never equals a real parcel's number.
"""

from __future__ import annotations

from fulfilment.adapters.carriers import (
    Address,
    Label,
    ParcelData,
    ShipmentData,
    carrier_for,
    label_reference,
)
from fulfilment.models import Shipment, ShipmentLine
from fulfilment.states import ShipmentStatus
from oms.errors import NotFound
from returns.models import ReturnRequest
from returns.states import LABEL_STATUSES

RETURN_PARCEL_BASE = 900_000_000
DEFAULT_WEIGHT_GRAMS = 500


def shipment_of_return(ret: ReturnRequest) -> Shipment | None:
    """The shipment whose location receives the return (see the module docstring)."""
    line_ids = list(ret.lines.order_by("id").values_list("order_line_id", flat=True))
    carried = (
        ShipmentLine.objects.filter(order_line_id__in=line_ids, shipment__shipped_at__isnull=False)
        .exclude(shipment__status=ShipmentStatus.CANCELLED)
        .select_related("shipment__location")
        .order_by("shipment_id")
        .first()
    )
    if carried is not None:
        return carried.shipment
    return (
        Shipment.objects.filter(order_id=ret.order_id, shipped_at__isnull=False)
        .select_related("location")
        .order_by("id")
        .first()
    )


def return_label(ret: ReturnRequest) -> Label:
    """The return's 4x6 label (PDF and ZPL). Raises NotFound (no label for this return)."""
    if ret.status not in LABEL_STATUSES:
        raise NotFound(f"Return {ret.number} has no label: it is {ret.status}.")
    shipment = shipment_of_return(ret)
    if shipment is None:
        raise NotFound(f"Return {ret.number} has no shipped parcel to send back.")
    location = shipment.location
    order = ret.order
    weight = 0
    for rl in ret.lines.select_related("order_line__sku"):
        sku = rl.order_line.sku
        weight += (sku.weight_grams or 0) * rl.quantity if sku else 0
    parcel = ParcelData(id=RETURN_PARCEL_BASE + ret.pk, weight_grams=weight or DEFAULT_WEIGHT_GRAMS)
    data = ShipmentData(
        id=shipment.pk,
        order_number=f"{order.number} return {ret.number}",
        carrier="inhouse",
        service="return",
        ship_from=Address.from_mapping(dict(order.shipping_address or {})),
        ship_to=Address.from_location(location, name=f"Returns · {location.name}"),
    )
    return carrier_for("inhouse").buy_label(
        reference=label_reference(shipment.pk, parcel.id), shipment_data=data, parcel=parcel
    )
