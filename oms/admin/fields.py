"""Form fields and list filters every app's admin uses.

A form's whole number is within PostgreSQL's integer (IntegerField) whatever database runs, so
a figure the production database would refuse is a form error, not a 500.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from oms.limits import INT_MAX, INT_MIN


class IntegerField(forms.IntegerField):
    """A whole number within [min_value, max_value], never outside PostgreSQL's integer."""

    def __init__(
        self, *, min_value: int | None = None, max_value: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(
            min_value=INT_MIN if min_value is None else max(min_value, INT_MIN),
            max_value=INT_MAX if max_value is None else min(max_value, INT_MAX),
            **kwargs,
        )


class UsedValuesFilter(admin.SimpleListFilter):
    """A list filter offering only the values present in the table (not every country on Earth)."""

    field_name = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        field = model_admin.model._meta.get_field(self.field_name)
        values = (
            model_admin.model._default_manager.order_by(self.field_name)
            .values_list(self.field_name, flat=True)
            .distinct()
        )
        choices = dict(field.flatchoices) if field.choices else {}
        return [(str(v), str(choices.get(v, v))) for v in values if v not in (None, "")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value():
            return queryset.filter(**{self.field_name: self.value()})
        return queryset
