"""The transport to one WooCommerce store: the store's address (HTTPS unless on a loopback
host), the consumer key and secret as HTTP basic auth, one VendorHttp, numeric ids, JSON answers,
and the webhook HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

import httpx

from channels.adapters.base import AdapterContext, RateLimiter, VendorHttp
from channels.adapters.woocommerce.api import LIMITS, LOOPBACK_HOSTS, VENDOR
from channels.adapters.woocommerce.mapping import text_value
from oms.errors import PermanentError


def webhook_signature(secret: str, body: bytes) -> str:
    """What WooCommerce sends in X-WC-Webhook-Signature for `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def numeric_id(value: str, what: str) -> int:
    """A positive numeric Woo id (an order, a page number); PermanentError otherwise."""
    text = text_value(value)
    if not text.isdigit() or int(text) <= 0:
        raise PermanentError(f"WooCommerce {what} {value!r} is not a numeric id.")
    return int(text)


def json_answer(response: httpx.Response, what: str) -> Any:
    """The JSON of an answer read with expect_json=False (its headers are needed too)."""
    try:
        return response.json()
    except ValueError:
        raise PermanentError(
            f"WooCommerce {what}: the answer is not JSON: {response.text[:200]!r}"
        ) from None


class WooCommerceClient:
    """Credentials and the HTTP client of one WooCommerce store (the adapter's base).

    Credentials: base_url, consumer_key, consumer_secret, webhook_secret.
    """

    vendor = VENDOR

    def __init__(self, context: AdapterContext, *, limiter: RateLimiter | None = None) -> None:
        self.context = context
        credentials = context.credentials
        base_url = text_value(credentials.get("base_url")).rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PermanentError("WooCommerce: set the store's address (credentials base_url).")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            raise PermanentError(
                "WooCommerce: the store must be reached over HTTPS (the API keys go as basic auth)."
            )
        key = text_value(credentials.get("consumer_key"))
        secret = text_value(credentials.get("consumer_secret"))
        if not key or not secret:
            raise PermanentError("WooCommerce: consumer_key and consumer_secret are required.")
        token = base64.b64encode(f"{key}:{secret}".encode()).decode("ascii")
        self.webhook_secret = str(credentials.get("webhook_secret") or "")
        self.http = VendorHttp(
            vendor=VENDOR,
            account=context.channel_code,
            base_url=base_url,
            transport=context.transport,
            headers=lambda: {"Authorization": f"Basic {token}", "Accept": "application/json"},
            limits=LIMITS,
            limiter=limiter,
        )

    def close(self) -> None:
        self.http.close()
