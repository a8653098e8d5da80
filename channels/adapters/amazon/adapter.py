"""The Amazon channel adapter (channels.adapters.base.ChannelAdapter): order pulls (searchOrders)
and webhooks (none: Amazon notifies through SQS); the mapper, the pushes and the transport come
from its bases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from channels.adapters.amazon.api import INCLUDED_DATA, ORDERS_PATH, PAGE_SIZE
from channels.adapters.amazon.mapping import AmazonMapping, iso_utc, text_value
from channels.adapters.amazon.pushes import AmazonPushes
from channels.adapters.base import NotSupported, OrderPage, WebhookDelivery, json_object
from oms.errors import PermanentError


class AmazonAdapter(AmazonPushes, AmazonMapping):
    """SP-API for one seller account in one marketplace. See channels.adapters.amazon.

    Credentials: refresh_token, client_id, client_secret, seller_id, marketplace_id; optional
    base_url (SP-API regional endpoint), lwa_url, product_type (of patchListingsItem),
    prices_include_tax (else decided by the order's amounts, then the marketplace), and the
    cached access_token with its access_token_expires_at.
    """

    # --- orders ---------------------------------------------------------------------------------

    def orders_page(self, *, since: dt.datetime, page: str | None) -> OrderPage:
        after = iso_utc(since)
        token = None
        if page:
            issued_for, sep, rest = page.partition("|")
            after, token = (issued_for, rest) if sep else (after, page)
        params: dict[str, Any] = {
            "lastUpdatedAfter": after,
            "marketplaceIds": self._required("marketplace_id"),
            "includedData": ",".join(INCLUDED_DATA),
            "maxResultsPerPage": PAGE_SIZE,
        }
        if token:
            params["paginationToken"] = token
        answer = json_object(
            self.http.request("searchOrders", "GET", ORDERS_PATH, params=params),
            "Amazon searchOrders",
        )
        records = answer.get("orders")
        if not isinstance(records, list):
            raise PermanentError("Amazon searchOrders: the answer has no `orders` list.")
        result = self._map_all(records)
        pagination = answer.get("pagination")
        next_token = text_value(pagination.get("nextToken")) if isinstance(pagination, dict) else ""
        result.next_page = f"{after}|{next_token}" if next_token else None
        return result

    # --- webhooks -------------------------------------------------------------------------------

    def webhook_verify(
        self, *, headers: Mapping[str, str], body: bytes, url: str
    ) -> WebhookDelivery:
        """Amazon notifies through SQS, never through HTTP webhooks."""
        raise NotSupported("Amazon SP-API sends notifications through SQS, not HTTP webhooks.")

    def webhook_orders(self, delivery: WebhookDelivery) -> OrderPage:
        raise NotSupported("Amazon SP-API sends notifications through SQS, not HTTP webhooks.")
