"""What the shipment screens share: the shipment reference a scanner reads, lines and units
per shipment, the hold that stops a shipment, a count with its noun.
"""

from __future__ import annotations

import re

from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum

from fulfilment.models import Shipment, ShipmentLine
from orders.selectors import order_hold_reasons

SHIPMENT_REF = re.compile(r"^\s*(?:SH-?)?(\d{1,12})\s*$", re.IGNORECASE)


def with_line_totals(queryset: QuerySet[Shipment]) -> QuerySet[Shipment]:
    """Lines and units per shipment as correlated subqueries: a page computes them for its rows
    only, and the list's COUNT(*) stays a plain count (no join, no GROUP BY)."""
    lines = ShipmentLine.objects.filter(shipment=OuterRef("pk")).order_by().values("shipment")
    return queryset.annotate(
        line_total=Subquery(lines.annotate(n=Count("id")).values("n")),
        unit_total=Subquery(lines.annotate(n=Sum("quantity")).values("n")),
    )


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def held_problem(shipment: Shipment) -> str:
    """ "order N is on hold (its holds)", or "" when the shipment's order is not on hold."""
    if not shipment.order.is_on_hold:
        return ""
    reasons = "; ".join(order_hold_reasons(shipment.order_id)) or "hold"
    return f"order {shipment.order} is on hold ({reasons})"
