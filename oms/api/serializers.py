"""Base serializers of the API.

Invariant: input serializers reject fields they do not know, at every nesting level, so that a
misspelt field is a 400 naming it and never a silently ignored value.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class InputSerializer(serializers.Serializer):
    """A plain command/input serializer that refuses unknown fields."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)

    def create(self, validated_data: Any) -> Any:  # pragma: no cover - never used
        raise TypeError("Input serializers do not save: call a service")

    def update(self, instance: Any, validated_data: Any) -> Any:  # pragma: no cover
        raise TypeError("Input serializers do not save: call a service")
