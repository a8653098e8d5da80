"""The GraphQL mutations the fake applies, checking what Shopify 2026-04 checks that matters
here: stock (inventorySetQuantities), fulfilments, cancellations and refunds (idempotent)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from channels.fakes.shopify.data import (
    error_answer,
    gid_of,
    list_of,
    number_of,
    object_of,
    seconds_of,
)
from channels.fakes.shopify.queries import StoreQueries


class StoreMutations(StoreQueries):
    """The mutations the adapter sends."""

    def _set_quantities(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        if "@idempotent" not in query:
            return error_answer("The @idempotent directive is required for this mutation.", "BAD")
        data = object_of(variables.get("input"))
        quantities = list_of(data.get("quantities"))
        errors: list[dict[str, Any]] = []
        if data.get("name") != "available":
            errors.append({"code": "INVALID_NAME", "field": ["input", "name"], "message": "?"})
        known = {self.inventory_item_id(sku) for sku in self.skus}
        for index, row in enumerate(quantities):
            where = ["input", "quantities", str(index)]
            if not isinstance(row, dict):
                errors.append({"code": "INVALID", "field": where, "message": "Not an object."})
                continue
            if "changeFromQuantity" not in row:
                errors.append(
                    {
                        "code": "CHANGE_FROM_QUANTITY_REQUIRED",
                        "field": [*where, "changeFromQuantity"],
                        "message": "changeFromQuantity is required (null opts out).",
                    }
                )
            if row.get("inventoryItemId") not in known:
                errors.append(
                    {
                        "code": "INVALID_INVENTORY_ITEM",
                        "field": [*where, "inventoryItemId"],
                        "message": "The specified inventory item could not be found.",
                    }
                )
            if not str(row.get("locationId") or "").startswith("gid://shopify/Location/"):
                errors.append(
                    {
                        "code": "INVALID_LOCATION",
                        "field": [*where, "locationId"],
                        "message": "The specified location could not be found.",
                    }
                )
            quantity = row.get("quantity")
            if not isinstance(quantity, int) or quantity < 0:
                errors.append(
                    {"code": "INVALID_QUANTITY", "field": [*where, "quantity"], "message": "?"}
                )
        self.stock_calls.append(data)
        payload: dict[str, Any] = {"inventoryAdjustmentGroup": None, "userErrors": errors}
        if errors:  # all or nothing
            return {"data": {"inventorySetQuantities": payload}}
        for row in quantities:
            self.inventory[(row["inventoryItemId"], row["locationId"])] = row["quantity"]
        payload["inventoryAdjustmentGroup"] = {
            "id": gid_of("InventoryAdjustmentGroup", len(self.stock_calls))
        }
        return {"data": {"inventorySetQuantities": payload}}

    def _fulfillment_create(self, variables: dict[str, Any]) -> dict[str, Any]:
        data = object_of(variables.get("fulfillment"))
        wanted: dict[int, int] = {}
        orders = set()
        errors: list[dict[str, Any]] = []
        for group in list_of(data.get("lineItemsByFulfillmentOrder")):
            group = object_of(group)
            order = self._order_of(group.get("fulfillmentOrderId"))
            if order is None or order.cancelled:
                errors.append({"field": ["fulfillment"], "message": "Fulfillment order not open."})
                continue
            orders.add(order.id)
            left: dict[int, int] = {}
            for fo_item in self._fo_items(order):
                left[number_of(fo_item["id"]) or 0] = fo_item["remainingQuantity"]
            items = list_of(group.get("fulfillmentOrderLineItems")) or [
                {"id": gid_of("FulfillmentOrderLineItem", k), "quantity": v}
                for k, v in left.items()
                if v
            ]
            for item in items:
                line_id = number_of(object_of(item).get("id"))
                quantity = object_of(item).get("quantity")
                if (
                    line_id is None
                    or line_id not in left
                    or not isinstance(quantity, int)
                    or quantity < 1
                ):
                    errors.append({"field": ["fulfillment"], "message": "Invalid line item."})
                elif quantity + wanted.get(line_id, 0) > left[line_id]:
                    errors.append(
                        {
                            "field": ["fulfillment"],
                            "message": "Invalid fulfillment order line item quantity requested.",
                        }
                    )
                else:
                    wanted[line_id] = wanted.get(line_id, 0) + quantity
        if len(orders) > 1:
            errors.append({"field": ["fulfillment"], "message": "One order per fulfillment."})
        if not wanted and not errors:
            errors.append({"field": ["fulfillment"], "message": "Nothing to fulfil."})
        if errors:
            return {"data": {"fulfillmentCreate": {"fulfillment": None, "userErrors": errors}}}
        for line_id, quantity in wanted.items():
            self._fulfilled[line_id] = self._fulfilled.get(line_id, 0) + quantity
        order_id = orders.pop()
        fulfillment_id = gid_of("Fulfillment", 9_000_000_000 + len(self.fulfillments) + 1)
        self.fulfillments.append(
            {
                "id": fulfillment_id,
                "order_id": order_id,
                "lines": wanted,
                "tracking": dict(data.get("trackingInfo") or {}),
                "notify_customer": bool(data.get("notifyCustomer")),
            }
        )
        self._touch(self._orders[order_id], seconds_of(dt.datetime.now(dt.UTC)))
        fulfillment = {"id": fulfillment_id, "status": "SUCCESS"}
        return {"data": {"fulfillmentCreate": {"fulfillment": fulfillment, "userErrors": []}}}

    def _order_cancel(self, variables: dict[str, Any]) -> dict[str, Any]:
        order = self._order_of(variables.get("orderId"))
        errors = []
        if order is None:
            errors.append({"code": "NOT_FOUND", "field": ["orderId"], "message": "Not found."})
        elif order.cancelled:
            errors.append(
                {"code": "INVALID", "field": ["orderId"], "message": "Already cancelled."}
            )
        if order is None or errors:
            payload = {"job": None, "orderCancelUserErrors": errors}
            return {"data": {"orderCancel": payload}}
        now = seconds_of(dt.datetime.now(dt.UTC))
        order.cancelled = now
        if (variables.get("refundMethod") or {}).get("originalPaymentMethodsRefund"):
            order.financial = "REFUNDED"
        self._touch(order, now)
        self.cancellations.append(dict(variables))
        job = {"id": gid_of("Job", f"cancel-{order.id}"), "done": False}
        return {"data": {"orderCancel": {"job": job, "orderCancelUserErrors": []}}}

    def _refund_create(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        if "@idempotent" not in query:
            return error_answer("The @idempotent directive is required for this mutation.", "BAD")
        key = str(variables.get("idempotencyKey") or "")
        if key in self._refund_keys:
            return {"data": {"refundCreate": self._refund_keys[key]}}
        data = object_of(variables.get("input"))
        order = self._order_of(data.get("orderId"))
        if order is None:
            errors = [{"field": ["input", "orderId"], "message": "Order does not exist."}]
            return {"data": {"refundCreate": {"refund": None, "userErrors": errors}}}
        refund_id = gid_of("Refund", 8_000_000_000 + len(self.refunds) + 1)
        self.refunds.append({"id": refund_id, "order_id": order.id, "input": data, "key": key})
        order.financial = "PARTIALLY_REFUNDED"
        self._touch(order, seconds_of(dt.datetime.now(dt.UTC)))
        payload = {"refund": {"id": refund_id}, "userErrors": []}
        self._refund_keys[key] = payload
        return {"data": {"refundCreate": payload}}
