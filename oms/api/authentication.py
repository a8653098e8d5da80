"""Session authentication whose CSRF failure is the API's problem JSON (`csrf_failed`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from oms.api.errors import CsrfFailed


class SessionAuthentication(authentication.SessionAuthentication):
    def enforce_csrf(self, request: Any) -> None:
        try:
            super().enforce_csrf(request)
        except exceptions.PermissionDenied as exc:
            raise CsrfFailed(str(exc.detail)) from None


class SessionScheme(OpenApiAuthenticationExtension):
    """The schema's cookie scheme for this class (drf-spectacular knows DRF's own only)."""

    target_class = "oms.api.authentication.SessionAuthentication"
    name = "cookieAuth"
    priority = -1

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
