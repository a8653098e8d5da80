"""The nightly stock forecasts, read-only, with their backtested accuracy."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from inventory.models import StockForecast
from oms.admin.readonly import ReadOnlyModelAdmin


class ForecastScopeFilter(admin.SimpleListFilter):
    title = "scope"
    parameter_name = "scope"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("network", "Whole network"), ("location", "Per location")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "network":
            return queryset.filter(location__isnull=True)
        if self.value() == "location":
            return queryset.filter(location__isnull=False)
        return queryset


@admin.register(StockForecast)
class StockForecastAdmin(ReadOnlyModelAdmin):
    """The nightly forecasts, read-only, with the backtested accuracy beside each one."""

    list_display = [
        "sku",
        "scope",
        "velocity_7",
        "velocity_28",
        "velocity_90",
        "velocity",
        "available",
        "incoming",
        "days_of_cover",
        "stockout_date",
        "reorder_quantity",
        "accuracy",
        "computed_at",
    ]
    list_select_related = ["sku", "location"]
    list_filter = [ForecastScopeFilter, "location"]
    search_fields = ["sku__code", "sku__barcode"]
    ordering = ["stockout_date", "sku__code"]
    show_full_result_count = False

    @admin.display(description="Location", ordering="location__code")
    def scope(self, obj: StockForecast) -> str:
        return obj.location.code if obj.location else "network"

    @admin.display(description="WAPE (backtest)", ordering="wape")
    def accuracy(self, obj: StockForecast) -> str:
        if obj.wape is None:
            return "no demand to test against"
        return f"{obj.wape * 100:.0f}% over {obj.backtest_weeks} wk"
