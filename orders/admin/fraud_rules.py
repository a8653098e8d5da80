"""Fraud rules: plain admin configuration, read by capture."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin
from django_countries import countries

from orders.admin.display import NONE
from orders.models import FraudRule, FraudRuleKind


class FraudRuleForm(forms.ModelForm):
    home_country = forms.ChoiceField(
        required=False,
        help_text="For “first order abroad”: the country that is not abroad.",
    )

    class Meta:
        model = FraudRule
        fields = ["channel", "kind", "threshold", "home_country", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["home_country"])
        field.choices = [("", NONE), *((code, f"{name} ({code})") for code, name in countries)]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind")
        threshold = cleaned.get("threshold")
        if kind == FraudRuleKind.VALUE_OVER and (threshold is None or threshold <= 0):
            self.add_error("threshold", "Enter the order total above which orders are held.")
        if kind == FraudRuleKind.FIRST_ORDER_ABROAD and not cleaned.get("home_country"):
            self.add_error("home_country", "Choose the channel's home country.")
        return cleaned


@admin.register(FraudRule)
class FraudRuleAdmin(admin.ModelAdmin):
    """Per-channel settings: a plain form; the model form runs full_clean (constraints too)."""

    form = FraudRuleForm
    list_display = ["channel", "kind", "threshold", "home_country", "is_active"]
    list_select_related = ["channel"]
    list_filter = ["channel", "kind", "is_active"]
    autocomplete_fields = ["channel"]
    ordering = ["channel__code", "kind", "id"]
