"""The catalogue: SKUs and locations, written through inventory's services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from inventory import services
from inventory.models import Location, Sku, SkuPrice, StockLevel
from inventory.selectors import sku_stock_by_location
from oms.admin.fields import UsedValuesFilter
from oms.admin.services import ServiceModelAdmin
from oms.errors import ValidationFailed
from oms.money import is_current_currency


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
    list_display = [
        "code",
        "name",
        "barcode",
        "weight_grams",
        "is_active",
        "allow_backorder",
        "stock_link",
    ]
    list_filter = ["is_active", "allow_backorder", "track_inventory"]
    search_fields = ["code", "name", "barcode"]
    readonly_fields = ["created_at", "updated_at"]
    list_per_page = 100
    show_full_result_count = False

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        return [*self.readonly_fields, "code"] if obj else self.readonly_fields

    def service_create(self, data: dict[str, Any]) -> Sku:
        return services.sku_create(**data)

    # --- stock across locations -------------------------------------------------------------

    @admin.display(description="Stock")
    def stock_link(self, obj: Sku) -> str:
        url = reverse("admin:inventory_sku_stock", args=[obj.pk])
        return format_html('<a href="{}">By location</a>', url)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.stock_view)
        return [path("<int:sku_id>/stock/", view, name="inventory_sku_stock"), *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        extra = dict(extra_context or {})
        if object_id.isdigit():
            extra["stock_url"] = reverse("admin:inventory_sku_stock", args=[int(object_id)])
        return super().change_view(request, object_id, form_url, extra)

    def stock_view(self, request: HttpRequest, sku_id: int) -> HttpResponse:
        """A SKU's stock at every location, with totals (who may see stock levels)."""
        if not request.user.has_perm("inventory.view_stocklevel"):
            raise PermissionDenied
        sku = get_object_or_404(Sku, pk=sku_id)
        levels_url = reverse("admin:inventory_stocklevel_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Stock of {sku.code} by location",
            "sku": sku,
            "stock": sku_stock_by_location(sku),
            "sku_url": reverse("admin:inventory_sku_change", args=[sku.pk]),
            "changelist_url": reverse("admin:inventory_sku_changelist"),
            "levels_url": f"{levels_url}?sku__id__exact={sku.pk}",
            "ledger_url": (
                f"{reverse('admin:inventory_stockmovement_changelist')}?sku__id__exact={sku.pk}"
            ),
            "level_opts": StockLevel._meta,
        }
        return TemplateResponse(request, "admin/inventory/sku/stock.html", context)

    def service_update(self, instance: Sku, data: dict[str, Any]) -> Sku:
        return services.sku_update(sku=instance, data=data)


class SkuPriceAdminForm(forms.ModelForm):
    class Meta:
        model = SkuPrice
        fields = ["sku", "channel", "currency", "amount"]

    def clean_currency(self) -> str:
        currency = str(self.cleaned_data.get("currency") or "").upper()
        if not is_current_currency(currency):
            raise forms.ValidationError(f"{currency!r} is not an ISO 4217 code in use today.")
        return currency

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        amount, currency = data.get("amount"), data.get("currency") or self.instance.currency
        if amount is not None and currency:
            try:
                services.price_errors(currency=currency, amount=amount)
            except ValidationFailed as exc:
                for message in (exc.errors or {}).get("amount", []):
                    self.add_error("amount", message)
        return data


@admin.register(SkuPrice)
class SkuPriceAdmin(ServiceModelAdmin):
    """Current prices: a channel's price list, or a SKU's default price (no channel)."""

    form = SkuPriceAdminForm
    list_display = ["sku", "channel", "currency", "amount", "updated_at"]
    list_filter = ["channel", "currency"]
    list_select_related = ["sku", "channel"]
    search_fields = ["sku__code", "sku__name"]
    autocomplete_fields = ["sku"]
    fields = ["sku", "channel", "currency", "amount"]
    list_per_page = 100

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        return ["sku", "channel", "currency"] if obj else []

    def service_create(self, data: dict[str, Any]) -> SkuPrice:
        return services.sku_price_set(**data)

    def service_update(self, instance: SkuPrice, data: dict[str, Any]) -> SkuPrice:
        return services.sku_price_set(
            sku=instance.sku,
            channel=instance.channel,
            currency=instance.currency,
            amount=data.get("amount", instance.amount),
        )


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
