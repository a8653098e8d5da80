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
from django_filters.fields import IsoDateTimeField as BaseIsoDateTimeField
from drf_spectacular.utils import extend_schema_field

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
