from __future__ import annotations

from decimal import Decimal

import pytest

from fulfilment.models import Shipment
from fulfilment.services import shipment_pack, shipment_pick, shipment_ship
from returns.models import ReturnReason
from tests.fulfilment.conftest import network, order, put

__all__ = ["network"]


def ship_all(o):
    """Pick, pack and ship every shipment of the order (captured and routed already)."""
    for shipment in Shipment.objects.filter(order=o):
        shipment_pick(
            shipment=shipment,
            lines=[(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()],
        )
        shipment_pack(shipment=shipment, parcels=[{"weight_grams": 500}])
        shipment_ship(shipment=shipment, carrier="dhl", tracking_number=f"T{shipment.pk}")
    o.refresh_from_db()
    return o


@pytest.fixture
def reasons(db):
    return {
        "changed_mind": ReturnReason.objects.create(
            code="changed_mind", label="Changed my mind", restocking_fee_percent=Decimal("10")
        ),
        "damaged": ReturnReason.objects.create(code="damaged", label="Arrived damaged"),
    }


@pytest.fixture
def shipped(network, reasons):
    """A paid order of 2 A and 1 B (10.00 each), shipped from Berlin."""
    put(network, "BER", "A", 5)
    put(network, "BER", "B", 5)
    o = ship_all(order("HAMBURG", {"A": 2, "B": 1}))
    assert o.status == "shipped"
    lines = {ln.sku_code: ln for ln in o.lines.all()}
    return o, lines
