"""What we write to Shopify: stock levels (inventorySetQuantities), fulfilments with tracking,
cancellations (whole orders, or lines through a refund without money) and refunds."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from channels.adapters.base import (
    CancelPush,
    FulfilmentPush,
    PushResult,
    RefundPush,
    StockItem,
    StockResult,
    chunks,
)
from channels.adapters.shopify.client import (
    ShopifyClient,
    answered,
    error_messages,
    mutation_payload,
    user_errors,
)
from channels.adapters.shopify.mapping import Unmappable, gid, legacy_id, money_value, text_value
from channels.adapters.shopify.queries import (
    FULFILLMENT_CREATE_MUTATION,
    FULFILLMENT_ORDERS_QUERY,
    MAX_PAGE_SIZE,
    ORDER_CANCEL_MUTATION,
    ORDER_TRANSACTIONS_QUERY,
    REFUND_CREATE_MUTATION,
    SET_QUANTITIES_MUTATION,
    SKU_LOOKUP_BATCH,
    STOCK_BATCH,
    VARIANTS_BY_SKU_QUERY,
    search_value,
)
from oms.errors import PermanentError

OPEN_FULFILLMENT_ORDER = frozenset({"OPEN", "IN_PROGRESS"})
CANCEL_REASONS = (  # (word in our reason, Shopify OrderCancelReason)
    ("fraud", "FRAUD"),
    ("stock", "INVENTORY"),
    ("inventory", "INVENTORY"),
    ("declin", "DECLINED"),
    ("payment", "DECLINED"),
    ("staff", "STAFF"),
    ("customer", "CUSTOMER"),
)


class ShopifyPushes(ShopifyClient):
    """Stock, fulfilment, cancel and refund pushes on top of the GraphQL client."""

    # --- stock --------------------------------------------------------------------------------

    def stock_push(self, items: Sequence[StockItem]) -> list[StockResult]:
        location = gid("Location", self.location_id)
        if not location:
            raise PermanentError(
                f"Shopify channel {self.context.channel_code}: set location_id, the Shopify "
                "location whose stock we set."
            )
        results: dict[int, StockResult] = {}
        by_sku = self._inventory_items_by_sku(
            sorted({item.sku for item in items if not item.external_id and item.sku})
        )
        resolved: list[tuple[int, StockItem, str]] = []
        for index, item in enumerate(items):
            if item.external_id:
                item_id = gid("InventoryItem", item.external_id)
                if not item_id:
                    results[index] = StockResult(
                        item.sku, False, f"{item.external_id!r} is not an inventory item id."
                    )
                    continue
            else:
                item_id = by_sku.get(item.sku, "")
                if not item_id:
                    results[index] = StockResult(item.sku, False, "not listed on Shopify")
                    continue
            resolved.append((index, item, item_id))
        for batch in chunks(resolved, STOCK_BATCH):
            self._set_quantities(list(batch), location, results, retry=True)
        return [results[i] for i in range(len(items))]

    def _inventory_items_by_sku(self, skus: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for batch in chunks(list(skus), SKU_LOOKUP_BATCH):
            data = self._graphql(
                VARIANTS_BY_SKU_QUERY,
                {
                    "first": MAX_PAGE_SIZE,
                    "query": " OR ".join(f"sku:{search_value(s)}" for s in batch),
                },
            )
            connection = data.get("productVariants")
            if not isinstance(connection, dict) or not isinstance(connection.get("nodes"), list):
                raise PermanentError("Shopify answered without data.productVariants.nodes.")
            wanted = set(batch)
            for node in connection["nodes"]:
                if not isinstance(node, dict):
                    continue
                sku = text_value(node.get("sku"))
                item_id = gid("InventoryItem", (node.get("inventoryItem") or {}).get("id"))
                if sku in wanted and item_id and sku not in found:  # search is not exact
                    found[sku] = item_id
        return found

    def _set_quantities(
        self,
        batch: list[tuple[int, StockItem, str]],
        location: str,
        results: dict[int, StockResult],
        *,
        retry: bool,
    ) -> None:
        data = self._graphql(
            SET_QUANTITIES_MUTATION,
            {
                "input": {
                    "name": "available",
                    "reason": "correction",
                    "quantities": [
                        {
                            "inventoryItemId": item_id,
                            "locationId": location,
                            "quantity": max(0, int(item.quantity)),
                            "changeFromQuantity": None,
                        }
                        for _, item, item_id in batch
                    ],
                },
                "idempotencyKey": str(uuid.uuid4()),
            },
        )
        payload = answered(data, "inventorySetQuantities")
        errors = user_errors(payload.get("userErrors"))
        if not errors:
            for index, item, _ in batch:
                results[index] = StockResult(item.sku, True)
            return
        named: dict[int, list[dict[str, Any]]] = {}
        general = []
        for error in errors:
            position = _quantity_position(error.get("field"))
            if position is not None and position < len(batch):
                named.setdefault(position, []).append(error)
            else:
                general.append(error)
        if general:
            message = error_messages(errors)
            for index, item, _ in batch:
                results[index] = StockResult(item.sku, False, message)
            return
        rest = []
        for position, entry in enumerate(batch):
            index, item, _ = entry
            if position in named:
                results[index] = StockResult(item.sku, False, error_messages(named[position]))
            else:
                rest.append(entry)
        if not rest:
            return
        if payload.get("inventoryAdjustmentGroup"):  # the others were applied
            for index, item, _ in rest:
                results[index] = StockResult(item.sku, True)
        elif retry:  # nothing was applied: send the others again, once
            self._set_quantities(rest, location, results, retry=False)
        else:
            for index, item, _ in rest:
                results[index] = StockResult(item.sku, False, "Shopify applied nothing.")

    # --- fulfilments --------------------------------------------------------------------------

    def fulfilment_push(self, push: FulfilmentPush) -> PushResult:
        order_id = gid("Order", push.order_external_id)
        if not order_id:
            raise PermanentError(f"{push.order_external_id!r} is not a Shopify order id.")
        order = self._graphql(FULFILLMENT_ORDERS_QUERY, {"id": order_id}).get("order")
        if not isinstance(order, dict):
            raise PermanentError(f"Shopify has no order {push.order_external_id}.")
        if push.tracking_number:
            for fulfillment in order.get("fulfillments") or []:
                numbers = {
                    text_value(t.get("number"))
                    for t in (fulfillment or {}).get("trackingInfo") or []
                    if isinstance(t, dict)
                }
                if push.tracking_number in numbers:
                    return PushResult(
                        external_id=legacy_id(fulfillment.get("id")),
                        detail={"already_reported": True, "id": fulfillment.get("id")},
                    )
        groups = self._allocate(push, order)
        ids = []
        for by_fulfillment_order in groups.values():
            data = self._graphql(
                FULFILLMENT_CREATE_MUTATION,
                {
                    "fulfillment": {
                        "lineItemsByFulfillmentOrder": [
                            {"fulfillmentOrderId": fo_id, "fulfillmentOrderLineItems": lines}
                            for fo_id, lines in by_fulfillment_order.items()
                        ],
                        "trackingInfo": {
                            "company": push.carrier,
                            "number": push.tracking_number,
                            "url": push.tracking_url,
                        },
                        "notifyCustomer": True,
                    }
                },
            )
            payload = mutation_payload(data, "fulfillmentCreate", "fulfilment")
            fulfillment = payload.get("fulfillment") or {}
            if not fulfillment.get("id"):
                raise PermanentError("Shopify created a fulfilment without an id.")
            ids.append(str(fulfillment["id"]))
        return PushResult(
            external_id=legacy_id(ids[0]) if ids else "",
            detail={"fulfillment_ids": ids},
        )

    def _allocate(
        self, push: FulfilmentPush, order: Mapping[str, Any]
    ) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """location id -> fulfillment order id -> [{id, quantity}] covering the push's lines."""
        remaining: list[dict[str, Any]] = []  # open fulfillment order line items, in order
        for fo in ((order.get("fulfillmentOrders") or {}).get("nodes")) or []:
            if (
                not isinstance(fo, dict)
                or text_value(fo.get("status")) not in OPEN_FULFILLMENT_ORDER
            ):
                continue
            location = text_value(
                ((fo.get("assignedLocation") or {}).get("location") or {}).get("id")
            )
            for item in ((fo.get("lineItems") or {}).get("nodes")) or []:
                if not isinstance(item, dict) or not item.get("id"):
                    continue
                line_item = item.get("lineItem") or {}
                left = item.get("remainingQuantity")
                remaining.append(
                    {
                        "fo": str(fo.get("id")),
                        "location": location,
                        "id": str(item["id"]),
                        "line": legacy_id(line_item.get("id")),
                        "sku": text_value(line_item.get("sku")),
                        "left": left if isinstance(left, int) else 0,
                    }
                )
        groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for line in push.lines:
            wanted = legacy_id(line.external_line_id)
            candidates = [r for r in remaining if wanted and r["line"] == wanted]
            if not candidates:
                candidates = [r for r in remaining if line.sku and r["sku"] == line.sku]
            needed = line.quantity
            for candidate in candidates:
                take = min(needed, candidate["left"])
                if take <= 0:
                    continue
                candidate["left"] -= take
                needed -= take
                items = groups.setdefault(candidate["location"], {}).setdefault(candidate["fo"], [])
                for entry in items:
                    if entry["id"] == candidate["id"]:
                        entry["quantity"] += take
                        break
                else:
                    items.append({"id": candidate["id"], "quantity": take})
                if not needed:
                    break
            if needed:
                raise PermanentError(
                    f"Shopify order {push.order_external_id}: {needed} of {line.quantity} x "
                    f"{line.sku or line.external_line_id} are not open for fulfilment."
                )
        if not groups:
            raise PermanentError(f"Fulfilment {push.reference} has no lines.")
        return groups

    # --- cancels and refunds ------------------------------------------------------------------

    def cancel_push(self, push: CancelPush) -> PushResult:
        order_id = gid("Order", push.order_external_id)
        if not order_id:
            raise PermanentError(f"{push.order_external_id!r} is not a Shopify order id.")
        if push.lines:
            return self._cancel_lines(push, order_id)
        lowered = push.reason.lower()
        reason = next((code for word, code in CANCEL_REASONS if word in lowered), "OTHER")
        data = self._graphql(
            ORDER_CANCEL_MUTATION,
            {
                "orderId": order_id,
                "reason": reason,
                "refundMethod": {"originalPaymentMethodsRefund": self.refund_on_cancel},
                "restock": True,
                "notifyCustomer": True,
                "staffNote": f"{push.reference}: {push.reason}"[:255],
            },
        )
        payload = mutation_payload(
            data, "orderCancel", "cancellation", errors="orderCancelUserErrors"
        )
        job = payload.get("job") or {}
        return PushResult(external_id=text_value(job.get("id")), detail={"job": job})

    def _cancel_lines(self, push: CancelPush, order_id: str) -> PushResult:
        """Part of an order: a refund without money that cancels the unfulfilled quantities."""
        refund_lines = []
        for line in push.lines:
            line_id = gid("LineItem", line.external_line_id)
            if not line_id:
                raise PermanentError(
                    f"Cancel {push.reference}: line {line.sku} has no Shopify line item id."
                )
            refund_lines.append(
                {"lineItemId": line_id, "quantity": line.quantity, "restockType": "CANCEL"}
            )
        return self._refund_create(
            {
                "orderId": order_id,
                "note": f"{push.reference}: {push.reason}"[:255],
                "notify": True,
                "refundLineItems": refund_lines,
            },
            key=push.reference,
        )

    def refund_push(self, push: RefundPush) -> PushResult:
        order_id = gid("Order", push.order_external_id)
        if not order_id:
            raise PermanentError(f"{push.order_external_id!r} is not a Shopify order id.")
        if push.amount <= 0:
            raise PermanentError(f"Refund {push.reference}: the amount must be positive.")
        order = self._graphql(ORDER_TRANSACTIONS_QUERY, {"id": order_id}).get("order")
        if not isinstance(order, dict):
            raise PermanentError(f"Shopify has no order {push.order_external_id}.")
        currency = text_value(order.get("presentmentCurrencyCode")).upper()
        if currency and currency != push.currency.upper():
            raise PermanentError(
                f"Refund {push.reference} is in {push.currency}, the order is in {currency}."
            )
        parents = []
        for transaction in order.get("transactions") or []:
            if not isinstance(transaction, dict):
                continue
            if transaction.get("kind") not in ("SALE", "CAPTURE"):
                continue
            if transaction.get("status") != "SUCCESS" or not transaction.get("id"):
                continue
            try:
                amount = money_value(
                    transaction.get("amountSet"), "transaction", currency, graphql=True
                )
            except Unmappable:
                continue
            parents.append((amount, transaction))
        parents.sort(key=lambda p: p[0], reverse=True)
        # Paid back elsewhere: the refund is recorded on Shopify without moving money again.
        left = push.amount if push.move_money else Decimal(0)
        transactions = []
        for amount, parent in parents:
            take = min(left, amount)
            if take <= 0:
                continue
            transactions.append(
                {
                    "orderId": order_id,
                    "parentId": parent["id"],
                    "gateway": text_value(parent.get("gateway")),
                    "kind": "REFUND",
                    "amount": str(take),
                }
            )
            left -= take
            if not left:
                break
        if left > 0:
            raise PermanentError(
                f"Refund {push.reference}: Shopify order {push.order_external_id} has not "
                f"captured {push.amount} {push.currency} to refund."
            )
        return self._refund_create(
            {
                "orderId": order_id,
                "note": f"{push.reference}: {push.reason}"[:255],
                "notify": True,
                "currency": push.currency.upper(),
                "transactions": transactions,
            },
            key=push.reference,
        )

    def _refund_create(self, refund_input: dict[str, Any], *, key: str) -> PushResult:
        data = self._graphql(REFUND_CREATE_MUTATION, {"input": refund_input, "idempotencyKey": key})
        payload = mutation_payload(data, "refundCreate", "refund")
        refund = payload.get("refund") or {}
        if not refund.get("id"):
            raise PermanentError("Shopify created a refund without an id.")
        return PushResult(external_id=legacy_id(refund["id"]), detail={"id": refund["id"]})


def _quantity_position(field: Any) -> int | None:
    """The index in `input.quantities` a userError's field path names, if any."""
    if not isinstance(field, list):
        return None
    parts = [str(p) for p in field]
    if "quantities" in parts:
        at = parts.index("quantities")
        if at + 1 < len(parts) and parts[at + 1].isdigit():
            return int(parts[at + 1])
    return None
