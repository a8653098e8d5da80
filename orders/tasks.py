"""Celery entry points of the orders app: ids in, one service call."""

from __future__ import annotations

from typing import Any

from oms.tasks import oms_task


@oms_task(name="orders.order_convert_total", queue="fx")
def order_convert_total(*, order_id: int, **_: Any) -> str | None:
    from orders.models import Order
    from orders.services import order_convert_total as convert

    if not Order.objects.filter(pk=order_id).exists():
        return None  # gone (a test database, a deleted demo): nothing to convert
    order = convert(order_id=order_id)
    return str(order.total_base)


@oms_task(name="orders.fx_rates_refresh", queue="fx")
def fx_rates_refresh(**_: Any) -> str:
    from orders.services import fx_rates_refresh as refresh

    return str(refresh())


def _route_gave_up(kwargs: dict[str, Any], failure: str) -> None:
    from orders.services.lifecycle import order_route_gave_up

    order_route_gave_up(order_id=kwargs["order_id"], reason=failure)


@oms_task(name="orders.order_route", give_up=_route_gave_up)
def order_route(*, order_id: int, trigger: str = "retry", reroute: bool = False, **_: Any) -> None:
    """Route an order again after its routing failed (through the routing port)."""
    from orders.services.routing import order_route_retry

    order_route_retry(order_id=order_id, trigger=trigger, reroute=reroute)


@oms_task(name="orders.route_stuck")
def route_stuck(**_: Any) -> int:
    """Beat: route the orders that no routing reached (a crash between commit and routing)."""
    from orders.services.routing import orders_route_stuck

    return orders_route_stuck()
