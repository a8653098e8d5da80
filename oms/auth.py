"""The admin login lockout (django-axes) as the OMS uses it.

Invariants:
- failed back-office logins are counted per (username, client address) (oms.clientip, so
  OMS_TRUSTED_PROXIES applies); after OMS_LOGIN_FAILURE_LIMIT failures with no pause of
  OMS_LOGIN_COOLOFF_MINUTES between them, that username is locked out from that address for
  OMS_LOGIN_COOLOFF_MINUTES, even with the right password; a success clears the count;
- the lockout answers 429 with `Retry-After` and an English page; `manage.py axes_reset`
  (or `axes_reset_username`, `axes_reset_ip`) lifts it;
- only logins through a request are watched: API tokens never authenticate through a backend,
  and `authenticate()` without a request (tests' `client.login`, scripts) is neither counted
  nor refused.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


class LoginLockoutBackend(AxesStandaloneBackend):
    """Axes' lockout check, skipped for an authenticate() that carries no request."""

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> Any:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429, Retry-After and the English lockout page."""
    minutes = int(settings.OMS_LOGIN_COOLOFF_MINUTES)
    response = render(
        request,
        "admin/lockout.html",
        {
            "title": "Too many failed logins",
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "cooloff_minutes": minutes,
            "site_header": "OMS back office",
        },
        status=429,
    )
    response["Retry-After"] = str(minutes * 60)
    response["Cache-Control"] = "private, no-cache, max-age=0"
    return response
