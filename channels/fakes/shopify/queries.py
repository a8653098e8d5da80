"""The GraphQL queries the fake answers: orders pages (cursor, `updated_at` filter,
UPDATED_AT order), more line items of an order, variants by SKU, fulfillment orders and an
order's transactions."""

from __future__ import annotations

import bisect
import datetime as dt
import re
from typing import Any

from channels.fakes.shopify.data import (
    StoredOrder,
    cursor_decode,
    cursor_encode,
    error_answer,
    gid_of,
    number_of,
    seconds_of,
)
from channels.fakes.shopify.payloads import StorePayloads

_SINCE = re.compile(r"updated_at:(>=|>)\s*['\"]?([0-9T:\-+.Z]+)['\"]?")
_SKU_TERM = re.compile(r"""sku:(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^\s)]+))""")
_FIRST_LINES = re.compile(r"lineItems\(first:\s*(\d+)")


class StoreQueries(StorePayloads):
    """The queries the adapter sends."""

    def _orders_page(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        first = variables.get("first")
        if not isinstance(first, int) or first < 1:
            return error_answer("Variable $first of type Int! was provided invalid value", "BAD")
        if first > 250:
            return error_answer("first cannot exceed 250.", "BAD_REQUEST")
        start = 0
        search = str(variables.get("query") or "")
        match = _SINCE.search(search)
        if match:
            try:
                since = dt.datetime.fromisoformat(match.group(2).replace("Z", "+00:00"))
            except ValueError:
                return error_answer(f"Invalid search: {search}", "BAD_REQUEST")
            seconds = seconds_of(since)
            if match.group(1) == ">=":
                start = bisect.bisect_left(self._keys, (seconds, -1))
            else:
                start = bisect.bisect_right(self._keys, (seconds, 2**63))
        after = variables.get("after")
        if after:
            cursor = cursor_decode(str(after))
            if not cursor or "last_id" not in cursor or "last_value" not in cursor:
                return error_answer("Invalid cursor for current pagination sort.", "BAD_REQUEST")
            position = (int(cursor["last_value"]), int(cursor["last_id"]))
            start = max(start, bisect.bisect_right(self._keys, position))
        keys = self._keys[start : start + first]
        match_lines = _FIRST_LINES.search(query)
        lines_first = int(match_lines.group(1)) if match_lines else 250
        nodes = [self._node(self._orders[order_id], lines_first) for _, order_id in keys]
        end_cursor = None
        if keys:
            end_cursor = cursor_encode({"last_id": keys[-1][1], "last_value": keys[-1][0]})
        return {
            "data": {
                "orders": {
                    "nodes": nodes,
                    "pageInfo": {
                        "hasNextPage": start + first < len(self._keys),
                        "endCursor": end_cursor,
                    },
                }
            }
        }

    def _more_lines(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        order = self._order_of(variables.get("id"))
        if order is None:
            return {"data": {"order": None}}
        match = _FIRST_LINES.search(query)
        first = int(match.group(1)) if match else 250
        after = cursor_decode(str(variables.get("after") or "")) or {}
        lines = self._data(order)["lines"]
        return {
            "data": {
                "order": {
                    "lineItems": self._line_connection(lines, first, int(after.get("index", 0)))
                }
            }
        }

    def _variants(self, variables: dict[str, Any]) -> dict[str, Any]:
        wanted = []
        for quoted, single, bare in _SKU_TERM.findall(str(variables.get("query") or "")):
            value = quoted or single or bare
            wanted.append(re.sub(r"\\(.)", r"\1", value))
        known = set(self.skus)
        first = int(variables.get("first") or 50)
        nodes = [
            {
                "id": gid_of("ProductVariant", self.variant_id(sku)),
                "sku": sku,
                "inventoryItem": {"id": self.inventory_item_id(sku)},
            }
            for sku in dict.fromkeys(wanted)
            if sku in known
        ][:first]
        return {"data": {"productVariants": {"nodes": nodes}}}

    def _fo_items(self, order: StoredOrder) -> list[dict[str, Any]]:
        return [
            {
                "id": gid_of("FulfillmentOrderLineItem", line["id"]),
                "remainingQuantity": max(0, line["quantity"] - self._fulfilled.get(line["id"], 0)),
                "lineItem": {"id": gid_of("LineItem", line["id"]), "sku": line["sku"]},
            }
            for line in self._data(order)["lines"]
        ]

    def _fulfillment_orders(self, variables: dict[str, Any]) -> dict[str, Any]:
        order = self._order_of(variables.get("id"))
        if order is None:
            return {"data": {"order": None}}
        items = self._fo_items(order)
        left = sum(item["remainingQuantity"] for item in items)
        if order.cancelled:
            status = "CANCELLED"
        elif left == 0:
            status = "CLOSED"
        elif any(self._fulfilled.get(number_of(i["lineItem"]["id"]) or 0) for i in items):
            status = "IN_PROGRESS"
        else:
            status = "OPEN"
        return {
            "data": {
                "order": {
                    "id": gid_of("Order", order.id),
                    "fulfillments": [
                        {"id": f["id"], "trackingInfo": [{"number": f["tracking"].get("number")}]}
                        for f in self.fulfillments
                        if f["order_id"] == order.id
                    ],
                    "fulfillmentOrders": {
                        "nodes": [
                            {
                                "id": gid_of("FulfillmentOrder", order.id),
                                "status": status,
                                "assignedLocation": {"location": {"id": self.location_gid()}},
                                "lineItems": {"nodes": items},
                            }
                        ]
                    },
                }
            }
        }

    def _transactions(self, variables: dict[str, Any]) -> dict[str, Any]:
        order = self._order_of(variables.get("id"))
        if order is None:
            return {"data": {"order": None}}
        total = self._data(order)["total"]
        return {
            "data": {
                "order": {
                    "id": gid_of("Order", order.id),
                    "presentmentCurrencyCode": self.currency,
                    "transactions": [
                        {
                            "id": gid_of("OrderTransaction", order.id),
                            "kind": "SALE",
                            "status": "SUCCESS",
                            "gateway": "shopify_payments",
                            "amountSet": self._bag(total),
                        }
                    ],
                }
            }
        }
