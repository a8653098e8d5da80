"""Fulfilment's part of an order in the orders API (orders.ports.OrderShipments): the order's
shipments, read for a whole page in one query, and the shopper's tracking page."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.urls import NoReverseMatch, reverse

from fulfilment.models import Shipment
from orders.models import Order


class OrderShipmentsPort:
    def prefetch(self, queryset: QuerySet[Order]) -> QuerySet[Order]:
        return queryset.prefetch_related(
            Prefetch("shipments", queryset=Shipment.objects.only("pk", "order_id").order_by("pk"))
        )

    def shipment_ids(self, order: Order) -> list[int]:
        return [shipment.pk for shipment in order.shipments.all()]

    def tracking_path(self, order: Order) -> str | None:
        try:
            return reverse("tracking-page", kwargs={"token": order.tracking_token})
        except NoReverseMatch:  # the public pages are not mounted (an API-only deployment)
            return None
