"""The read-only tables of shipments and routing decisions, on the shipment page and on the
order page (orders is a lower layer and never imports fulfilment: they are added from here).
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from fulfilment.admin.explanation import explanation_html
from fulfilment.admin.shared import with_line_totals
from fulfilment.models import Parcel, RoutingDecision, Shipment, ShipmentLine
from fulfilment.picklists import shipment_code
from oms.admin.readonly import ReadOnlyInline
from orders.models import Order


class ReadOnlyTabularInline(ReadOnlyInline):
    # The wrapper template adds the styles (the order page is another app's page) and hides
    # the row titles (str() of the record) that a read-only table does not need.
    template = "admin/fulfilment/edit_inline/tabular.html"
    classes = ["fulfilment-inline"]


class ShipmentLineInline(ReadOnlyTabularInline):
    model = ShipmentLine
    verbose_name = "line"
    verbose_name_plural = "Lines"
    fields = ["sku", "name", "quantity", "picked", "packed"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ShipmentLine]:
        return (
            super()
            .get_queryset(request)
            .select_related("order_line__sku")
            .order_by("order_line__line_number", "id")
        )

    @admin.display(description="SKU")
    def sku(self, obj: ShipmentLine) -> str:
        return obj.order_line.sku.code if obj.order_line.sku else obj.order_line.sku_code

    @admin.display(description="Name")
    def name(self, obj: ShipmentLine) -> str:
        return obj.bought_name

    @admin.display(description="Picked")
    def picked(self, obj: ShipmentLine) -> int:
        return obj.quantity_picked

    @admin.display(description="Packed")
    def packed(self, obj: ShipmentLine) -> int:
        return obj.quantity_packed


class ParcelInline(ReadOnlyTabularInline):
    model = Parcel
    verbose_name = "parcel"
    verbose_name_plural = "Parcels"
    fields = ["weight", "length", "width", "height", "created_at"]

    @admin.display(description="Weight (g)")
    def weight(self, obj: Parcel) -> int:
        return obj.weight_grams

    @admin.display(description="Length (mm)")
    def length(self, obj: Parcel) -> int | str:
        return obj.length_mm or "-"

    @admin.display(description="Width (mm)")
    def width(self, obj: Parcel) -> int | str:
        return obj.width_mm or "-"

    @admin.display(description="Height (mm)")
    def height(self, obj: Parcel) -> int | str:
        return obj.height_mm or "-"


class ShipmentInline(ReadOnlyTabularInline):
    """The order's shipments, on the order page."""

    model = Shipment
    verbose_name = "shipment"
    verbose_name_plural = "Shipments"
    fields = [
        "shipment_link",
        "location_code",
        "status",
        "units",
        "carrier",
        "tracking_number",
        "expected_delivery_date",
        "shipped_at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Shipment]:
        return with_line_totals(super().get_queryset(request).select_related("location")).order_by(
            "id"
        )

    @admin.display(description="Shipment")
    def shipment_link(self, obj: Shipment) -> str:
        url = reverse("admin:fulfilment_shipment_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, shipment_code(obj.pk))

    @admin.display(description="Location")
    def location_code(self, obj: Shipment) -> str:
        return obj.location.code

    @admin.display(description="Lines / units")
    def units(self, obj: Shipment) -> str:
        return f"{getattr(obj, 'line_total', 0) or 0} / {getattr(obj, 'unit_total', 0) or 0}"


class RoutingDecisionInline(ReadOnlyTabularInline):
    """Every routing decision of the order, newest first, with its candidates."""

    model = RoutingDecision
    verbose_name = "routing decision"
    verbose_name_plural = "Routing decisions (newest first)"
    fields = ["created_at", "trigger", "outcome", "explanation_table"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[RoutingDecision]:
        return super().get_queryset(request).order_by("-created_at", "-id")

    @admin.display(description="Why")
    def explanation_table(self, obj: RoutingDecision) -> SafeString:
        return explanation_html(obj.explanation, compact=True)


def attach_to_order_page() -> None:
    """Add the shipment and routing inlines to the Order admin that orders registered."""
    order_admin = admin.site._registry.get(Order)
    if order_admin is None:  # orders' admin is not loaded: nothing to attach to
        return
    present = [*order_admin.inlines, *getattr(order_admin, "extra_inlines", [])]
    missing = [i for i in (ShipmentInline, RoutingDecisionInline) if i not in present]
    if missing:
        # This admin instance only: the Order admin class stays as orders defined it.
        cast(Any, order_admin).inlines = [*order_admin.inlines, *missing]
