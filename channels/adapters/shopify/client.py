"""The transport to one Shopify shop: credentials and headers, one GraphQL call through VendorHttp
under the shop's shared rate-limit key, the cost-bucket pacing (throttleStatus), GraphQL errors
read into RateLimited / TransientError / PermanentError, userErrors, and the webhook HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from channels.adapters.base import (
    AdapterContext,
    RateLimited,
    RateLimiter,
    VendorHttp,
    credential_flag,
    json_object,
)
from channels.adapters.shopify.mapping import text_value
from channels.adapters.shopify.queries import DEFAULT_PAGE_SIZE, ENDPOINT, MAX_PAGE_SIZE, OPERATION
from oms.errors import PermanentError, TransientError


def webhook_signature(secret: str, body: bytes) -> str:
    """What Shopify sends in X-Shopify-Hmac-Sha256 for `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def user_errors(errors: Any) -> list[dict[str, Any]]:
    return [e for e in errors or [] if isinstance(e, dict)]


def error_messages(errors: list[dict[str, Any]]) -> str:
    parts = []
    for error in errors:
        field = ".".join(str(f) for f in error.get("field") or [])
        message = text_value(error.get("message")) or text_value(error.get("code")) or "refused"
        parts.append(f"{field}: {message}" if field else message)
    return "; ".join(parts)


def answered(data: dict[str, Any], field: str) -> dict[str, Any]:
    """`data[field]` of a GraphQL answer, or PermanentError when it is missing."""
    payload = data.get(field)
    if not isinstance(payload, dict):
        raise PermanentError(f"Shopify answered without data.{field}.")
    return payload


def mutation_payload(
    data: dict[str, Any], field: str, what: str, *, errors: str = "userErrors"
) -> dict[str, Any]:
    """The payload of a mutation that must apply whole: its userErrors refuse `what`."""
    payload = answered(data, field)
    refused = user_errors(payload.get(errors))
    if refused:
        raise PermanentError(f"Shopify refused the {what}: {error_messages(refused)}")
    return payload


class ShopifyClient:
    """Credentials and the GraphQL transport of one shop (the adapter's base)."""

    vendor = "shopify"

    def __init__(self, context: AdapterContext, *, limiter: RateLimiter | None = None) -> None:
        self.context = context
        credentials = context.credentials or {}
        self.shop = text_value(credentials.get("shop"))
        self.access_token = text_value(credentials.get("access_token"))
        self.webhook_secret = text_value(credentials.get("webhook_secret"))
        self.location_id = text_value(credentials.get("location_id"))
        self.refund_on_cancel = bool(credential_flag(credentials.get("refund_on_cancel")))
        base_url = text_value(credentials.get("base_url"))
        if not base_url:
            if not self.shop:
                raise PermanentError(
                    f"Shopify channel {context.channel_code}: set the shop "
                    '(e.g. "acme.myshopify.com").'
                )
            base_url = f"https://{self.shop}"
        try:
            page_size = int(credentials.get("page_size") or DEFAULT_PAGE_SIZE)
        except (TypeError, ValueError):
            page_size = DEFAULT_PAGE_SIZE
        self.page_size = max(1, min(MAX_PAGE_SIZE, page_size))
        self.http = VendorHttp(
            vendor=self.vendor,
            account=self.shop or base_url,
            base_url=base_url,
            transport=context.transport,
            headers=self._headers,
            # No request count per second: Shopify meters query cost, and every answer says
            # how full the bucket is (`_pace` blocks the shared key when it runs dry).
            limits={},
            limiter=limiter,
        )

    def close(self) -> None:
        self.http.close()

    @property
    def _limiter_key(self) -> str:
        return f"{self.vendor}:{self.http.account}:{OPERATION}"

    def _headers(self) -> dict[str, str]:
        if not self.access_token:
            raise PermanentError(
                f"Shopify channel {self.context.channel_code}: no access_token is set."
            )
        return {
            "X-Shopify-Access-Token": self.access_token,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    # --- GraphQL ------------------------------------------------------------------------------

    def _graphql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        answer = json_object(
            self.http.request(
                OPERATION, "POST", ENDPOINT, json={"query": query, "variables": dict(variables)}
            ),
            "Shopify GraphQL answer",
        )
        cost = (answer.get("extensions") or {}).get("cost")
        errors = answer.get("errors")
        if errors:
            self._raise_for(errors, cost)
        self._pace(cost)
        data = answer.get("data")
        if not isinstance(data, dict):
            raise PermanentError("Shopify answered without GraphQL data.")
        return data

    def _wait_for(self, cost: Any) -> float | None:
        """Seconds until the cost bucket holds the last query's cost again (None: unknown)."""
        if not isinstance(cost, dict):
            return None
        status = cost.get("throttleStatus")
        if not isinstance(status, dict):
            return None
        try:
            available = float(status.get("currentlyAvailable") or 0)
            rate = float(status.get("restoreRate") or 0)
            needed = float(cost.get("requestedQueryCost") or 0)
        except (TypeError, ValueError):
            return None
        if rate <= 0:
            return None
        return max(0.0, (needed - available) / rate)

    def _pace(self, cost: Any) -> None:
        # The bucket cannot pay for another query like the last one: everyone waits for it.
        wait = self._wait_for(cost)
        if wait:
            self.http.limiter.block(self._limiter_key, wait)

    def _raise_for(self, errors: Any, cost: Any) -> None:
        items = errors if isinstance(errors, list) else [errors]
        codes = set()
        messages = []
        for item in items:
            if isinstance(item, dict):
                codes.add(text_value((item.get("extensions") or {}).get("code")).upper())
                messages.append(text_value(item.get("message")))
            else:
                messages.append(text_value(item))
        text = "; ".join(m for m in messages if m)[:500] or "error"
        if "THROTTLED" in codes or any(m.lower() == "throttled" for m in messages):
            wait = max(1.0, self._wait_for(cost) or 0.0)
            self.http.limiter.block(self._limiter_key, wait)
            raise RateLimited(f"Shopify throttled the query: {text}", retry_after=wait)
        if "INTERNAL_SERVER_ERROR" in codes:
            raise TransientError(f"Shopify GraphQL: {text}")
        if "MAX_COST_EXCEEDED" in codes:
            text += " (lower page_size in the channel's credentials)"
        raise PermanentError(f"Shopify GraphQL: {text}")
