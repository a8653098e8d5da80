"""Vendor HTTP plumbing shared by the carrier and channel adapters: header look-up, signatures,
dates, Retry-After. No app specifics: it is kernel, importable from every layer."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import unicodedata
from collections.abc import Mapping

from oms.errors import PermanentError


def header(headers: Mapping[str, str], name: str) -> str:
    """A header by name whatever its case (Django's request.headers, a dict, httpx.Headers)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return str(value)
    return ""


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    # NFKD as EasyPost's own clients normalise the secret before signing.
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def check_signature(*, given: str, expected: str, what: str) -> None:
    """Raise PermanentError unless `given` equals `expected` (constant time)."""
    if not given or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise PermanentError(f"{what}: the signature does not match.")


def parse_datetime(value: object) -> dt.datetime | None:
    """An ISO 8601 timestamp (a trailing Z allowed) as an aware datetime; naive means UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def retry_after_seconds(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())
