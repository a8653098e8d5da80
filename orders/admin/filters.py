"""The filters of the order list: ship-to country, on hold, active hold reason."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from oms.admin.fields import UsedValuesFilter
from orders.admin.display import country_label
from orders.states import HoldReason


class ShipCountryFilter(UsedValuesFilter):
    title = "ship country"
    parameter_name = "ship_country"
    field_name = "ship_country"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(code, country_label(code)) for code, _ in super().lookups(request, model_admin)]


class OnHoldFilter(admin.SimpleListFilter):
    title = "on hold"
    parameter_name = "on_hold"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "On hold"), ("no", "Not on hold")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("yes", "no"):
            return queryset.filter(is_on_hold=self.value() == "yes")
        return queryset


class ActiveHoldReasonFilter(admin.SimpleListFilter):
    title = "active hold"
    parameter_name = "hold_reason"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(value), str(label)) for value, label in HoldReason.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value():
            # At most one active hold per reason: the join never repeats an order.
            return queryset.filter(holds__reason=self.value(), holds__released_at__isnull=True)
        return queryset
