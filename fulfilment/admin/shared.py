"""What the shipment screens share: lines and units per shipment, a count with its noun.

The shipment reference a scanner reads (`SHIPMENT_REF`) and the hold that stops a shipment
(`held_problem`) are the services' (fulfilment.services.packing and .holds).
"""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum

from fulfilment.models import Shipment, ShipmentLine


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
