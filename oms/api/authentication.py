"""Session authentication whose CSRF failure is the API's problem JSON (`csrf_failed`), and
token authentication that reads a token, its user and their permissions once per process."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from oms.api.errors import CsrfFailed


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, the token and its user cached per process (oms.refdata).

    The cached user keeps Django's permission caches between requests; saving or deleting a
    user, a token, a group or a permission, or changing a user's groups or permissions, moves
    the reference data's version, so the next request reads them again. Unknown keys are never
    cached.
    """

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        from oms.refdata import cached

        model: Any = self.get_model()

        def load() -> tuple[Any, Any]:
            token = model.objects.select_related("user").get(key=key)
            return token.user, token

        try:
            user, token = cached(("api-token", key), load)
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return user, token


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
