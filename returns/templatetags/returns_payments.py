"""`{% order_payments_panel %}`: the order page's payments panel (returns.admin_payments)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("admin/returns/payment/order_panel.html", takes_context=True)
def order_payments_panel(context: dict[str, Any]) -> dict[str, Any]:
    from returns.admin_payments import order_payments_panel as panel

    order, request = context.get("original"), context.get("request")
    if order is None or request is None:
        return {"order": None}
    return {**panel(request, order), "csrf_token": context.get("csrf_token")}
