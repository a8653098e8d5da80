"""Request budgets counted in the cache: per API user (oms.api.throttling) and per client
address for the public pages and webhooks (RateLimitMiddleware below).

Invariants:
- a budget is a fixed window: N requests per period, the window aligned on the clock, its
  counter a cache key named after the window (`rl:<scope>:<who>:<period>:<window>`), so a new
  window starts from zero without anyone resetting it and an old counter simply expires;
- counting is one cache round trip: with Redis (REDIS_URL) one pipeline of INCR and EXPIRE (and
  the GETs of counters only looked at); every web process shares the counters, so the budget is
  the same whichever process answers; with the local-memory cache (development, tests) the
  counters are per process;
- the cache being down never fails a request: the request goes through uncounted (and is
  logged), because a budget protects the service and must not become its outage;
- every answer that was counted carries `RateLimit-Limit`, `RateLimit-Remaining` and
  `RateLimit-Reset` (seconds until the window ends; the draft-ietf-httpapi-ratelimit-headers
  fields); a refused one is 429 with `Retry-After`;
- public rules (RateLimitMiddleware): every /webhooks/ request counts against
  OMS_RATE_WEBHOOKS (429 problem JSON); every /track/ request against OMS_RATE_TRACKING, its
  POSTs of the return form also against OMS_RATE_RETURN_FORM, and its 404s against
  OMS_RATE_TRACKING_NOT_FOUND: once an address spent that, every /track/ page answers it 429
  until the window ends, found or not, so guessing tokens gains nothing (HTML pages).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from oms.clientip import address_key, client_ip
from oms.env import parse_rate

logger = logging.getLogger(__name__)

PREFIX = "rl"
#: The request attribute that carries the budget of an answer to the middleware (headers).
REQUEST_ATTRIBUTE = "oms_rate_limit"
PROBLEM_CONTENT_TYPE = "application/problem+json"

#: The clock of the windows (a function so that tests can move time on).
clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds

    @classmethod
    def of(cls, text: str) -> Rate | None:
        return _parsed(text)


@dataclass(frozen=True)
class Usage:
    """A budget after this request: how many the window allows, used, and when it ends."""

    limit: int
    used: int
    reset: int  # seconds until the window ends (at least 1)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


@lru_cache(maxsize=64)
def _parsed(text: str) -> Rate | None:
    parsed = parse_rate(text)
    return None if parsed is None else Rate(*parsed)


def rate_setting(name: str) -> Rate | None:
    return Rate.of(str(getattr(settings, name)))


def _window(rate: Rate, now: float) -> tuple[int, int]:
    index = int(now // rate.period)
    reset = max(1, math.ceil((index + 1) * rate.period - now))
    return index, reset


def counter_key(scope: str, who: str, rate: Rate, now: float | None = None) -> str:
    index, _ = _window(rate, clock() if now is None else now)
    return f"{PREFIX}:{scope}:{who}:{rate.period}:{index}"


def _backend() -> BaseCache:
    """The cache itself (django.core.cache.cache is a proxy: isinstance() cannot see Redis)."""
    return caches[DEFAULT_CACHE_ALIAS]


def _redis_client(cache: BaseCache, key: str) -> Any:
    return cache._cache.get_client(key, write=True)  # type: ignore[attr-defined]


def _count(increments: Sequence[tuple[str, int]], peeks: Sequence[str]) -> list[int]:
    """INCR each (key, ttl) and GET each peeked key, in one round trip where the cache can."""
    cache = _backend()
    if isinstance(cache, RedisCache):
        keys = [cache.make_and_validate_key(k) for k, _ in increments]
        peek_keys = [cache.make_and_validate_key(k) for k in peeks]
        pipe = _redis_client(cache, keys[0] if keys else peek_keys[0]).pipeline(transaction=False)
        for key, (_, ttl) in zip(keys, increments, strict=True):
            pipe.incr(key)
            pipe.expire(key, ttl)
        for key in peek_keys:
            pipe.get(key)
        results = pipe.execute()
        counts = [int(results[2 * i]) for i in range(len(keys))]
        return counts + [int(v) if v is not None else 0 for v in results[2 * len(keys) :]]
    counts = []
    for key, ttl in increments:
        try:
            counts.append(cache.incr(key))
        except ValueError:
            if cache.add(key, 1, timeout=ttl):
                counts.append(1)
            else:
                counts.append(cache.incr(key))
    peeked = cache.get_many(list(peeks)) if peeks else {}
    return counts + [int(peeked.get(k) or 0) for k in peeks]


Budget = tuple[str, str, Rate]  # (scope, who, rate)


def hit_many(
    counted: Sequence[Budget], peeked: Sequence[Budget] = ()
) -> tuple[list[Usage], list[Usage]] | None:
    """Count one request against each budget of `counted` and read those of `peeked`, in one
    cache round trip. None when the cache could not be reached (nothing counted)."""
    now = clock()
    increments = [(counter_key(s, w, r, now), r.period + 1) for s, w, r in counted]
    peeks = [counter_key(s, w, r, now) for s, w, r in peeked]
    try:
        numbers = _count(increments, peeks)
    except Exception:  # the cache is down: serve uncounted rather than fail
        logger.warning("Rate limits %s not counted: the cache cannot be reached", counted)
        return None
    budgets = [*counted, *peeked]
    usages = [
        Usage(r.limit, n, _window(r, now)[1]) for (_, _, r), n in zip(budgets, numbers, strict=True)
    ]
    return usages[: len(counted)], usages[len(counted) :]


def hit(scope: str, who: str, rate: Rate) -> Usage | None:
    """Count one request (or event) of `who` against `rate`; None when not counted."""
    result = hit_many([(scope, who, rate)])
    return None if result is None else result[0][0]


def reset(*, who: str | None = None) -> int:
    """Forget the counters of `who` (an address key or "user:<id>"), or all of them.
    Returns how many counters were removed (for Redis; the local cache answers 0 or 1)."""
    pattern = f"{PREFIX}:*:{who}:*" if who else f"{PREFIX}:*"
    cache = _backend()
    if isinstance(cache, RedisCache):
        full = cache.make_and_validate_key(pattern)
        client = _redis_client(cache, full)
        keys = list(client.scan_iter(match=full, count=1000))
        return int(client.delete(*keys)) if keys else 0
    if isinstance(cache, LocMemCache):
        regex = re.compile(
            "^" + re.escape(cache.make_key(pattern)).replace(r"\*", ".*") + "$", re.DOTALL
        )
        store = cache._cache  # type: ignore[attr-defined]
        with cache._lock:  # type: ignore[attr-defined]
            doomed = [k for k in store if regex.match(k)]
            for key in doomed:
                store.pop(key, None)
                cache._expire_info.pop(key, None)  # type: ignore[attr-defined]
        return len(doomed)
    return 0  # another backend: its counters expire with their window


# --- the public pages and webhooks, per client address -----------------------------------------


@dataclass(frozen=True)
class AddressRule:
    scope: str
    setting: str
    pattern: re.Pattern[str]
    methods: frozenset[str] | None = None  # None: every method

    def applies(self, request: HttpRequest) -> bool:
        if self.methods is not None and request.method not in self.methods:
            return False
        return bool(self.pattern.match(request.path_info))


WEBHOOKS = AddressRule("webhooks", "OMS_RATE_WEBHOOKS", re.compile(r"^/webhooks/"))
TRACKING = AddressRule("tracking", "OMS_RATE_TRACKING", re.compile(r"^/track/"))
RETURN_FORM = AddressRule(
    "return_form",
    "OMS_RATE_RETURN_FORM",
    re.compile(r"^/track/[^/]+/return/$"),
    frozenset({"POST"}),
)
#: Not counted per request: per 404 answer of a /track/ page (see the module docstring).
TRACKING_NOT_FOUND = AddressRule(
    "tracking_404", "OMS_RATE_TRACKING_NOT_FOUND", re.compile(r"^/track/")
)


def too_many_response(request: HttpRequest, usage: Usage, *, problem: bool) -> HttpResponse:
    """429 with Retry-After: problem JSON for machines, a short page for shoppers."""
    detail = f"Too many requests from this address. Try again in {usage.reset} seconds."
    response: HttpResponse
    if problem:
        response = JsonResponse(
            {
                "type": "urn:oms:problem:throttled",
                "title": "Too many requests",
                "status": 429,
                "detail": detail,
                "code": "throttled",
                "errors": {},
            },
            status=429,
            content_type=PROBLEM_CONTENT_TYPE,
        )
    else:
        html = render_to_string(
            "ratelimit/too_many.html", {"retry_after": usage.reset}, request=request
        )
        response = HttpResponse(html, status=429)
        response["Cache-Control"] = "private, no-cache, max-age=0"
        response["X-Robots-Tag"] = "noindex, nofollow, noarchive"
    response["Retry-After"] = str(usage.reset)
    return response


class RateLimitMiddleware:
    """Applies the per-address rules and writes the RateLimit headers of every counted answer
    (the API's come from oms.api.throttling through the request)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refused = self._check(request)
        response = refused or self.get_response(request)
        if (
            refused is None
            and response.status_code == 404
            and TRACKING_NOT_FOUND.applies(request)
            and (rate := rate_setting(TRACKING_NOT_FOUND.setting)) is not None
        ):
            hit(TRACKING_NOT_FOUND.scope, self._who(request), rate)
        usage: Usage | None = getattr(request, REQUEST_ATTRIBUTE, None)
        if usage is not None:
            for name, value in usage.headers().items():
                response[name] = value
        return response

    @staticmethod
    def _who(request: HttpRequest) -> str:
        return address_key(client_ip(request))

    def _check(self, request: HttpRequest) -> HttpResponse | None:
        path = request.path_info
        if not (path.startswith("/track/") or path.startswith("/webhooks/")):
            return None
        who = self._who(request)
        problem = path.startswith("/webhooks/")
        rules = [r for r in (WEBHOOKS, TRACKING, RETURN_FORM) if r.applies(request)]
        counted = [(r, rate) for r in rules if (rate := rate_setting(r.setting)) is not None]
        not_found = rate_setting(TRACKING_NOT_FOUND.setting)
        peeks = (
            [(TRACKING_NOT_FOUND.scope, who, not_found)]
            if not_found is not None and TRACKING_NOT_FOUND.applies(request)
            else []
        )
        if not counted and not peeks:
            return None
        result = hit_many([(r.scope, who, rate) for r, rate in counted], peeks)
        if result is None:
            return None
        usages, peeked = result
        # The headers show the tightest budget counted; a spent 404 budget refuses the page.
        if usages:
            setattr(request, REQUEST_ATTRIBUTE, min(usages, key=lambda u: u.remaining))
        spent = [u for u in usages if u.exceeded] + [u for u in peeked if u.used >= u.limit]
        if spent:
            worst = max(spent, key=lambda u: u.reset)
            return too_many_response(request, worst, problem=problem)
        return None
