"""The API's input boundary for numbers: integers that fit their column, money on its grid.

Invariants:
- an integer input is a JSON integer (never "2", 2.0 or true) within the range of the column it
  lands in (`model_integer` reads it from the model field; a plain `IntegerField` is bounded to
  PostgreSQL's integer);
- an amount of money is a decimal string ("19.95"): never a JSON number (a float has no exact
  decimal value), never an exponent ("1E+3"), at most 10 digits before the point and 4 after
  (the columns' DECIMAL(14, 4)); whether it is on the currency's grid is checked by the service,
  which knows the currency;
- an amount is written with exactly its currency's digits ("10.00", JPY "1000", BHD "1.000"),
  the currency read from the object (`currency_source`, a dotted path).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers
from rest_framework.fields import get_attribute

from oms.limits import INT_MAX, INT_MIN, integer_range
from oms.money import (
    MONEY_MAX_LENGTH,
    MONEY_PATTERN,
    is_currency,
    money_format,
    parse_money,
)


class IntegerField(serializers.IntegerField):
    """A JSON integer within [min_value, max_value], never outside `column` (a column's range,
    PostgreSQL's integer by default)."""

    default_error_messages = {
        "not_an_integer": "Must be a JSON integer (not a string, a decimal number or a boolean).",
    }

    def __init__(self, *, column: tuple[int, int] = (INT_MIN, INT_MAX), **kwargs: Any) -> None:
        low, high = column
        given_low, given_high = kwargs.get("min_value"), kwargs.get("max_value")
        kwargs["min_value"] = low if given_low is None else max(int(given_low), low)
        kwargs["max_value"] = high if given_high is None else min(int(given_high), high)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_an_integer")
        return int(data)


def model_integer(model: type[models.Model], field_name: str, **kwargs: Any) -> IntegerField:
    """An IntegerField bounded by the column of `model.field_name` (narrower if asked)."""
    return IntegerField(column=integer_range(model, field_name), **kwargs)


class MoneyField(serializers.Field):
    """An amount of money: a decimal string in, the currency's digits out (see the module).

    `currency_source` is the dotted path, from the object being written, of its currency code
    ("currency", "order.currency"). Inputs are at most 4 decimal places and not negative
    unless `min_value` says otherwise; the service checks the currency's grid.
    """

    default_error_messages = {
        "invalid": "{reason}",
        "min_value": "Ensure this amount is greater than or equal to {min_value}.",
        "max_value": "Ensure this amount is less than or equal to {max_value}.",
    }

    def __init__(
        self,
        *,
        currency_source: str = "currency",
        min_value: Decimal | int | None = 0,
        max_value: Decimal | int | None = None,
        **kwargs: Any,
    ) -> None:
        self.currency_source = currency_source
        self.min_value = None if min_value is None else Decimal(min_value)
        self.max_value = None if max_value is None else Decimal(max_value)
        super().__init__(**kwargs)

    # --- input ---------------------------------------------------------------------------

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            amount = parse_money(data)
        except ValueError as exc:
            self.fail("invalid", reason=str(exc))
        if self.min_value is not None and amount < self.min_value:
            self.fail("min_value", min_value=self.min_value)
        if self.max_value is not None and amount > self.max_value:
            self.fail("max_value", max_value=self.max_value)
        return amount

    # --- output --------------------------------------------------------------------------

    def get_attribute(self, instance: Any) -> Any:
        value = super().get_attribute(instance)
        if value is None:
            return None
        try:
            currency = get_attribute(instance, self.currency_source.split("."))
        except (AttributeError, KeyError):
            currency = None
        return (value, currency)

    def to_representation(self, value: Any) -> str | None:
        if value is None:
            return None
        amount, currency = value if isinstance(value, tuple) else (value, None)
        if amount is None:
            return None
        amount = Decimal(amount)
        if not is_currency(currency):
            return f"{amount:f}"
        return money_format(amount, str(currency))


class MoneyFieldExtension(OpenApiSerializerFieldExtension):
    """The schema of a MoneyField: a decimal string (never a number)."""

    target_class = "oms.api.fields.MoneyField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> Any:
        schema = build_basic_type(OpenApiTypes.DECIMAL)
        schema = dict(schema or {"type": "string", "format": "decimal"})
        schema["type"] = "string"
        schema["format"] = "decimal"
        if direction == "request":
            field = self.target
            signed = field.min_value is None or field.min_value < 0
            schema["pattern"] = MONEY_PATTERN if signed else MONEY_PATTERN.replace("-?", "")
            schema["maxLength"] = MONEY_MAX_LENGTH
            schema["description"] = (
                "A decimal string with at most the currency's decimal places "
                '("19.95"; JPY "1000"); never a JSON number or an exponent.'
            )
        else:
            schema["description"] = "Exactly the currency's decimal places."
        return schema
