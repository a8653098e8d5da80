"""The transport to one eBay seller: the OAuth user token (refresh-token grant, cached through
save_credentials, refreshed before it expires and once on a 401), the application token
(client-credentials grant, cached) and one VendorHttp per way of authenticating."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from django.core.cache import cache

from channels.adapters.base import AdapterContext, RateLimiter, VendorHttp, json_object
from channels.adapters.ebay.api import (
    APPLICATION_SCOPE,
    DEFAULT_BASE_URL,
    DEFAULT_LIMITS,
    DEFAULT_MARKETPLACE,
    ORDERS_PATH,
    TOKEN_PATH,
    TOKEN_SKEW,
)
from channels.adapters.ebay.mapping import ebay_timestamp
from oms.errors import PermanentError
from oms.vendor_http import parse_datetime


class EbayClient:
    """Credentials, tokens and the HTTP clients of one eBay seller (the adapter's base).

    Credentials: client_id, client_secret, refresh_token, scope (optional, space separated),
    base_url (optional), marketplace_id (optional, for the Post-Order API; EBAY_US), and the
    cached access_token with access_token_expires_at (ISO 8601) that the adapter maintains.
    """

    vendor = "ebay"

    def __init__(
        self,
        context: AdapterContext,
        *,
        limiter: RateLimiter | None = None,
        limits: Mapping[str, float] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.context = context
        self.credentials: dict[str, Any] = dict(context.credentials or {})
        self.base_url = str(self.credentials.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.marketplace = str(self.credentials.get("marketplace_id") or DEFAULT_MARKETPLACE)
        self.now = now
        self._limiter = limiter or RateLimiter()
        self._limits = dict(DEFAULT_LIMITS if limits is None else limits)
        # One client per way of authenticating: none (the token endpoint), the seller's user
        # token as Bearer (Sell APIs) or as IAF (Post-Order API), and the application token
        # (getPublicKey). Each refreshes its own token on a 401.
        self._identity = self._client(headers=None, on_unauthorised=None)
        self.http = self._client(headers=self._bearer_headers, on_unauthorised=self._refresh)
        self._post_order = self._client(headers=self._iaf_headers, on_unauthorised=self._refresh)
        self._app = self._client(headers=self._app_headers, on_unauthorised=self._drop_app_token)

    def _client(
        self,
        *,
        headers: Callable[[], Mapping[str, str]] | None,
        on_unauthorised: Callable[[], None] | None,
    ) -> VendorHttp:
        return VendorHttp(
            vendor=self.vendor,
            account=self.context.channel_code,
            base_url=self.base_url,
            transport=self.context.transport,
            headers=headers,
            on_unauthorised=on_unauthorised,
            limits=self._limits,
            limiter=self._limiter,
        )

    def close(self) -> None:
        for client in (self._identity, self.http, self._post_order, self._app):
            client.close()

    # --- tokens ---------------------------------------------------------------------------------

    def _secret(self, name: str) -> str:
        value = str(self.credentials.get(name) or "")
        if not value:
            raise PermanentError(f"eBay channel {self.context.channel_code}: no {name} is set.")
        return value

    def _token_grant(self, form: dict[str, str]) -> tuple[str, float]:
        answer = json_object(
            self._identity.request(
                "token",
                "POST",
                TOKEN_PATH,
                data=form,
                auth=(self._secret("client_id"), self._secret("client_secret")),
                headers={"Accept": "application/json"},
            ),
            "eBay token",
        )
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise PermanentError("eBay token: the answer has no access_token.")
        try:
            lifetime = float(answer.get("expires_in") or 7200)
        except (TypeError, ValueError):
            lifetime = 7200.0
        return token, self.now() + lifetime

    def _expires_at(self) -> float:
        value = self.credentials.get("access_token_expires_at")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        moment = parse_datetime(value)
        return moment.timestamp() if moment is not None else 0.0

    def _refresh(self) -> None:
        """Exchange the refresh token for a new user token and persist it."""
        form = {"grant_type": "refresh_token", "refresh_token": self._secret("refresh_token")}
        scope = " ".join(str(self.credentials.get("scope") or "").split())
        if scope:
            form["scope"] = scope
        token, expires_at = self._token_grant(form)
        self.credentials["access_token"] = token
        self.credentials["access_token_expires_at"] = ebay_timestamp(
            dt.datetime.fromtimestamp(expires_at, tz=dt.UTC)
        )
        self.context.save_credentials(dict(self.credentials))

    def _user_token(self) -> str:
        token = self.credentials.get("access_token")
        if not token or self._expires_at() - TOKEN_SKEW <= self.now():
            self._refresh()
            token = self.credentials["access_token"]
        return str(token)

    def _bearer_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._user_token()}", "Accept": "application/json"}

    def _iaf_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"IAF {self._user_token()}",
            "X-EBAY-C-MARKETPLACE-ID": self.marketplace,
            "Accept": "application/json",
        }

    def _app_token_key(self) -> str:
        client = hashlib.sha256(f"{self.base_url}|{self._secret('client_id')}".encode()).hexdigest()
        return f"ebay:app-token:{client[:32]}"

    def _app_headers(self) -> dict[str, str]:
        key = self._app_token_key()
        token = cache.get(key)
        if not token:
            token, expires_at = self._token_grant(
                {"grant_type": "client_credentials", "scope": APPLICATION_SCOPE}
            )
            cache.set(key, token, timeout=max(1, int(expires_at - self.now() - TOKEN_SKEW)))
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def _drop_app_token(self) -> None:
        cache.delete(self._app_token_key())

    # --- one order (read by pulls, webhooks and pushes) ---------------------------------------

    def _order(self, order_id: str) -> dict[str, Any]:
        return json_object(
            self.http.request(
                "order",
                "GET",
                f"{ORDERS_PATH}/{quote(order_id, safe='')}",
                params={"fieldGroups": "TAX_BREAKDOWN"},
            ),
            "eBay getOrder",
        )
