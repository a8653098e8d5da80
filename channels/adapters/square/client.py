"""The transport to one Square seller: the bearer token, the pinned Square-Version, one
VendorHttp, the catalog look-up of SKUs (cached for the adapter's life), and the webhook HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from channels.adapters.base import (
    AdapterContext,
    RateLimiter,
    VendorHttp,
    chunks,
    credential_list,
    json_object,
)
from channels.adapters.square.api import (
    CATALOG_BATCH,
    DEFAULT_BASE_URL,
    LIMITS,
    SQUARE_VERSION,
    VENDOR,
)
from channels.adapters.square.mapping import text_value
from oms.errors import PermanentError


def webhook_signature(key: str, url: str, body: bytes) -> str:
    """What Square sends in x-square-hmacsha256-signature: the notification URL, then the body."""
    digest = hmac.new(key.encode("utf-8"), url.encode("utf-8") + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class SquareClient:
    """Credentials, the HTTP client and the SKU cache of one Square seller (the adapter's base).

    Credentials: access_token, location_ids, signature_key, optional square_version and
    base_url (the sandbox).
    """

    vendor = VENDOR

    def __init__(self, context: AdapterContext, *, limiter: RateLimiter | None = None) -> None:
        self.context = context
        credentials = context.credentials
        token = text_value(credentials.get("access_token"))
        if not token:
            raise PermanentError("Square: the access_token is required.")
        version = text_value(credentials.get("square_version")) or SQUARE_VERSION
        # A JSON list, or "L1,L2" as the admin's text-only credentials hold it.
        self.location_ids = credential_list(credentials.get("location_ids"))
        self.signature_key = str(credentials.get("signature_key") or "")
        self.sku_cache: dict[str, str] = {}
        self.http = VendorHttp(
            vendor=VENDOR,
            account=context.channel_code,
            base_url=text_value(credentials.get("base_url")).rstrip("/") or DEFAULT_BASE_URL,
            transport=context.transport,
            headers=lambda: {
                "Authorization": f"Bearer {token}",
                "Square-Version": version,
                "Accept": "application/json",
            },
            limits=LIMITS,
            limiter=limiter,
        )

    def close(self) -> None:
        self.http.close()

    def skus_for(self, object_ids: Iterable[str]) -> dict[str, str]:
        """catalog object id -> SKU of the item variation ("" when it has none)."""
        missing = sorted({i for i in object_ids if i and i not in self.sku_cache})
        for batch in chunks(missing, CATALOG_BATCH):
            answer = json_object(
                self.http.request(
                    "catalog",
                    "POST",
                    "/v2/catalog/batch-retrieve",
                    json={
                        "object_ids": list(batch),
                        "include_related_objects": False,
                        "include_deleted_objects": True,
                    },
                ),
                "Square BatchRetrieveCatalogObjects",
            )
            objects = answer.get("objects", [])
            if not isinstance(objects, list):
                raise PermanentError("Square BatchRetrieveCatalogObjects: `objects` is not a list.")
            for obj in objects:
                if not isinstance(obj, dict) or obj.get("type") != "ITEM_VARIATION":
                    continue
                data = obj.get("item_variation_data")
                sku = text_value(data.get("sku")) if isinstance(data, dict) else ""
                self.sku_cache[text_value(obj.get("id"))] = sku
            for object_id in batch:
                self.sku_cache.setdefault(object_id, "")
        return {i: self.sku_cache.get(i, "") for i in object_ids}
