"""What we write to eBay: stock (bulkUpdatePriceQuantity), shipments
(createShippingFulfillment), cancellations (Post-Order API, whole orders) and refunds
(issueRefund)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

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
from channels.adapters.ebay.api import (
    CANCEL_PATH,
    CARRIER_CODES,
    ORDERS_PATH,
    REFUND_REASONS,
    SELLER_CANCEL_REASONS,
    STOCK_BATCH,
    STOCK_PATH,
)
from channels.adapters.ebay.client import EbayClient
from channels.adapters.ebay.mapping import dict_value, ebay_timestamp, text_value
from oms.errors import PermanentError, TransientError
from oms.money import round_money_read


class EbayPushes(EbayClient):
    """Stock, fulfilment, cancel and refund pushes on top of the client."""

    # --- stock ----------------------------------------------------------------------------------

    def stock_push(self, items: Sequence[StockItem]) -> list[StockResult]:
        results: list[StockResult] = []
        for batch in chunks(list(items), STOCK_BATCH):
            requests = []
            for item in batch:
                quantity = max(0, int(item.quantity))
                request: dict[str, Any] = {
                    "sku": item.sku,
                    "shipToLocationAvailability": {"quantity": quantity},
                }
                if item.external_id:
                    request["offers"] = [
                        {"offerId": item.external_id, "availableQuantity": quantity}
                    ]
                requests.append(request)
            try:
                answer = json_object(
                    self.http.request("stock", "POST", STOCK_PATH, json={"requests": requests}),
                    "eBay bulkUpdatePriceQuantity",
                )
            except TransientError:
                raise
            except PermanentError as exc:
                results += [StockResult(sku=item.sku, ok=False, error=str(exc)) for item in batch]
                continue
            errors: dict[str, list[str]] = {}
            for response in answer.get("responses") or []:
                if not isinstance(response, dict):
                    continue
                sku = text_value(response.get("sku"))
                problems = errors.setdefault(sku, [])
                try:
                    status = int(response.get("statusCode") or 0)
                except (TypeError, ValueError):
                    status = 0
                for entry in response.get("errors") or []:
                    error = dict_value(entry)
                    text = text_value(error.get("message")) or text_value(error.get("longMessage"))
                    problems.append(f"{error.get('errorId', '')}: {text}".strip(": "))
                if not 200 <= status < 300 and not problems:
                    problems.append(f"status {status or 'missing'}")
            for item in batch:
                if item.sku not in errors:
                    results.append(StockResult(item.sku, False, "eBay did not answer for it"))
                else:
                    problems = errors[item.sku]
                    results.append(StockResult(item.sku, not problems, "; ".join(problems)))
        return results

    # --- fulfilment, cancellation, refund ------------------------------------------------------

    def fulfilment_push(self, push: FulfilmentPush) -> PushResult:
        if not push.lines or any(not line.external_line_id for line in push.lines):
            raise PermanentError("eBay shipping fulfillment: every line needs its lineItemId.")
        tracking = re.sub(r"[^0-9A-Za-z]", "", push.tracking_number or "")
        body: dict[str, Any] = {
            "lineItems": [
                {"lineItemId": line.external_line_id, "quantity": line.quantity}
                for line in push.lines
            ],
            "shippedDate": ebay_timestamp(push.shipped_at),
        }
        if tracking:  # eBay wants both or neither
            carrier = (push.carrier or "").strip()
            body["shippingCarrierCode"] = CARRIER_CODES.get(carrier.lower(), carrier) or "Other"
            body["trackingNumber"] = tracking
        path = f"{ORDERS_PATH}/{quote(push.order_external_id, safe='')}/shipping_fulfillment"
        try:
            response = self.http.request("fulfilment", "POST", path, json=body, expect_json=False)
        except TransientError:
            raise
        except PermanentError:
            existing = self._existing_fulfillment(path, tracking)
            if existing is None:
                raise
            return PushResult(external_id=existing, detail={"already_reported": True})
        location = response.headers.get("Location", "")
        fulfillment_id = location.rstrip("/").rpartition("/")[2] if location else tracking
        return PushResult(
            external_id=fulfillment_id, detail={"location": location, "reference": push.reference}
        )

    def _existing_fulfillment(self, path: str, tracking: str) -> str | None:
        """The id of the order's fulfillment with this tracking number, if eBay has one."""
        if not tracking:
            return None
        answer = json_object(self.http.request("fulfilment", "GET", path), "eBay fulfillments")
        for fulfillment in answer.get("fulfillments") or []:
            fulfillment = dict_value(fulfillment)
            if text_value(fulfillment.get("shipmentTrackingNumber")) == tracking:
                return text_value(fulfillment.get("fulfillmentId")) or tracking
        return None

    def cancel_push(self, push: CancelPush) -> PushResult:
        order = self._order(push.order_external_id)
        if (
            text_value(dict_value(order.get("cancelStatus")).get("cancelState")).upper()
            == "CANCELED"
        ):
            return PushResult(detail={"already_cancelled": True})
        if push.lines:
            ordered = {
                text_value(dict_value(item).get("lineItemId")): int(
                    dict_value(item).get("quantity") or 0
                )
                for item in order.get("lineItems") or []
            }
            asked: dict[str, int] = {}
            for line in push.lines:
                asked[line.external_line_id] = asked.get(line.external_line_id, 0) + line.quantity
            if asked != ordered:
                raise NotSupported("eBay cancels whole orders only, not some of their lines.")
        legacy_id = text_value(order.get("legacyOrderId"))
        if not legacy_id:
            raise PermanentError(f"eBay order {push.order_external_id} has no legacyOrderId.")
        answer = json_object(
            self._post_order.request(
                "cancel",
                "POST",
                CANCEL_PATH,
                json={"legacyOrderId": legacy_id, "cancelReason": _cancel_reason(push.reason)},
            ),
            "eBay createCancellation",
        )
        cancel_id = text_value(answer.get("cancelId"))
        if not cancel_id:
            raise PermanentError(
                f"eBay refused to cancel order {push.order_external_id}: "
                f"{json.dumps(answer.get('orderEligibilityResult') or answer)[:300]}"
            )
        return PushResult(external_id=cancel_id, detail=answer)

    def refund_push(self, push: RefundPush) -> PushResult:
        amount = Decimal(push.amount)
        if amount <= 0:
            raise PermanentError("eBay issueRefund: the amount must be positive.")
        currency = (push.currency or self.context.currency).upper()
        body = {
            "reasonForRefund": _refund_reason(push.reason),
            "comment": f"{push.reference}: {push.reason}".strip(": ")[:100],
            "orderLevelRefundAmount": {
                "value": str(round_money_read(amount, currency)),
                "currency": currency,
            },
        }
        answer = json_object(
            self.http.request(
                "refund",
                "POST",
                f"{ORDERS_PATH}/{quote(push.order_external_id, safe='')}/issue_refund",
                json=body,
            ),
            "eBay issueRefund",
        )
        if text_value(answer.get("refundStatus")).upper() == "FAILED":
            raise PermanentError(f"eBay refused the refund of order {push.order_external_id}.")
        return PushResult(external_id=text_value(answer.get("refundId")), detail=answer)

    def refund_state(self, order_external_id: str, refund_id: str) -> str:
        """eBay's status of one of the order's refunds (PENDING, REFUNDED, FAILED; "" when
        eBay does not list it): issueRefund answers PENDING while eBay moves the money."""
        order = self._order(order_external_id)
        for refund in dict_value(order.get("paymentSummary")).get("refunds") or []:
            refund = dict_value(refund)
            if text_value(refund.get("refundId")) == refund_id:
                return text_value(refund.get("refundStatus")).upper()
        return ""

    def refund_lookup(self, push: RefundPush, known: Collection[str]) -> PushResult | None:
        """The refund eBay made for a push whose answer was lost: issueRefund takes no key of
        ours, so the order's refunds (getOrder `paymentSummary.refunds`) are read and one of
        the amount asked for that is none of the refunds we already know (`known`: their
        refundIds) and did not fail is taken as it. None when there is none: asking again
        is then safe."""
        order = self._order(push.order_external_id)
        currency = (push.currency or self.context.currency).upper()
        wanted = round_money_read(Decimal(push.amount), currency)
        for refund in dict_value(order.get("paymentSummary")).get("refunds") or []:
            refund = dict_value(refund)
            refund_id = text_value(refund.get("refundId"))
            if not refund_id or refund_id in known:
                continue
            if text_value(refund.get("refundStatus")).upper() == "FAILED":
                continue
            amount = dict_value(refund.get("amount"))
            try:
                value = Decimal(text_value(amount.get("value")))
            except ArithmeticError:
                continue
            if value == wanted and text_value(amount.get("currency")).upper() == currency:
                return PushResult(external_id=refund_id, detail=refund)
        return None


def _cancel_reason(reason: str) -> str:
    text = (reason or "").strip()
    if text.upper() in SELLER_CANCEL_REASONS:
        return text.upper()
    lowered = text.lower()
    if "address" in lowered:
        return "ADDRESS_ISSUES"
    if any(word in lowered for word in ("buyer", "customer", "request")):
        return "BUYER_ASKED_CANCEL"
    return "OUT_OF_STOCK_OR_CANNOT_FULFILL"


def _refund_reason(reason: str) -> str:
    text = (reason or "").strip()
    if text.upper() in REFUND_REASONS:
        return text.upper()
    lowered = text.lower()
    for words, value in (
        (("not received", "not_received", "lost"), "ITEM_NOT_RECEIVED"),
        (("not as described", "not_as_described", "damaged", "defect"), "ITEM_NOT_AS_DESCRIBED"),
        (("return",), "BUYER_RETURN"),
        (("cancel",), "BUYER_CANCEL"),
        (("shipping",), "SHIPPING_DISCOUNT"),
    ):
        if any(word in lowered for word in words):
            return value
    return "OTHER_ADJUSTMENT"
