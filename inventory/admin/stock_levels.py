"""Stock levels: the list, a level's page and its thresholds (the only thing edited here).

Quantities change only through the stock screens (stock_screens) and the services.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from inventory import services
from inventory.admin.stock_screens import StockScreens
from inventory.models import StockLevel
from inventory.selectors import STOCK_LEVEL_FIGURES, available_expression
from oms.admin.export import CsvExportMixin

#: The figures of a level's page, all read-only: they change through the ledger only.
_QUANTITIES = ("on_hand", "reserved", "quarantined", "available", "allow_backorder", "needs_count")


class LowStockFilter(admin.SimpleListFilter):
    title = "low stock"
    parameter_name = "low_stock"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("out", "Out of stock (nothing available)"),
            ("reorder", "At or below reorder point"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "out":
            return queryset.filter(available_qty=0)
        if self.value() == "reorder":
            return queryset.filter(
                reorder_point__gt=0, on_hand__lte=F("reorder_point") + F("reserved")
            )
        return queryset


@admin.register(StockLevel)
class StockLevelAdmin(CsvExportMixin, StockScreens):
    """Levels are created by stock services; staff set thresholds here and count elsewhere."""

    # "Needs count" marks only the levels that need one: a red cross on every other row would be
    # noise (the filter still finds both).
    list_display = [
        "sku_code",
        "location",
        *(f for f in STOCK_LEVEL_FIGURES if f != "needs_count"),
        "count_due",
        "sku_stock_link",
    ]
    csv_columns = [
        ("sku", "sku__code"),
        ("sku_name", "sku__name"),
        ("location", "location__code"),
        ("bin", "bin"),
        ("on_hand", "on_hand"),
        ("reserved", "reserved"),
        ("quarantined", "quarantined"),
        ("safety_stock", "safety_stock"),
        ("reorder_point", "reorder_point"),
        ("available", "available_qty"),
        ("needs_count", "needs_count"),
        ("updated_at", "updated_at"),
    ]
    list_display_links = ["sku_code"]
    list_select_related = ["sku", "location"]
    list_filter = ["location", "location__kind", LowStockFilter, "needs_count"]
    search_fields = ["sku__code", "sku__barcode"]
    list_per_page = 100
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["sku", "location"]}),
        (
            "Quantities",
            {
                "fields": list(_QUANTITIES),
                "description": "Quantities change only through counts, adjustments, orders, "
                "shipments, returns and transfers, each recorded in the stock ledger.",
            },
        ),
        ("Thresholds", {"fields": ["safety_stock", "reorder_point"]}),
        ("History", {"fields": ["updated_at", "ledger_link", "sku_stock_link"]}),
    ]
    readonly_fields = [
        "sku",
        "location",
        *_QUANTITIES,
        "updated_at",
        "ledger_link",
        "sku_stock_link",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StockLevel]:
        return super().get_queryset(request).annotate(available_qty=available_expression())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="SKU", ordering="sku__code")
    def sku_code(self, obj: StockLevel) -> str:
        return obj.sku.code

    @admin.display(description="Needs count", ordering="needs_count")
    def count_due(self, obj: StockLevel) -> str:
        if obj.needs_count:
            return format_html(
                '<img src="{}" alt="" width="14" height="14"> <strong>Count it</strong>',
                static("admin/img/icon-alert.svg"),
            )
        return mark_safe('<span class="visually-hidden">No count needed</span>')

    @admin.display(description="Available", ordering="available_qty")
    def available(self, obj: StockLevel) -> int:
        annotated = getattr(obj, "available_qty", None)
        return obj.available if annotated is None else int(annotated)

    @admin.display(description="All locations")
    def sku_stock_link(self, obj: StockLevel) -> str:
        url = reverse("admin:inventory_sku_stock", args=[obj.sku_id])
        return format_html(
            '<a href="{}" title="Stock of {} at every location">By location</a>', url, obj.sku.code
        )

    @admin.display(description="Stock ledger")
    def ledger_link(self, obj: StockLevel) -> str:
        url = reverse("admin:inventory_stockmovement_changelist")
        query = urlencode({"sku__id__exact": obj.sku_id, "location__id__exact": obj.location_id})
        return format_html('<a href="{}?{}">Movements of this level</a>', url, query)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Only the thresholds are editable; the service writes them.
        services.stock_level_set_thresholds(
            sku=obj.sku,
            location=obj.location,
            safety_stock=form.cleaned_data.get("safety_stock"),
            reorder_point=form.cleaned_data.get("reorder_point"),
        )
        obj.refresh_from_db()

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), **self._tool_links(request)}
        return super().changelist_view(request, extra_context)
