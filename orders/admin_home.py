"""The orders' figures on the operations home (oms.admin.home)."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from oms.admin.home import Tile, home_tile
from orders.models import Order
from orders.states import HoldReason, OrderStatus

VIEW = "orders.view_order"


def _orders(query: str) -> str:
    return f"{reverse('admin:orders_order_changelist')}?{query}"


def _held(reason: str) -> int:
    return (
        Order.objects.filter(holds__reason=reason, holds__released_at__isnull=True)
        .distinct()
        .count()
    )


def _placed_today() -> int:
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return Order.objects.filter(placed_at__gte=start).count()


for tile in (
    Tile(
        "Orders",
        "On hold",
        lambda: Order.objects.filter(is_on_hold=True).count(),
        lambda: _orders("on_hold=yes"),
        VIEW,
        help="Customer care decides",
    ),
    Tile(
        "Orders",
        "Payment pending",
        lambda: _held(HoldReason.PAYMENT_PENDING),
        lambda: _orders(f"hold_reason={HoldReason.PAYMENT_PENDING}"),
        VIEW,
    ),
    Tile(
        "Orders",
        "Backordered",
        lambda: Order.objects.filter(status=OrderStatus.BACKORDERED).count(),
        lambda: _orders(f"status__exact={OrderStatus.BACKORDERED}"),
        VIEW,
        help="Waiting for stock",
    ),
    Tile(
        "Orders",
        "Not routed",
        lambda: Order.objects.filter(status=OrderStatus.PENDING, is_on_hold=False).count(),
        lambda: _orders(f"status__exact={OrderStatus.PENDING}&on_hold=no"),
        VIEW,
        help="Pending, no hold",
    ),
    Tile(
        "Orders",
        "Placed today",
        _placed_today,
        lambda: reverse("admin:orders_order_changelist"),
        VIEW,
        tone="info",
    ),
):
    home_tile(tile)
