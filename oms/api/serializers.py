"""Base serializers of the API.

Invariants: input serializers reject fields they do not know, at every nesting level, so that a
misspelt field is a 400 naming it and never a silently ignored value; a NUL character anywhere
in an input (a value or a key, at any depth) is a 400 naming where it is, before any field or
database sees it (PostgreSQL's text and jsonb refuse it).
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from rest_framework import serializers

from oms.limits import NUL_MESSAGE, nul_paths


def json_type_problems(serializer: serializers.Serializer, data: dict) -> dict[str, list[str]]:
    """A JSON body's values have the JSON type the schema names: a boolean is true or false
    (never 0 or "yes"), a string is a string (never 0), a number a number (never false). DRF
    would coerce them and an integrator's bug would pass unseen. (Query strings, all text, are
    parsed by their fields.)"""
    problems: dict[str, list[str]] = {}
    for name, field in serializer.fields.items():
        value = data.get(name)
        if value is None or field.read_only:
            continue
        if isinstance(field, serializers.BooleanField) and not isinstance(value, bool):
            problems[name] = ["Must be a JSON boolean: true or false."]
        elif (isinstance(field, serializers.CharField) and not isinstance(value, str)) or (
            isinstance(field, serializers.ChoiceField)
            and not isinstance(field, serializers.MultipleChoiceField)
            and not isinstance(value, str)
            and all(isinstance(key, str) for key in field.choices)
        ):
            problems[name] = ["Must be a JSON string."]
        elif isinstance(field, serializers.FloatField) and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            problems[name] = ["Must be a JSON number."]
    return problems


class InputSerializer(serializers.Serializer):
    """A plain command/input serializer that refuses unknown fields and NUL characters."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if self.parent is None and data is not serializers.empty:
            found = list(dict.fromkeys(nul_paths(data)))
            if found:
                raise serializers.ValidationError({path: [NUL_MESSAGE] for path in found[:20]})
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and not isinstance(data, QueryDict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
            wrong = json_type_problems(self, data)
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)

    def create(self, validated_data: Any) -> Any:  # pragma: no cover - never used
        raise TypeError("Input serializers do not save: call a service")

    def update(self, instance: Any, validated_data: Any) -> Any:  # pragma: no cover
        raise TypeError("Input serializers do not save: call a service")
