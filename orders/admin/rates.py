"""Exchange rates: the overrides (saved through a service) and the refreshes of the stored rates."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_POST
from djmoney.contrib.exchange.models import Rate

from oms.admin.readonly import ReadOnlyModelAdmin
from oms.admin.services import ServiceModelAdmin
from oms.errors import DomainError
from oms.money import currency_choices
from orders import services
from orders.admin.display import NONE
from orders.models import FxRatesRefresh, RateOverride
from orders.services.rates import rate_override_delete, rate_override_save


def _refresh_permission(request: HttpRequest) -> bool:
    return request.user.has_perm("orders.change_rateoverride")


class RateOverrideForm(forms.ModelForm):
    currency = forms.ChoiceField(help_text="The currency whose rate you set.")

    class Meta:
        model = RateOverride
        fields = ["currency", "rate", "valid_from", "note"]
        help_texts = {
            "rate": "Units of the currency per one unit of the base currency, like the ECB's.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "currency" in self.fields:
            field = cast(forms.ChoiceField, self.fields["currency"])
            offered = currency_choices(exclude=(settings.OMS_BASE_CURRENCY,))
            field.choices = [("", NONE), *offered]

    def clean_rate(self) -> Decimal:
        rate = self.cleaned_data["rate"]
        if rate is None or rate <= 0:
            raise forms.ValidationError("A positive rate.")
        return Decimal(rate)


class RatesRefreshMixin:
    """A “Refresh exchange rates now” button on the changelist, and the view it posts to."""

    admin_site: admin.AdminSite
    message_user: Callable[..., None]

    def refresh_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(require_POST(self.refresh_view))
        return [path("refresh/", view, name="orders_fxratesrefresh_refresh")]

    def refresh_context(self, request: HttpRequest) -> dict[str, Any]:
        if not _refresh_permission(request):
            return {}
        return {"refresh_url": reverse("admin:orders_fxratesrefresh_refresh")}

    def refresh_view(self, request: HttpRequest) -> HttpResponse:
        if not _refresh_permission(request):
            raise PermissionDenied
        try:
            refresh = services.fx_rates_refresh()
        except DomainError as exc:
            self.message_user(request, f"Exchange rates not refreshed: {exc}", messages.ERROR)
        else:
            self.message_user(
                request,
                f"Exchange rates refreshed: {refresh.currencies} currencies, {refresh.source} "
                f"rates of {refresh.rates_date:%Y-%m-%d}, overrides included.",
                messages.SUCCESS,
            )
        back = request.POST.get("next", "")
        if not back.startswith("/admin/"):
            back = reverse("admin:orders_fxratesrefresh_changelist")
        return HttpResponseRedirect(back)


@admin.register(RateOverride)
class RateOverrideAdmin(RatesRefreshMixin, ServiceModelAdmin):
    """Saving or deleting an override refreshes the stored rates, so the next conversion uses
    it; orders already converted keep their rate."""

    form = RateOverrideForm
    list_display = ["currency", "rate", "valid_from", "note", "updated_at"]
    search_fields = ["currency", "note"]
    ordering = ["currency"]
    change_list_template = "admin/orders/rates_change_list.html"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["currency", "updated_at"] if obj else ["updated_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), **self.refresh_context(request)}
        return super().changelist_view(request, context)

    def service_create(self, data: dict[str, Any]) -> RateOverride:
        return rate_override_save(**data)

    def service_update(self, instance: RateOverride, data: dict[str, Any]) -> RateOverride:
        return rate_override_save(
            currency=instance.currency,
            rate=data.get("rate", instance.rate),
            valid_from=data.get("valid_from", instance.valid_from),
            note=data.get("note", instance.note),
        )

    def delete_model(self, request: HttpRequest, obj: RateOverride) -> None:
        rate_override_delete(override=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[RateOverride]) -> None:
        for override in queryset.order_by("pk"):
            rate_override_delete(override=override)


@admin.register(FxRatesRefresh)
class FxRatesRefreshAdmin(RatesRefreshMixin, ReadOnlyModelAdmin):
    """The record of every refresh of the stored rates: read-only."""

    list_display = ["refreshed_at", "source", "rates_date", "currencies"]
    list_filter = ["source"]
    date_hierarchy = "refreshed_at"
    change_list_template = "admin/orders/rates_change_list.html"
    show_full_result_count = False

    def get_urls(self) -> list[URLPattern]:
        return [*self.refresh_urls(), *super().get_urls()]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), **self.refresh_context(request)}
        return super().changelist_view(request, context)


class StoredRateAdmin(ReadOnlyModelAdmin):
    """django-money's stored rates, read-only: they are what the refreshes wrote (the ECB's,
    with the overrides applied), so one place changes a rate: Orders > Rate overrides. Replaces
    django-money's own admin, which let staff edit or delete a rate the next refresh overwrote."""

    list_display = ["currency", "value", "source", "last_update"]
    list_filter = ["currency"]
    ordering = ["currency"]
    list_select_related = ["backend"]
    show_full_result_count = False

    @admin.display(description="Source")
    def source(self, obj: Rate) -> str:
        return str(obj.backend_id)

    @admin.display(description="Refreshed at")
    def last_update(self, obj: Rate) -> Any:
        return obj.backend.last_update

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        overrides = reverse("admin:orders_rateoverride_changelist")
        context = {
            **(extra_context or {}),
            "title": "Stored exchange rates (read-only: set a rate with a rate override)",
            "overrides_url": overrides,
        }
        return super().changelist_view(request, context)


if admin.site.is_registered(Rate):
    admin.site.unregister(Rate)
admin.site.register(Rate, StoredRateAdmin)
