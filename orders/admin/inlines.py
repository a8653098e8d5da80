"""The read-only tables of the order page: lines and holds (the timeline: orders.admin.timeline)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from oms.admin.readonly import ReadOnlyInline
from orders.admin.display import money
from orders.models import OrderHold, OrderLine


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    verbose_name = "line"
    verbose_name_plural = "Lines"
    fields = [
        "line_number",
        "sku_link",
        "name",
        "ordered",
        "allocated",
        "shipped",
        "cancelled",
        "returned",
        "unit_price_display",
        "line_total_display",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderLine]:
        return super().get_queryset(request).select_related("order").order_by("line_number")

    @admin.display(description="SKU")
    def sku_link(self, obj: OrderLine) -> str:
        if obj.sku_id is None:
            return format_html("{} <em>(unknown SKU)</em>", obj.sku_code)
        url = reverse("admin:inventory_sku_change", args=[obj.sku_id])
        return format_html('<a href="{}">{}</a>', url, obj.sku_code)

    @admin.display(description="Ordered")
    def ordered(self, obj: OrderLine) -> int:
        return obj.quantity

    @admin.display(description="Allocated")
    def allocated(self, obj: OrderLine) -> int:
        return obj.quantity_allocated

    @admin.display(description="Shipped")
    def shipped(self, obj: OrderLine) -> int:
        return obj.quantity_shipped

    @admin.display(description="Cancelled")
    def cancelled(self, obj: OrderLine) -> int:
        return obj.quantity_cancelled

    @admin.display(description="Returned")
    def returned(self, obj: OrderLine) -> int:
        return obj.quantity_returned

    @admin.display(description="Unit price")
    def unit_price_display(self, obj: OrderLine) -> str:
        return money(obj.unit_price, obj.order.currency)

    @admin.display(description="Line total")
    def line_total_display(self, obj: OrderLine) -> str:
        return money(obj.line_total, obj.order.currency)


class OrderHoldInline(ReadOnlyInline):
    model = OrderHold
    verbose_name = "hold"
    verbose_name_plural = "Holds"
    fields = [
        "reason",
        "state",
        "note",
        "placed_by",
        "placed_at",
        "released_by",
        "released_at",
        "release_note",
    ]

    @admin.display(description="State")
    def state(self, obj: OrderHold) -> str:
        return "Released" if obj.released_at else "Active"
