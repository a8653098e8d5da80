"""The WooCommerce channel adapter (channels.adapters.base.ChannelAdapter): order pulls
(modified_after, page numbers) and webhooks (signature checked first, the signed ping answered);
the pushes and the transport come from its bases."""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Mapping

from channels.adapters.base import OrderPage, RecordFailure, SignatureInvalid, WebhookDelivery
from channels.adapters.woocommerce.api import (
    API,
    DELIVERY_HEADER,
    ORDER_TOPICS,
    PER_PAGE,
    PING,
    SIGNATURE_HEADER,
    TOPIC_HEADER,
)
from channels.adapters.woocommerce.client import json_answer, numeric_id, webhook_signature
from channels.adapters.woocommerce.mapping import (
    Unreadable,
    map_orders,
    order_less_refunds,
    text_value,
)
from channels.adapters.woocommerce.pushes import WooCommercePushes
from oms import jsonsafe
from oms.errors import PermanentError
from oms.vendor_http import header


class WooCommerceAdapter(WooCommercePushes):
    """A WooCommerce store. See channels.adapters.woocommerce and WooCommerceClient."""

    # --- orders -------------------------------------------------------------------------------

    def orders_page(self, *, since: dt.datetime, page: str | None) -> OrderPage:
        number = 1 if page is None else numeric_id(page, "page token")
        moment = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
        params: dict[str, str | int] = {
            "modified_after": moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "dates_are_gmt": "true",
            "orderby": "modified",
            "order": "asc",
            "per_page": PER_PAGE,
            "page": number,
        }
        response = self.http.request(
            "orders", "GET", f"{API}/orders", params=params, expect_json=False
        )
        records = json_answer(response, "orders")
        if not isinstance(records, list):
            raise PermanentError(
                f"WooCommerce orders: expected a JSON list, got {type(records).__name__}."
            )
        result = self._with_refunds(map_orders(records, self.context.currency))
        total_pages = text_value(response.headers.get("X-WP-TotalPages"))
        # Without the header (a proxy dropped it) a full page may have a next one.
        more = number < int(total_pages) if total_pages.isdigit() else len(records) >= PER_PAGE
        result.next_page = str(number + 1) if more else None
        return result

    # --- webhooks -----------------------------------------------------------------------------

    def webhook_verify(
        self, *, headers: Mapping[str, str], body: bytes, url: str
    ) -> WebhookDelivery:
        if not self.webhook_secret:
            raise SignatureInvalid("WooCommerce webhook: no webhook secret is configured.")
        given = header(headers, SIGNATURE_HEADER).strip()
        expected = webhook_signature(self.webhook_secret, body)
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise SignatureInvalid("WooCommerce webhook: the signature does not match.")
        topic = header(headers, TOPIC_HEADER).strip()
        delivery_id = header(headers, DELIVERY_HEADER).strip()
        try:
            payload = jsonsafe.loads(body)
        except ValueError:
            ping = PING.match(body.strip())
            if ping is None:
                raise PermanentError("WooCommerce webhook: the body is not JSON.") from None
            # A signed ping (webhook_id=N, form encoded): answered, never processed.
            webhook_id = ping.group(1).decode("ascii")
            payload = {"webhook_id": webhook_id}
            topic = topic or "ping"
            delivery_id = delivery_id or f"ping-{webhook_id}"
        if not isinstance(payload, dict):
            raise PermanentError("WooCommerce webhook: the body is not a JSON object.")
        if not delivery_id:
            raise PermanentError(f"WooCommerce webhook: no {DELIVERY_HEADER} header.")
        return WebhookDelivery(delivery_id=delivery_id, topic=topic, payload=payload)

    def webhook_orders(self, delivery: WebhookDelivery) -> OrderPage:
        if delivery.topic not in ORDER_TOPICS:
            return OrderPage(orders=[])
        return self._with_refunds(map_orders([delivery.payload], self.context.currency))

    def _with_refunds(self, page: OrderPage) -> OrderPage:
        """Orders that name refunds read them (GET /orders/<id>/refunds: the order resource
        names its refunds, not the units they gave back) and stand as after them
        (order_less_refunds); refunds that cannot be read make that order a failure."""
        kept = []
        for record in page.orders:
            if record.cancelled or not record.raw.get("refunds"):
                kept.append(record)
                continue
            order_id = numeric_id(record.external_id, "order id")
            refunds = self.http.request(
                "refunds", "GET", f"{API}/orders/{order_id}/refunds", params={"per_page": PER_PAGE}
            )
            try:
                kept.append(order_less_refunds(record, refunds))
            except Unreadable as exc:
                page.failures.append(RecordFailure(record.external_id, str(exc), record.raw))
        page.orders = kept
        return page
