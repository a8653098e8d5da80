"""Conversion of an order's total into the base currency: what capture can do itself (an order
in the base currency, rate 1) and the timeline entry every conversion records. The conversion
at a rate is orders.services.fx's task."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone

from orders.models import Order

SOURCE_SAME = "same currency"


def order_convert_same_currency(order: Order) -> dict[str, Any] | None:
    """Convert a new order (not written yet) whose currency is the base currency in memory: its
    total is its base total at rate 1, so capture writes it with the order instead of queueing
    the conversion (the worker, the broker and a timeline write saved for most orders). Returns
    the "converted" timeline entry's data, or None (another currency: the task converts it)."""
    if order.currency != order.base_currency:
        return None
    order.total_base = order.total
    order.fx_rate = Decimal(1)
    order.fx_source = SOURCE_SAME
    order.fx_date = timezone.localdate()
    return converted_entry(order)


def converted_entry(order: Order) -> dict[str, Any]:
    """The "converted" timeline entry's data of a converted order."""
    assert order.fx_rate is not None
    assert order.fx_date is not None
    return {
        "total_base": str(order.total_base),
        "base_currency": order.base_currency,
        "rate": str(order.fx_rate.quantize(Decimal("0.0000000001"))),
        "source": order.fx_source,
        "date": order.fx_date.isoformat(),
    }
