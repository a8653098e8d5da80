"""Filters of the API's query parameters that refuse what the database would choke on.

Invariants: a timestamp parameter is ISO 8601 with an offset PostgreSQL accepts (+-15:59) and
a moment that stays in range in UTC, or a 400 naming the parameter; an id parameter is a whole
number from 1 to a bigint's maximum, or a 400 naming it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db import models
from django_filters import rest_framework as filters_drf
from django_filters.fields import IsoDateTimeField as BaseIsoDateTimeField
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError

from oms.limits import INTEGER_RANGES, datetime_problem


class IsoDateTimeField(BaseIsoDateTimeField):
    def strptime(self, value: str, format: str) -> dt.datetime:
        try:
            return super().strptime(value, format)
        except OverflowError:
            raise ValueError("out of range") from None

    def to_python(self, value: Any) -> dt.datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        problem = datetime_problem(parsed)
        if problem:
            raise forms.ValidationError(problem, code="invalid")
        return parsed.astimezone(dt.UTC)


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """`?created_after=2026-11-01T12:00:00+01:00`: refused when PostgreSQL could not use it."""

    field_class = IsoDateTimeField


@extend_schema_field({"type": "integer", "format": "int64", "minimum": 1})
class IdFilter(django_filters.NumberFilter):
    """An object id (a bigint): a whole number, or a 400."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        high = INTEGER_RANGES["BigAutoField"][1]
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", high)
        super().__init__(*args, **kwargs)


_TRUE = ("true", "1")
_FALSE = ("false", "0")
_FLAG_MESSAGE = "Must be true or false (or 1 or 0)."


class FlagField(forms.Field):
    """true/false/1/0 (any case); empty is "not given"; anything else is invalid, never
    silently "not given" as Django's NullBooleanField would have it."""

    def to_python(self, value: Any) -> bool | None:
        text = str(value).strip().lower() if value is not None else ""
        if text == "":
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise forms.ValidationError(_FLAG_MESSAGE, code="invalid")

    def validate(self, value: Any) -> None:
        if value is None and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")


class BooleanFilter(django_filters.BooleanFilter):
    """`?is_active=true`: a flag, or a 400 naming the parameter."""

    field_class = FlagField


class FilterSet(filters_drf.FilterSet):
    """The base of every API filter set: model boolean fields get the strict flag filter."""

    FILTER_DEFAULTS = {
        **filters_drf.FilterSet.FILTER_DEFAULTS,
        models.BooleanField: {"filter_class": BooleanFilter},
    }


class FilterBackend(filters_drf.DjangoFilterBackend):
    """DjangoFilterBackend whose filter sets made from `filterset_fields` use FilterSet."""

    filterset_base = FilterSet


def query_flag(params: Any, name: str) -> bool:
    """A flag in the query string (`?include_shipping=true`): absent or empty is false; a value
    that is not a flag is a 400 naming the parameter."""
    try:
        value = FlagField(required=False).clean(params.get(name))
    except forms.ValidationError:
        raise ValidationError({name: [_FLAG_MESSAGE]}) from None
    return bool(value)
