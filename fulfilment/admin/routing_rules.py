"""Routing rules: plain admin configuration, saved by the ModelAdmin and read by routing."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django_countries import countries

from fulfilment.models import RoutingRule, RuleKind


class SplitChoiceSelect(forms.NullBooleanSelect):
    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.choices = [
            ("unknown", "Not set by this rule"),
            ("true", "Yes: split when no location has everything"),
            ("false", "No: ship complete from one location"),
        ]


def _country_codes(value: str) -> tuple[str, list[str]]:
    """Normalise "de, at fr" to "AT,DE,FR"; return it and the codes that are no country."""
    codes = [c.upper() for c in re.split(r"[\s,;]+", value or "") if c]
    unknown = [c for c in codes if not countries.alpha2(c)]
    known = sorted({str(countries.alpha2(c)) for c in codes if countries.alpha2(c)})
    return ",".join(known), unknown


class RoutingRuleForm(forms.ModelForm):
    class Meta:
        model = RoutingRule
        fields = [
            "position",
            "name",
            "is_active",
            "channel",
            "countries",
            "kind",
            "locations",
            "priority",
            "allow_split",
            "max_splits",
            "on_shortage",
        ]
        widgets = {"allow_split": SplitChoiceSelect}
        help_texts = {
            "priority": "For priority rules: the routing priority these locations get "
            "(lower is preferred; a location's own priority is used otherwise).",
            "position": "Rules are read in this order, lowest first.",
        }

    def clean_countries(self) -> str:
        value, unknown = _country_codes(self.cleaned_data.get("countries", ""))
        if unknown:
            raise ValidationError(
                f"Not ISO 3166-1 country codes: {', '.join(unknown)}. Use two letters, e.g. DE, AT."
            )
        return value

    def clean_max_splits(self) -> int | None:
        value = self.cleaned_data.get("max_splits")
        if value is not None and value < 1:
            raise ValidationError("At least 1 shipment (1 = never split).")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind")
        locations = cleaned.get("locations")
        has_locations = locations is not None and len(locations) > 0
        needs_locations = (RuleKind.EXCLUDE, RuleKind.ONLY, RuleKind.PRIORITY, RuleKind.SERVES)
        if kind in needs_locations and not has_locations and "locations" not in self.errors:
            self.add_error("locations", "Choose the locations this rule is about.")
        if kind == RuleKind.PRIORITY and cleaned.get("priority") is None:
            self.add_error("priority", "A priority rule sets a priority (lower is preferred).")
        if (
            kind == RuleKind.SERVES
            and not cleaned.get("countries")
            and "countries" not in self.errors
        ):
            self.add_error("countries", "List the countries these 3PL locations serve.")
        if kind == RuleKind.SPLITS and (
            cleaned.get("allow_split") is None
            and cleaned.get("max_splits") is None
            and not cleaned.get("on_shortage")
        ):
            self.add_error(
                None,
                "A split policy sets at least one of: allow split, max splits, on shortage.",
            )
        return cleaned


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    form = RoutingRuleForm
    list_display = [
        "position",
        "name",
        "is_active",
        "kind",
        "channel",
        "countries",
        "location_codes",
        "priority",
        "allow_split",
        "max_splits",
        "on_shortage",
    ]
    list_display_links = ["name"]
    list_editable = ["position", "is_active"]
    list_select_related = ["channel"]
    list_filter = ["kind", "is_active", "channel"]
    search_fields = ["name", "countries"]
    filter_horizontal = ["locations"]
    fieldsets = [
        (None, {"fields": ["position", "name", "is_active", "kind"]}),
        (
            "When it applies",
            {
                "fields": ["channel", "countries"],
                "description": "Empty channel or countries match every order. A 3PL "
                "“serves” rule applies to every order: its countries are the ones the "
                "locations serve.",
            },
        ),
        ("Locations", {"fields": ["locations", "priority"]}),
        (
            "Split policy",
            {
                "fields": ["allow_split", "max_splits", "on_shortage"],
                "description": "For “split policy” rules; the first active rule that sets a "
                "value wins.",
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[RoutingRule]:
        return super().get_queryset(request).prefetch_related("locations")

    @admin.display(description="Locations")
    def location_codes(self, obj: RoutingRule) -> str:
        return ", ".join(sorted(loc.code for loc in obj.locations.all())) or "-"
