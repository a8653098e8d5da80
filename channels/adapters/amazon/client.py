"""The transport to SP-API for one seller: the LWA access token (refresh-token grant, cached
through save_credentials, refreshed before it expires and on a rejected token) and the HTTP
clients, with Amazon's rate limits per operation."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx

from channels.adapters.amazon.api import (
    DEFAULT_BASE_URL,
    DEFAULT_LWA_URL,
    LIMITS,
    REFILL_SECONDS,
    TOKEN_MARGIN,
)
from channels.adapters.amazon.mapping import text_value
from channels.adapters.base import AdapterContext, RateLimiter, VendorHttp, json_object
from oms.errors import PermanentError
from oms.vendor_http import parse_datetime

# --- HTTP ----------------------------------------------------------------------------------------


def _token_rejected(response: httpx.Response) -> bool:
    """Whether a 403 says the access token is expired, revoked or invalid (SP-API's ErrorList)."""
    try:
        body = response.json()
    except ValueError:
        return False
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue
        said = f"{error.get('message') or ''} {error.get('details') or ''}".lower()
        if error.get("code") == "Unauthorized" or "access token" in said or "expired" in said:
            return True
    return False


class _SpApiHttp(VendorHttp):
    """VendorHttp with SP-API's two quirks: an expired token is a 403 `Unauthorized` (handled as
    the 401 VendorHttp refreshes on, once), and a 429 often comes without Retry-After (the
    operation's documented refill interval is used then)."""

    _op = ""

    def request(
        self, op: str, method: str, url: str, *, expect_json: bool = True, **kwargs: Any
    ) -> Any:
        self._op = op
        return super().request(op, method, url, expect_json=expect_json, **kwargs)

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = super()._send(method, url, **kwargs)
        if response.status_code == 403 and _token_rejected(response):
            response.status_code = 401
        elif response.status_code == 429 and "Retry-After" not in response.headers:
            wait = REFILL_SECONDS.get(self._op)
            if wait:
                response.headers["Retry-After"] = f"{wait:g}"
        return response


class AmazonClient:
    """Credentials, the LWA token and the HTTP clients of one seller (the adapter's base)."""

    vendor = "amazon"

    def __init__(self, context: AdapterContext, *, limiter: RateLimiter | None = None) -> None:
        self.context = context
        self.credentials = dict(context.credentials)
        account = text_value(self.credentials.get("seller_id")) or context.channel_code
        self.http = _SpApiHttp(
            vendor=self.vendor,
            account=account,
            base_url=text_value(self.credentials.get("base_url")) or DEFAULT_BASE_URL,
            transport=context.transport,
            headers=self._auth_headers,
            on_unauthorised=self._on_unauthorised,
            limits=LIMITS,
            limiter=limiter,
        )
        self.lwa_url = text_value(self.credentials.get("lwa_url")) or DEFAULT_LWA_URL
        self.lwa = VendorHttp(
            vendor=self.vendor,
            account=account,
            base_url=self.lwa_url,
            transport=context.transport,
            limiter=limiter,
        )

    def close(self) -> None:
        self.http.close()
        self.lwa.close()

    # --- credentials and the LWA token ----------------------------------------------------------

    def _required(self, name: str) -> str:
        value = text_value(self.credentials.get(name))
        if not value:
            raise PermanentError(f"Amazon channel {self.context.channel_code}: no {name} is set.")
        return value

    def _token_expiry(self) -> float:
        raw = self.credentials.get("access_token_expires_at")
        if isinstance(raw, int | float):
            return float(raw)
        moment = parse_datetime(raw)
        return moment.timestamp() if moment else 0.0

    def _auth_headers(self) -> dict[str, str]:
        token = text_value(self.credentials.get("access_token"))
        if not token or self._token_expiry() - TOKEN_MARGIN <= time.time():
            token = self._refresh_token()
        return {"x-amz-access-token": token, "Accept": "application/json"}

    def _on_unauthorised(self) -> None:
        """The API refused our token (401, or 403 Unauthorized): fetch a new one, once."""
        self._refresh_token()

    def _refresh_token(self) -> str:
        """Exchange the refresh token for an access token and save both with its expiry."""
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._required("refresh_token"),
            "client_id": self._required("client_id"),
            "client_secret": self._required("client_secret"),
        }
        answer = json_object(
            self.lwa.request("lwa_token", "POST", self.lwa_url, data=form), "Amazon LWA token"
        )
        token = text_value(answer.get("access_token"))
        if not token:
            raise PermanentError("Amazon LWA answered without an access_token.")
        try:
            lifetime = float(answer.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=lifetime)
        self.credentials["access_token"] = token
        self.credentials["access_token_expires_at"] = expires.isoformat(timespec="seconds")
        self.context.save_credentials(dict(self.credentials))
        return token
