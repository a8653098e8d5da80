"""The API's own errors beyond DRF's (kept apart from oms.api.exceptions, which imports DRF's
views: the parser and the authentication class are imported while DRF's views load)."""

from __future__ import annotations

from rest_framework import exceptions


class BodyTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "body_too_large"
    default_detail = "The request body is too large."


class JsonTooDeep(exceptions.ParseError):
    default_code = "json_too_deep"
    default_detail = "The JSON document is nested too deeply."


class CsrfFailed(exceptions.PermissionDenied):
    default_code = "csrf_failed"
    default_detail = "CSRF check failed: send the X-CSRFToken header, or use a token."
