"""Reads of the fulfilment app shared by the API, the admin and tasks."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Prefetch, QuerySet

from fulfilment.models import Shipment, ShipmentLine, ShippingLabel


def shipment_list() -> QuerySet[Shipment]:
    return Shipment.objects.select_related("location", "decision").prefetch_related(
        Prefetch("lines", queryset=ShipmentLine.objects.select_related("order_line")),
        # Whether a label exists (label_url), without loading the label files.
        Prefetch(
            "labels",
            queryset=ShippingLabel.objects.filter(voided_at__isnull=True).only(
                "id", "shipment_id", "parcel_id"
            ),
            to_attr="active_labels",
        ),
    )


def shipment_labels(shipment_ids: Iterable[int]) -> QuerySet[ShippingLabel]:
    """The labels in use of these shipments, in print order (shipment, then parcel)."""
    return ShippingLabel.objects.filter(
        shipment_id__in=list(shipment_ids), voided_at__isnull=True
    ).order_by("shipment_id", "parcel_id")
