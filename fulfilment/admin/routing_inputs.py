"""What routing and the delivery promise read: geographic centroids, location schedules,
transit times and holidays (plain admin configuration).
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django_countries import countries

from fulfilment.models import GeoCentroid, Holiday, LocationSchedule, TransitTime
from oms.admin.fields import UsedValuesFilter


class CountryInUseFilter(UsedValuesFilter):
    title = "country"
    parameter_name = "country"
    field_name = "country"


class CountryCodeForm(forms.ModelForm):
    def clean_country(self) -> str:
        value = str(self.cleaned_data.get("country") or "").strip().upper()
        if not countries.alpha2(value):
            raise ValidationError("An ISO 3166-1 alpha-2 country code, e.g. DE.")
        return str(countries.alpha2(value))


class GeoCentroidForm(CountryCodeForm):
    class Meta:
        model = GeoCentroid
        fields = ["country", "postal_prefix", "city", "region", "latitude", "longitude"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not any(cleaned.get(k) for k in ("postal_prefix", "city", "region")):
            self.add_error(None, "Give a postal prefix, a city or a region.")
        lat, lon = cleaned.get("latitude"), cleaned.get("longitude")
        if lat is not None and not -90 <= lat <= 90:
            self.add_error("latitude", "Between -90 and 90.")
        if lon is not None and not -180 <= lon <= 180:
            self.add_error("longitude", "Between -180 and 180.")
        return cleaned


@admin.register(GeoCentroid)
class GeoCentroidAdmin(admin.ModelAdmin):
    form = GeoCentroidForm
    list_display = ["country", "postal_prefix", "city", "region", "latitude", "longitude"]
    list_filter = [CountryInUseFilter]
    search_fields = ["postal_prefix", "city", "region"]
    ordering = ["country", "postal_prefix", "city"]
    list_per_page = 100
    show_full_result_count = False


class LocationScheduleForm(forms.ModelForm):
    timezone = forms.ChoiceField(
        choices=[(tz, tz) for tz in sorted(zoneinfo.available_timezones())],
        initial="UTC",
        help_text="The location's clock: the cut-off is in this time zone.",
    )

    class Meta:
        model = LocationSchedule
        fields = ["location", "handling_days", "cutoff", "timezone", "works_saturday"]


@admin.register(LocationSchedule)
class LocationScheduleAdmin(admin.ModelAdmin):
    form = LocationScheduleForm
    list_display = ["location", "handling_days", "cutoff", "timezone", "works_saturday"]
    list_select_related = ["location"]
    list_filter = ["works_saturday"]
    search_fields = ["location__code", "location__name"]
    autocomplete_fields = ["location"]
    ordering = ["location__code"]


@admin.register(TransitTime)
class TransitTimeAdmin(admin.ModelAdmin):
    list_display = ["carrier", "service", "max_km", "days", "is_default"]
    list_filter = ["carrier", "is_default"]
    search_fields = ["carrier", "service"]


class HolidayForm(CountryCodeForm):
    class Meta:
        model = Holiday
        fields = ["country", "date", "name"]


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    form = HolidayForm
    list_display = ["date", "country", "name"]
    list_filter = [CountryInUseFilter]
    date_hierarchy = "date"
    search_fields = ["name"]
    ordering = ["-date", "country"]
