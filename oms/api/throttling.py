"""The API budget: requests per token (per authenticated user), by staff role.

Invariants:
- every API request is counted once, before the permission check, so that refused requests
  spend the budget too and every answer of the API carries the RateLimit headers (the
  middleware oms.ratelimit.RateLimitMiddleware writes them); a spent budget is 429 problem JSON
  `throttled` with `Retry-After` (oms.api.exceptions);
- the budget of a user is the most generous of their roles' (OMS_API_RATE_MANAGER,
  _INTEGRATOR, _WAREHOUSE, _CUSTOMER_CARE; a superuser has the Manager's; a user without a
  role OMS_API_RATE_USER); requests without a user count per client address
  (OMS_API_RATE_ANONYMOUS);
- the counters live in the Django cache (Redis in production: shared by every web process),
  one round trip per request; a user's roles are read from the database at most once a
  minute per process (ROLE_TTL), so a change of groups applies within a minute.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from oms import ratelimit
from oms.clientip import address_key, client_ip
from oms.roles import CUSTOMER_CARE, INTEGRATOR, MANAGER, WAREHOUSE

ROLE_SETTINGS = {
    MANAGER: "OMS_API_RATE_MANAGER",
    INTEGRATOR: "OMS_API_RATE_INTEGRATOR",
    WAREHOUSE: "OMS_API_RATE_WAREHOUSE",
    CUSTOMER_CARE: "OMS_API_RATE_CUSTOMER_CARE",
}
USER_SETTING = "OMS_API_RATE_USER"
ANONYMOUS_SETTING = "OMS_API_RATE_ANONYMOUS"
#: Seconds a process trusts the roles it read for a user.
ROLE_TTL = 60.0

_roles: dict[int, tuple[float, frozenset[str]]] = {}
_roles_lock = threading.Lock()


def roles_forget() -> None:
    """Forget the roles read (tests change groups; operators never need to)."""
    with _roles_lock:
        _roles.clear()


def _user_roles(user: Any) -> frozenset[str]:
    now = time.monotonic()
    with _roles_lock:
        known = _roles.get(user.pk)
    if known is not None and known[0] > now:
        return known[1]
    roles = frozenset(user.groups.values_list("name", flat=True))
    with _roles_lock:
        if len(_roles) > 10_000:
            _roles.clear()
        _roles[user.pk] = (now + ROLE_TTL, roles)
    return roles


def _per_second(rate: ratelimit.Rate | None) -> float:
    return float("inf") if rate is None else rate.limit / rate.period


def budget_of(user: Any) -> tuple[str, ratelimit.Rate | None]:
    """(who, rate) of a request's user: the rate None means unlimited."""
    if user.is_superuser:
        return f"user:{user.pk}", ratelimit.rate_setting(ROLE_SETTINGS[MANAGER])
    names = [ROLE_SETTINGS[r] for r in _user_roles(user) if r in ROLE_SETTINGS] or [USER_SETTING]
    rates = [ratelimit.rate_setting(name) for name in names]
    return f"user:{user.pk}", max(rates, key=_per_second)


class RoleRateThrottle(BaseThrottle):
    """DRF throttle of the API budget (DEFAULT_THROTTLE_CLASSES). See the module docstring."""

    scope = "api"

    def __init__(self) -> None:
        self.usage: ratelimit.Usage | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        django_request = request._request
        counted = getattr(django_request, ratelimit.REQUEST_ATTRIBUTE, None)
        if counted is not None:  # counted already (the permission check ran it first)
            self.usage = counted
            return not counted.exceeded
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            who, rate = budget_of(user)
        else:
            who = address_key(client_ip(django_request))
            rate = ratelimit.rate_setting(ANONYMOUS_SETTING)
        if rate is None:
            return True
        self.usage = ratelimit.hit(self.scope, who, rate)
        if self.usage is None:
            return True
        setattr(django_request, ratelimit.REQUEST_ATTRIBUTE, self.usage)
        return not self.usage.exceeded

    def wait(self) -> float | None:
        return None if self.usage is None else float(self.usage.reset)


class BudgetFirstMixin:
    """Counts the request before the permission check (DRF checks permissions first), so a
    refused request spends budget and its answer carries the RateLimit headers too."""

    def check_permissions(self, request: Request) -> None:
        self.check_throttles(request)  # type: ignore[attr-defined]
        super().check_permissions(request)  # type: ignore[misc]
