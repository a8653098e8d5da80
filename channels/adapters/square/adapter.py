"""The Square channel adapter (channels.adapters.base.ChannelAdapter): order pulls
(SearchOrders) and webhooks (signature over the URL and body; the orders fetched by id); the
stock push and the transport come from its bases."""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from channels.adapters.base import (
    OrderPage,
    RecordFailure,
    SignatureInvalid,
    WebhookDelivery,
    json_object,
)
from channels.adapters.square.api import (
    MAX_LOCATIONS,
    ORDER_TOPICS,
    PAGE_LIMIT,
    SIGNATURE_HEADER,
    STATES,
)
from channels.adapters.square.client import webhook_signature
from channels.adapters.square.mapping import Unreadable, catalog_ids, order_from_square, text_value
from channels.adapters.square.pushes import SquarePushes
from oms import jsonsafe
from oms.errors import PermanentError
from oms.vendor_http import header


class SquareAdapter(SquarePushes):
    """A Square seller's point of sale. See channels.adapters.square and SquareClient."""

    # --- orders -------------------------------------------------------------------------------

    def orders_page(self, *, since: dt.datetime, page: str | None) -> OrderPage:
        if not self.location_ids:
            raise PermanentError("Square: list the store locations (credentials location_ids).")
        if len(self.location_ids) > MAX_LOCATIONS:
            raise PermanentError(
                f"Square searches at most {MAX_LOCATIONS} locations at once: split the channel."
            )
        moment = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
        start_at = moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")
        body: dict[str, Any] = {
            "location_ids": self.location_ids,
            "limit": PAGE_LIMIT,
            "return_entries": False,
            "query": {
                "filter": {
                    "date_time_filter": {
                        "updated_at": {"start_at": start_at.replace("+00:00", "Z")}
                    },
                    "state_filter": {"states": sorted(STATES)},
                },
                "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"},
            },
        }
        if page:
            body["cursor"] = page
        answer = json_object(
            self.http.request("orders", "POST", "/v2/orders/search", json=body),
            "Square SearchOrders",
        )
        result = self._map_orders(self._orders_of(answer, "SearchOrders"), only_ours=False)
        result.next_page = text_value(answer.get("cursor")) or None
        return result

    @staticmethod
    def _orders_of(answer: Mapping[str, Any], what: str) -> list[Any]:
        orders = answer.get("orders", [])
        if not isinstance(orders, list):
            raise PermanentError(f"Square {what}: `orders` is not a list.")
        return orders

    def _map_orders(self, records: Sequence[Any], *, only_ours: bool) -> OrderPage:
        page = OrderPage(orders=[])
        sales: list[dict[str, Any]] = []
        for record in records:
            if not isinstance(record, dict):
                page.failures.append(RecordFailure("", "the order is not a JSON object"))
            elif text_value(record.get("state")) not in STATES:
                continue  # OPEN or DRAFT: it comes back once completed or canceled
            elif (
                only_ours
                and self.location_ids
                and text_value(record.get("location_id")) not in self.location_ids
            ):
                continue  # another store of the seller, served by another channel
            else:
                sales.append(record)
        wanted: set[str] = set()
        for record in sales:
            wanted |= catalog_ids(record)
        skus = self.skus_for(wanted)
        for record in sales:
            try:
                page.orders.append(
                    order_from_square(record, skus=skus, default_currency=self.context.currency)
                )
            except Unreadable as exc:
                page.failures.append(RecordFailure(text_value(record.get("id")), str(exc), record))
        return page

    # --- webhooks -----------------------------------------------------------------------------

    def webhook_verify(
        self, *, headers: Mapping[str, str], body: bytes, url: str
    ) -> WebhookDelivery:
        if not self.signature_key:
            raise SignatureInvalid("Square webhook: no signature key is configured.")
        given = header(headers, SIGNATURE_HEADER).strip()
        expected = webhook_signature(self.signature_key, url, body)
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise SignatureInvalid("Square webhook: the signature does not match.")
        try:
            event = jsonsafe.loads(body)
        except ValueError:
            raise PermanentError("Square webhook: the body is not JSON.") from None
        if not isinstance(event, dict):
            raise PermanentError("Square webhook: the body is not a JSON object.")
        event_id, topic = text_value(event.get("event_id")), text_value(event.get("type"))
        if not event_id or not topic:
            raise PermanentError("Square webhook: the event has no event_id or type.")
        return WebhookDelivery(delivery_id=event_id, topic=topic, payload=event)

    def webhook_orders(self, delivery: WebhookDelivery) -> OrderPage:
        if delivery.topic not in ORDER_TOPICS:
            return OrderPage(orders=[])
        data = delivery.payload.get("data")
        data = data if isinstance(data, dict) else {}
        obj = data.get("object")
        obj = obj if isinstance(obj, dict) else {}
        change = obj.get(delivery.topic.replace(".", "_"))
        change = change if isinstance(change, dict) else {}
        state = text_value(change.get("state"))
        if state and state not in STATES:
            return OrderPage(orders=[])  # still open: its COMPLETED or CANCELED event follows
        order_id = text_value(change.get("order_id")) or text_value(data.get("id"))
        if not order_id:
            raise PermanentError(
                f"Square {delivery.topic} event {delivery.delivery_id}: no order id."
            )
        body: dict[str, Any] = {"order_ids": [order_id]}
        if text_value(change.get("location_id")):
            body["location_id"] = text_value(change.get("location_id"))
        answer = json_object(
            self.http.request("orders", "POST", "/v2/orders/batch-retrieve", json=body),
            "Square BatchRetrieveOrders",
        )
        return self._map_orders(self._orders_of(answer, "BatchRetrieveOrders"), only_ours=True)
