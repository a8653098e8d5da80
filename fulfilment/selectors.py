"""Reads of the fulfilment app shared by the API, the admin and tasks."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from fulfilment.models import RoutingDecision, Shipment, ShipmentLine


def shipment_list() -> QuerySet[Shipment]:
    return Shipment.objects.select_related("location", "decision").prefetch_related(
        Prefetch("lines", queryset=ShipmentLine.objects.select_related("order_line"))
    )


def routing_decisions(order_id: int) -> QuerySet[RoutingDecision]:
    return RoutingDecision.objects.filter(order_id=order_id).order_by("-created_at", "-id")
