"""One exception handler for the whole API: every error is RFC 9457 problem JSON with a `code`.

Invariant: the body always has type, title, status, detail, code and errors (field path ->
messages); 400 invalid input, 401 unauthenticated, 403 forbidden, 404 unknown object, 409 conflict.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from oms.errors import DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"
# A URN: a stable, non-dereferenceable identifier of the problem type (RFC 9457 section 3.1.1).
PROBLEM_TYPE_BASE = "urn:oms:problem:"

_DRF_CODES = {
    exceptions.ValidationError: "invalid",
    exceptions.ParseError: "parse_error",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def flatten_errors(detail: Any) -> dict[str, list[str]]:
    """Turn DRF's nested error detail into {"lines.0.sku": ["message"], ...}."""
    flat: dict[str, list[str]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                name = str(key)
                if name in ("non_field_errors", "__all__"):
                    walk(value, path)
                else:
                    walk(value, f"{path}.{name}" if path else name)
        elif isinstance(node, list) and any(isinstance(item, dict | list) for item in node):
            for index, item in enumerate(node):
                if item:
                    walk(item, f"{path}.{index}" if path else str(index))
        else:
            items = node if isinstance(node, list) else [node]
            flat.setdefault(path or "non_field_errors", []).extend(str(i) for i in items)

    walk(detail, "")
    return flat


def problem_response(
    *,
    request: Any = None,
    status_code: int,
    code: str,
    title: str,
    detail: str,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
        "errors": errors or {},
    }
    renderer = getattr(request, "accepted_renderer", None)
    # The browsable API renders HTML for people; machines get problem JSON.
    is_html = renderer is not None and getattr(renderer, "format", "") == "api"
    return Response(
        body,
        status=status_code,
        headers=headers,
        content_type=None if is_html else PROBLEM_CONTENT_TYPE,
    )


def _drf_code(exc: exceptions.APIException) -> str:
    for klass in type(exc).__mro__:
        if klass in _DRF_CODES:
            return _DRF_CODES[klass]
    return str(exc.default_code)


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    if isinstance(exc, DomainError):
        set_rollback()
        return problem_response(
            request=request,
            status_code=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            errors=exc.errors,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: let Django answer 500 and log it

    set_rollback()
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = str(exc.auth_header)  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]

    code = _drf_code(exc)
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        detail = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
        title = "Invalid input"
    else:
        errors = {}
        detail = str(exc.detail)
        title = str(getattr(exc, "default_detail", detail))
    return problem_response(
        request=request,
        status_code=exc.status_code,
        code=code,
        title=title,
        detail=detail,
        errors=errors,
        headers=headers,
    )


def api_not_found(request: Any, *args: Any, **kwargs: Any) -> Any:
    """Unknown paths under /api/ answer problem JSON too, not Django's HTML page."""
    from django.http import JsonResponse

    return JsonResponse(
        {
            "type": PROBLEM_TYPE_BASE + "not_found",
            "title": "Not found",
            "status": 404,
            "detail": f"No API endpoint at {request.path}.",
            "code": "not_found",
            "errors": {},
        },
        status=404,
        content_type=PROBLEM_CONTENT_TYPE,
    )
