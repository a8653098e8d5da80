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
