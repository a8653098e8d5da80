"""The "Return items" box of the shopper's tracking page (`{% return_box %}` in its
`returns` block): one query, and none for an order with nothing shipped or cancelled."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone

from returns.selectors import returnable_units_by_token, window_opened_at

register = template.Library()


@register.inclusion_tag("returns/_tracking_box.html", takes_context=True)
def return_box(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    token = (match.kwargs.get("token") if match else None) or ""
    shipments = context.get("shipments") or []
    opened = window_opened_at([(s.delivered_at, s.shipped_at) for s in shipments])
    if not token or opened is None or context.get("cancelled"):
        return {"show": False}
    units, days, returns = returnable_units_by_token(token)
    closes = opened + dt.timedelta(days=days or 0)
    is_open = timezone.now() <= closes
    return {
        "show": units > 0 or returns > 0,
        "can_return": is_open and units > 0,
        "closed": not is_open and units > 0,
        "closes_at": closes,
        "returns": returns,
        "url": reverse("return-start", args=[token]),
    }
