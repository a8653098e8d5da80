"""Demo fulfilment: the demo orders meant to have shipped are picked, packed, shipped and
delivered through the real services, each step on the day its story says (oms.demo.story_at:
picked and shipped the day after the order, delivered when the last scan says). Idempotent:
shipments already past a step are left."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.utils import timezone

from fulfilment.adapters.carriers.base import TrackingEventData
from fulfilment.models import Shipment
from fulfilment.services import shipment_deliver, shipment_pack, shipment_pick, shipment_ship
from fulfilment.services.tracking import tracking_events_record
from fulfilment.states import ShipmentStatus
from inventory.models import LocationKind
from oms.demo import story_at
from oms.errors import DomainError
from orders.demo import demo_outcome
from orders.models import Order
from orders.services import order_status_set
from orders.states import OrderStatus

SHIPPING = (
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.COMPLETED,
)


def load_demo_fulfilment() -> dict[str, int]:
    moved = 0
    demo = Order.objects.filter(external_id__startswith="DEMO-", status=OrderStatus.ALLOCATED)
    for order in demo.order_by("pk"):
        outcome = demo_outcome(order.external_id)
        if outcome not in SHIPPING:
            continue
        shipments = list(
            Shipment.objects.filter(order=order, status=ShipmentStatus.PENDING)
            .exclude(location__kind=LocationKind.THIRD_PARTY)  # the partner ships those
            .order_by("pk")
        )
        if not shipments:
            continue
        short_one = False
        if outcome == OrderStatus.PARTIALLY_SHIPPED:
            # Ship the first shipment only; with a single shipment, one unit is not found at
            # picking (a short pick): it is routed again and waits while the rest ships.
            short_one = len(shipments) == 1
            shipments = shipments[:1]
        rng = random.Random(order.external_id)
        handed_over = order.placed_at + timedelta(hours=rng.randint(6, 30))
        delivered_at = handed_over
        try:
            for shipment in shipments:
                with story_at(handed_over - timedelta(hours=2)):
                    shipped = _pick_pack_ship(shipment, order, rng, short_one=short_one)
                if not shipped:
                    continue
                delivered = outcome in (OrderStatus.DELIVERED, OrderStatus.COMPLETED)
                scans = _scans(shipment, order, handed_over, delivered, rng)
                with story_at(scans[-1].occurred_at):
                    tracking_events_record(
                        shipment=shipment, events=scans, source="demo", actor="demo"
                    )
                    if delivered:
                        shipment_deliver(shipment=shipment, actor="demo")
                delivered_at = max(delivered_at, scans[-1].occurred_at)
            if outcome == OrderStatus.COMPLETED:
                # Completed once the return window closed: the oldest demo orders.
                with story_at(delivered_at + timedelta(days=14)):
                    order_status_set(order=order.pk, status=OrderStatus.COMPLETED, actor="demo")
            moved += 1
        except DomainError:
            continue  # stays where it got to, as in real life
    return {"orders shipped": moved}


def _pick_pack_ship(
    shipment: Shipment, order: Order, rng: random.Random, *, short_one: bool
) -> bool:
    """Pick (one unit short when `short_one`), pack and ship; False when nothing was left."""
    lines = [(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()]
    if short_one and sum(q for _, q in lines) > 1:
        first_line, first_quantity = lines[0]
        lines[0] = (first_line, first_quantity - 1)
    shipment_pick(shipment=shipment, lines=lines, actor="demo")
    shipment.refresh_from_db()
    if shipment.status == ShipmentStatus.CANCELLED:
        return False
    shipment_pack(
        shipment=shipment, parcels=[{"weight_grams": rng.randint(300, 4000)}], actor="demo"
    )
    shipment_ship(
        shipment=shipment,
        carrier="inhouse",
        service="standard",
        tracking_number=f"NW{order.pk:07d}{shipment.pk:05d}",
        actor="demo",
    )
    return True


def _scans(
    shipment: Shipment, order: Order, start: datetime, delivered: bool, rng: random.Random
) -> list[TrackingEventData]:
    """Believable carrier scans from the location to the shopper's city, from `start` (the
    hand-over) on, 10 hours apart, never in the future."""
    city = str(order.shipping_address.get("city") or "the destination")
    steps = [
        ("pre_transit", "Label created, parcel handed over", shipment.location.city),
        ("in_transit", "Parcel at the sorting centre", shipment.location.city),
        ("in_transit", "Parcel on its way to the delivery depot", city),
        ("out_for_delivery", "Out for delivery", city),
        ("delivered", "Delivered to the recipient", city),
    ]
    count = len(steps) if delivered else rng.randint(1, 3)
    latest = timezone.now() - timedelta(minutes=30)
    return [
        TrackingEventData(
            external_id=f"demo-{shipment.pk}-{index}",
            status=status,
            description=description,
            place=place,
            occurred_at=min(start + timedelta(hours=10 * index), latest),
        )
        for index, (status, description, place) in enumerate(steps[:count])
    ]
