"""The Shopify channel adapter (channels.adapters.base.ChannelAdapter): order pulls with their
follow-up line item pages, and webhooks (verification, order topics, compliance topics); the
pushes and the transport come from its bases."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from channels.adapters.base import (
    OrderPage,
    PrivacyNotice,
    RecordFailure,
    SignatureInvalid,
    WebhookDelivery,
)
from channels.adapters.shopify.client import webhook_signature
from channels.adapters.shopify.mapping import (
    Unmappable,
    gid,
    legacy_id,
    map_graphql_order,
    map_rest_order,
    object_value,
    text_value,
)
from channels.adapters.shopify.pushes import ShopifyPushes
from channels.adapters.shopify.queries import MORE_LINES_QUERY, ORDERS_QUERY, iso_utc
from oms import jsonsafe
from oms.errors import PermanentError
from oms.vendor_http import header

ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/cancelled", "orders/paid"})
#: The mandatory compliance topics (privacy law): topic -> PrivacyNotice.kind.
PRIVACY_TOPICS = {
    "customers/data_request": "data_request",
    "customers/redact": "customer_redact",
    "shop/redact": "shop_redact",
}


class ShopifyAdapter(ShopifyPushes):
    """Shopify GraphQL Admin API client. See channels.adapters.shopify."""

    # --- orders -------------------------------------------------------------------------------

    def orders_page(self, *, since: dt.datetime, page: str | None) -> OrderPage:
        data = self._graphql(
            ORDERS_QUERY,
            {
                "first": self.page_size,
                "after": page,
                "query": f"updated_at:>='{iso_utc(since)}'",
            },
        )
        connection = data.get("orders")
        if not isinstance(connection, dict) or not isinstance(connection.get("nodes"), list):
            raise PermanentError("Shopify answered without data.orders.nodes.")
        info = connection.get("pageInfo")
        if not isinstance(info, dict):
            raise PermanentError("Shopify answered without data.orders.pageInfo.")
        result = OrderPage(orders=[])
        for node in connection["nodes"]:
            if not isinstance(node, dict):
                result.failures.append(RecordFailure("", "order node: not an object."))
                continue
            try:
                result.orders.append(map_graphql_order(node, self._all_lines(node)))
            except Unmappable as exc:
                external_id = legacy_id(node.get("legacyResourceId")) or legacy_id(node.get("id"))
                result.failures.append(RecordFailure(external_id, str(exc), dict(node)))
        cursor = info.get("endCursor")
        if info.get("hasNextPage"):
            if not cursor:
                raise PermanentError("Shopify said there is a next page but gave no cursor.")
            result.next_page = str(cursor)
        return result

    def _all_lines(self, node: Mapping[str, Any]) -> list[Any]:
        """The order's line item nodes: the first ones from the page, the rest read on."""
        connection = node.get("lineItems")
        if not isinstance(connection, dict) or not isinstance(connection.get("nodes"), list):
            raise Unmappable("no lineItems.nodes.")
        lines = list(connection["nodes"])
        info = connection.get("pageInfo") or {}
        order_id = gid("Order", node.get("id")) or gid("Order", node.get("legacyResourceId"))
        while info.get("hasNextPage") and info.get("endCursor"):
            data = self._graphql(MORE_LINES_QUERY, {"id": order_id, "after": info["endCursor"]})
            more = (data.get("order") or {}).get("lineItems")
            if not isinstance(more, dict) or not isinstance(more.get("nodes"), list):
                raise PermanentError(f"Shopify answered without the line items of {order_id}.")
            lines.extend(more["nodes"])
            info = more.get("pageInfo") or {}
        return lines

    # --- webhooks -----------------------------------------------------------------------------

    def webhook_verify(
        self, *, headers: Mapping[str, str], body: bytes, url: str
    ) -> WebhookDelivery:
        if not self.webhook_secret:
            raise SignatureInvalid("Shopify webhooks are off: no webhook_secret is set.")
        given = header(headers, "X-Shopify-Hmac-Sha256").strip()
        expected = webhook_signature(self.webhook_secret, body)
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise SignatureInvalid("Shopify webhook: the signature does not match.")
        try:
            payload = jsonsafe.loads(body)
        except ValueError as exc:
            raise PermanentError(f"Shopify webhook: the body is not JSON ({exc}).") from None
        if not isinstance(payload, dict):
            raise PermanentError("Shopify webhook: the body is not a JSON object.")
        topic = header(headers, "X-Shopify-Topic").strip()
        delivery_id = (
            header(headers, "X-Shopify-Webhook-Id") or header(headers, "X-Shopify-Event-Id")
        ).strip()
        if not delivery_id:
            delivery_id = "sha256:" + hashlib.sha256(topic.encode() + b"\n" + body).hexdigest()
        return WebhookDelivery(delivery_id=delivery_id, topic=topic, payload=payload)

    def webhook_privacy(self, delivery: WebhookDelivery) -> PrivacyNotice | None:
        """Shopify's compliance webhooks: `{shop_domain, customer: {id, email, phone},
        orders_requested | orders_to_redact, data_request: {id}}` (shop/redact: the shop only).
        """
        kind = PRIVACY_TOPICS.get(delivery.topic)
        if kind is None:
            return None
        body = delivery.payload
        customer = object_value(body.get("customer"))
        orders = body.get("orders_requested") or body.get("orders_to_redact") or []
        return PrivacyNotice(
            kind=kind,
            shop=text_value(body.get("shop_domain")),
            customer_id=legacy_id(customer.get("id")) or "",
            email=text_value(customer.get("email")).lower(),
            phone=text_value(customer.get("phone")),
            order_ids=[str(legacy_id(o) or o) for o in orders if o not in (None, "")],
            request_id=text_value(object_value(body.get("data_request")).get("id")),
        )

    def webhook_orders(self, delivery: WebhookDelivery) -> OrderPage:
        if delivery.topic not in ORDER_TOPICS:
            return OrderPage(orders=[])
        try:
            return OrderPage(orders=[map_rest_order(delivery.payload)])
        except Unmappable as exc:
            external_id = legacy_id(delivery.payload.get("id"))
            return OrderPage(
                orders=[], failures=[RecordFailure(external_id, str(exc), delivery.payload)]
            )
