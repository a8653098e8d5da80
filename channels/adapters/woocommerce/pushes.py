"""What we write to a WooCommerce store: stock (products/batch, variations/batch, SKU
look-ups), shipments (a customer note, then completed), cancellations (whole orders) and refunds
(recorded, found again by our reference)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

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
from channels.adapters.woocommerce.api import API, BATCH_SIZE, PER_PAGE, SKU_LOOKUP_SIZE
from channels.adapters.woocommerce.client import WooCommerceClient, numeric_id
from channels.adapters.woocommerce.mapping import text_value
from oms.errors import PermanentError
from oms.money import round_money


class WooCommercePushes(WooCommerceClient):
    """Stock, fulfilment, cancel and refund pushes on top of the client."""

    # --- stock --------------------------------------------------------------------------------

    def stock_push(self, items: Sequence[StockItem]) -> list[StockResult]:
        results: list[StockResult | None] = [None] * len(items)
        # (parent id or 0, product/variation id) of every item that has one
        targets: dict[int, tuple[int, int]] = {}
        lookup: dict[str, list[int]] = {}
        for index, item in enumerate(items):
            external = text_value(item.external_id)
            if not external:
                lookup.setdefault(item.sku, []).append(index)
                continue
            head, _, child = external.rpartition("/")
            if child.isdigit() and (not head or head.isdigit()):
                targets[index] = (int(head or 0), int(child))
            else:
                results[index] = StockResult(
                    item.sku, False, f"WooCommerce id {external!r} is not <id> or <parent>/<id>."
                )
        for sku, found in self._products_by_sku(list(lookup)).items():
            for index in lookup[sku]:
                if isinstance(found, str):
                    results[index] = StockResult(sku, False, found)
                else:
                    targets[index] = found
        groups: dict[int, list[int]] = {}
        for index, (parent, _) in targets.items():
            groups.setdefault(parent, []).append(index)
        for parent, indexes in groups.items():
            path = (
                f"{API}/products/{parent}/variations/batch" if parent else f"{API}/products/batch"
            )
            for batch in chunks(indexes, BATCH_SIZE):
                body = {
                    "update": [
                        {
                            "id": targets[i][1],
                            "stock_quantity": max(0, int(items[i].quantity)),
                            "manage_stock": True,
                        }
                        for i in batch
                    ]
                }
                answer = json_object(
                    self.http.request("stock", "POST", path, json=body), "WooCommerce batch"
                )
                outcome = self._batch_outcome(answer)
                for i in batch:
                    error = outcome.get(targets[i][1], "missing from WooCommerce's answer")
                    results[i] = StockResult(items[i].sku, error is None, error or "")
        return [
            r if r is not None else StockResult(items[i].sku, False, "not sent")
            for i, r in enumerate(results)
        ]

    @staticmethod
    def _batch_outcome(answer: Mapping[str, Any]) -> dict[int, str | None]:
        """product id -> None when updated, else Woo's error message."""
        outcome: dict[int, str | None] = {}
        for entry in answer.get("update") or []:
            if not isinstance(entry, dict):
                continue
            try:
                product_id = int(entry.get("id") or 0)
            except (TypeError, ValueError):
                continue
            error = entry.get("error")
            if isinstance(error, dict):
                code, message = text_value(error.get("code")), text_value(error.get("message"))
                outcome[product_id] = f"{code}: {message}" if code else message or "refused"
            else:
                outcome[product_id] = None
        return outcome

    def _products_by_sku(self, skus: list[str]) -> dict[str, tuple[int, int] | str]:
        """SKU -> (parent id or 0, id) of a simple product or variation, or why not."""
        found: dict[str, tuple[int, int] | str] = {}
        plain = [s for s in skus if s and "," not in s]
        for sku in skus:
            if sku not in plain:
                found[sku] = "a SKU with a comma cannot be looked up: give its product id"
        for batch in chunks(plain, SKU_LOOKUP_SIZE):
            products = self.http.request(
                "products",
                "GET",
                f"{API}/products",
                params={"sku": ",".join(batch), "per_page": PER_PAGE},
            )
            if not isinstance(products, list):
                raise PermanentError("WooCommerce products: expected a JSON list.")
            for product in products:
                if not isinstance(product, dict) or text_value(product.get("sku")) not in batch:
                    continue
                sku, parent = text_value(product["sku"]), product.get("parent_id") or 0
                if product.get("type") == "variable":
                    found[sku] = (
                        "a variable product: its variations hold the stock"
                        " (give <parent id>/<variation id>)"
                    )
                elif isinstance(product.get("id"), int):
                    found[sku] = (int(parent), product["id"])
            for sku in batch:
                found.setdefault(sku, "no WooCommerce product has this SKU")
        return found

    # --- pushes -------------------------------------------------------------------------------

    def fulfilment_push(self, push: FulfilmentPush) -> PushResult:
        order_id = numeric_id(push.order_external_id, "order id")
        text = " ".join(
            p
            for p in (f"Shipped with {push.carrier}:", push.tracking_number, push.tracking_url)
            if p
        )
        notes_path = f"{API}/orders/{order_id}/notes"
        notes = self.http.request("notes", "GET", notes_path, params={"type": "customer"})
        note: dict[str, Any] | None = None
        for existing in notes if isinstance(notes, list) else []:
            said = text_value(existing.get("note")) if isinstance(existing, dict) else ""
            if said and ((push.tracking_number and push.tracking_number in said) or said == text):
                note = existing
                break
        if note is None:
            note = json_object(
                self.http.request(
                    "notes", "POST", notes_path, json={"note": text, "customer_note": True}
                ),
                "WooCommerce order note",
            )
        order = json_object(
            self.http.request(
                "orders_write", "PUT", f"{API}/orders/{order_id}", json={"status": "completed"}
            ),
            "WooCommerce order",
        )
        return PushResult(
            external_id=text_value(note.get("id")),
            detail={"note_id": note.get("id"), "status": order.get("status")},
        )

    def cancel_push(self, push: CancelPush) -> PushResult:
        if push.lines:
            raise NotSupported("WooCommerce cancels whole orders only, not lines.")
        order_id = numeric_id(push.order_external_id, "order id")
        order = json_object(
            self.http.request(
                "orders_write", "PUT", f"{API}/orders/{order_id}", json={"status": "cancelled"}
            ),
            "WooCommerce order",
        )
        return PushResult(external_id=str(order_id), detail={"status": order.get("status")})

    def refund_push(self, push: RefundPush) -> PushResult:
        order_id = numeric_id(push.order_external_id, "order id")
        try:
            amount = round_money(Decimal(push.amount), push.currency)
        except KeyError:
            raise PermanentError(
                f"WooCommerce refund: unknown currency {push.currency!r}."
            ) from None
        if amount <= 0:
            raise PermanentError(f"WooCommerce refund: the amount {amount} is not positive.")
        tag = f"(ref {push.reference})"
        path = f"{API}/orders/{order_id}/refunds"
        refunds = self.http.request("refunds", "GET", path)
        for refund in refunds if isinstance(refunds, list) else []:
            if isinstance(refund, dict) and text_value(refund.get("reason")).endswith(tag):
                return PushResult(external_id=text_value(refund.get("id")), detail=refund)
        reason = f"{push.reason.strip()} {tag}".strip()
        refund = json_object(
            self.http.request(
                "refunds",
                "POST",
                path,
                json={"amount": str(amount), "reason": reason, "api_refund": push.move_money},
            ),
            "WooCommerce refund",
        )
        return PushResult(external_id=text_value(refund.get("id")), detail=refund)
