"""The catalogue: SKUs and locations, written through inventory's services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from inventory import services
from inventory.models import Location, Sku
from oms.admin.fields import UsedValuesFilter
from oms.admin.services import ServiceModelAdmin


class CountryInUseFilter(UsedValuesFilter):
    title = "country"
    parameter_name = "country"
    field_name = "country"


class SkuAdminForm(forms.ModelForm):
    lead_time_days = forms.IntegerField(
        min_value=0,
        max_value=32767,
        required=False,
        help_text=(
            "Days from ordering more to having it on hand (for reorder advice). Empty keeps "
            "the current value (14 for a new SKU)."
        ),
    )

    class Meta:
        model = Sku
        fields = ["code", *services.SKU_UPDATABLE]

    def clean_lead_time_days(self) -> int:
        value = self.cleaned_data.get("lead_time_days")
        if value is not None:
            return int(value)
        if self.instance.pk:
            return self.instance.lead_time_days
        return int(Sku._meta.get_field("lead_time_days").get_default())


@admin.register(Sku)
class SkuAdmin(ServiceModelAdmin):
    form = SkuAdminForm
    list_display = ["code", "name", "barcode", "weight_grams", "is_active", "allow_backorder"]
    list_filter = ["is_active", "allow_backorder", "track_inventory"]
    search_fields = ["code", "name", "barcode"]
    readonly_fields = ["created_at", "updated_at"]
    list_per_page = 100
    show_full_result_count = False

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        return [*self.readonly_fields, "code"] if obj else self.readonly_fields

    def service_create(self, data: dict[str, Any]) -> Sku:
        return services.sku_create(**data)

    def service_update(self, instance: Sku, data: dict[str, Any]) -> Sku:
        return services.sku_update(sku=instance, data=data)


@admin.register(Location)
class LocationAdmin(ServiceModelAdmin):
    list_display = [
        "code",
        "name",
        "kind",
        "city",
        "country",
        "is_active",
        "ships_online",
        "priority",
        "daily_capacity",
    ]
    list_filter = ["kind", CountryInUseFilter, "is_active", "ships_online"]
    search_fields = ["code", "name", "city", "postal_code"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["code", "name", "kind", "is_active"]}),
        (
            "Address",
            {"fields": ["line1", "line2", "postal_code", "city", "region", "country"]},
        ),
        ("Coordinates", {"fields": ["latitude", "longitude"]}),
        ("Fulfilment", {"fields": ["ships_online", "priority", "daily_capacity"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        return [*self.readonly_fields, "code"] if obj else self.readonly_fields

    def service_create(self, data: dict[str, Any]) -> Location:
        return services.location_create(**data)

    def service_update(self, instance: Location, data: dict[str, Any]) -> Location:
        return services.location_update(location=instance, data=data)
