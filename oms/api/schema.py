"""The API's OpenAPI schema tells the truth about errors: every operation documents the problem
JSON (RFC 9457, oms/api/exceptions.py) of the statuses it can answer.

Every operation can answer 400 (a bad query or body), 401, 403, 429 (rate limits, with
Retry-After) and 503 (the database is unavailable); an operation on one object, and a list read
with a stale cursor, 404; a write 409 (a state that forbids it), 413 (a body over the limit) and
415 (a body that is not JSON). Responses an operation documents itself win.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from oms.api.exceptions import PROBLEM_CONTENT_TYPE
from oms.api.serializers import InputSerializer


class ProblemSerializer(serializers.Serializer):
    """An error: RFC 9457 problem details with a stable `code`."""

    type = serializers.CharField(help_text="urn:oms:problem:<code>")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(
        help_text="Stable machine-readable code: invalid, not_found, order_on_hold, ..."
    )
    errors = serializers.DictField(  # type: ignore[assignment]  # the body's field "errors"
        child=serializers.ListField(child=serializers.CharField()),
        help_text='Field path -> messages, e.g. {"lines.0.sku": ["Unknown SKU."]}',
    )

    class Meta:
        ref_name = "Problem"


_ALWAYS = {
    "400": "Invalid input: the body, a path or query parameter (`errors` names each field).",
    "401": "No valid credentials (`Authorization: Token <key>`).",
    "403": "The credentials lack the permission for this operation.",
    "429": "Too many requests: retry after the `Retry-After` header's seconds.",
    "503": "The database is unavailable for a moment: retry later.",
}
_NOT_FOUND = {"404": "No such object (or a stale pagination cursor, or a referenced object)."}
_WRITES = {
    "409": "The object's state forbids this change (`code` says why, e.g. `order_on_hold`).",
    "413": "The request body is over the size limit.",
    "415": "The request body is not JSON.",
}


class AutoSchema(SpectacularAutoSchema):
    def _map_serializer_field(self, field: Any, direction: Any, bypass_extensions: bool = False):
        result: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            isinstance(field, serializers.URLField)
            and (field.allow_blank or field.read_only)
            and "format" in result
        ):
            # A URL, or "" when there is none (never null): both are what the API writes.
            uri = {k: v for k, v in result.items() if k not in ("readOnly", "writeOnly")}
            rest = {k: v for k, v in result.items() if k in ("readOnly", "writeOnly")}
            result = {"anyOf": [uri, {"type": "string", "maxLength": 0}], **rest}
        return result

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        result: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, InputSerializer):
            result["additionalProperties"] = False  # unknown fields are refused, by name
        return result

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        errors = dict(_ALWAYS)
        if self.method == "GET" or "{" in self.path:
            errors.update(_NOT_FOUND)
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            errors.update(_WRITES)
            errors.update(_NOT_FOUND)
        for code, description in sorted(errors.items()):
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ProblemSerializer, description=description),
                    code,
                    [PROBLEM_CONTENT_TYPE],
                    direction,
                )
        return responses


def query_parameters_may_be_empty(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: a filter's query parameter sent empty (`?status=`, as an HTML form
    sends every field) means "not given"; a non-empty value must be valid. Pagination's own
    parameters (`cursor`, `page_size`) have no empty meaning, nor has a required parameter
    (an empty one is refused as missing)."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if (
                    parameter.get("in") == "query"
                    and parameter["name"] not in ("cursor", "page_size")
                    and not parameter.get("required")
                ):
                    parameter["allowEmptyValue"] = True
    return result
