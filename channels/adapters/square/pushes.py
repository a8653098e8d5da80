"""What we write to Square: stock as absolute PHYSICAL_COUNT changes (BatchChangeInventory);
fulfilments, cancellations and refunds are NotSupported, the till did them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from channels.adapters.base import (
    CancelPush,
    FulfilmentPush,
    NotSupported,
    PushResult,
    RefundPush,
    StockItem,
    StockResult,
    chunks,
    json_object,
)
from channels.adapters.square.api import INVENTORY_BATCH
from channels.adapters.square.client import SquareClient
from channels.adapters.square.mapping import text_value
from oms.errors import PermanentError


def _now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SquarePushes(SquareClient):
    """The stock push, and the pushes a point of sale does not take, on top of the client."""

    # --- stock --------------------------------------------------------------------------------

    def stock_push(self, items: Sequence[StockItem]) -> list[StockResult]:
        if not self.location_ids:
            raise PermanentError("Square: list the store locations (credentials location_ids).")
        location = self.location_ids[0]
        results: list[StockResult | None] = [None] * len(items)
        mapped = []
        for index, item in enumerate(items):
            if text_value(item.external_id):
                mapped.append(index)
            else:
                results[index] = StockResult(item.sku, False, "not mapped to a Square catalog id")
        for batch in chunks(mapped, INVENTORY_BATCH):
            occurred_at = _now_rfc3339()
            body = {
                "idempotency_key": str(uuid.uuid4()),
                "changes": [
                    {
                        "type": "PHYSICAL_COUNT",
                        "physical_count": {
                            "catalog_object_id": text_value(items[i].external_id),
                            "location_id": location,
                            "quantity": str(max(0, int(items[i].quantity))),
                            "state": "IN_STOCK",
                            "occurred_at": occurred_at,
                        },
                    }
                    for i in batch
                ],
            }
            answer = json_object(
                self.http.request(
                    "inventory", "POST", "/v2/inventory/changes/batch-create", json=body
                ),
                "Square BatchChangeInventory",
            )
            errors = answer.get("errors")
            if errors:
                raise PermanentError(f"Square BatchChangeInventory refused: {errors!r:.500}")
            for i in batch:
                results[i] = StockResult(items[i].sku, True)
        return [r or StockResult(items[i].sku, False, "not sent") for i, r in enumerate(results)]

    # --- pushes: the till already did them -----------------------------------------------------

    def fulfilment_push(self, push: FulfilmentPush) -> PushResult:
        raise NotSupported("Square store sales are handed over at the till: nothing to ship.")

    def cancel_push(self, push: CancelPush) -> PushResult:
        raise NotSupported("Square store sales are settled at the till: nothing to cancel.")

    def refund_push(self, push: RefundPush) -> PushResult:
        raise NotSupported("Square store sales are refunded at the till, not from here.")
