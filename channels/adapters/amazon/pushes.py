"""What we write to SP-API: stock (patchListingsItem) and shipment confirmations
(confirmShipment); Amazon takes cancellations and refunds in Seller Central only."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from channels.adapters.amazon.api import CARRIER_CODES, DEFAULT_PRODUCT_TYPE
from channels.adapters.amazon.client import AmazonClient
from channels.adapters.amazon.mapping import iso_utc, text_value
from channels.adapters.base import (
    CancelPush,
    FulfilmentPush,
    NotSupported,
    PushResult,
    RefundPush,
    StockItem,
    StockResult,
    json_object,
)
from oms.errors import PermanentError


def _package_reference(reference: str) -> str:
    """Amazon's packageReferenceId takes positive numbers only: the digits of our reference."""
    digits = "".join(ch for ch in reference if ch.isdigit()).lstrip("0")
    return digits or str(zlib.crc32(reference.encode("utf-8")) or 1)


def _carrier(name: str) -> tuple[str, str]:
    """(carrierCode, carrierName): carrierName only for carriers Amazon does not list."""
    key = "".join(ch for ch in name.lower() if ch.isalnum())
    code = CARRIER_CODES.get(key)
    return (code, "") if code else ("Other", name.strip() or "Other")


class AmazonPushes(AmazonClient):
    """Stock and fulfilment pushes on top of the client."""

    def stock_push(self, items: Sequence[StockItem]) -> list[StockResult]:
        """patchListingsItem per SKU: the DEFAULT (merchant) channel's sellable quantity."""
        seller = quote(self._required("seller_id"), safe="")
        marketplace = self._required("marketplace_id")
        product_type = text_value(self.credentials.get("product_type")) or DEFAULT_PRODUCT_TYPE
        if items:
            self._auth_headers()  # credentials that cannot give a token fail the push, not a SKU
        results = []
        for item in items:
            body = {
                "productType": product_type,
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [
                            {
                                "fulfillment_channel_code": "DEFAULT",
                                "quantity": max(0, item.quantity),
                            }
                        ],
                    }
                ],
            }
            try:
                answer = json_object(
                    self.http.request(
                        "patchListingsItem",
                        "PATCH",
                        f"/listings/2021-08-01/items/{seller}/{quote(item.sku, safe='')}",
                        params={"marketplaceIds": marketplace},
                        json=body,
                    ),
                    "Amazon patchListingsItem",
                )
            except PermanentError as exc:  # this SKU was refused (400, 404 ...): the others go on
                results.append(StockResult(sku=item.sku, ok=False, error=str(exc)[:500]))
                continue
            status = text_value(answer.get("status")).upper()
            if status == "ACCEPTED":
                results.append(StockResult(sku=item.sku, ok=True))
                continue
            issues = [
                f"{issue.get('code')}: {issue.get('message')}"
                for issue in answer.get("issues") or []
                if isinstance(issue, dict)
            ]
            error = "; ".join(issues) or f"submission status {status or 'missing'}"
            results.append(StockResult(sku=item.sku, ok=False, error=error[:500]))
        return results

    def fulfilment_push(self, push: FulfilmentPush) -> PushResult:
        """confirmShipment of one package; answered 204 by Amazon."""
        order_items = []
        for line in push.lines:
            if not line.external_line_id:
                raise PermanentError(
                    f"Amazon order {push.order_external_id}: line {line.sku} has no orderItemId."
                )
            order_items.append({"orderItemId": line.external_line_id, "quantity": line.quantity})
        if not order_items:
            raise PermanentError(f"Amazon order {push.order_external_id}: nothing to confirm.")
        if not push.tracking_number:
            raise PermanentError(
                f"Amazon order {push.order_external_id}: a shipment confirmation needs tracking."
            )
        carrier_code, carrier_name = _carrier(push.carrier)
        package: dict[str, Any] = {
            "packageReferenceId": _package_reference(push.reference),
            "carrierCode": carrier_code,
            "trackingNumber": push.tracking_number,
            "shipDate": iso_utc(push.shipped_at),
            "orderItems": order_items,
        }
        if carrier_name:
            package["carrierName"] = carrier_name
        if push.service:
            package["shippingMethod"] = push.service
        body = {"marketplaceId": self._required("marketplace_id"), "packageDetail": package}
        self.http.request(
            "confirmShipment",
            "POST",
            f"/orders/v0/orders/{quote(push.order_external_id, safe='')}/shipmentConfirmation",
            json=body,
            expect_json=False,
        )
        return PushResult(
            external_id=package["packageReferenceId"],
            detail={"reference": push.reference, "packageDetail": package},
        )

    def cancel_push(self, push: CancelPush) -> PushResult:
        """Not offered: Amazon has no simple documented seller-cancel call (Seller Central or an
        order-acknowledgement feed cancel orders)."""
        raise NotSupported("Cancel Amazon orders in Seller Central or through a feed.")

    def refund_push(self, push: RefundPush) -> PushResult:
        """Not offered: refunds on Amazon go through Seller Central or feeds."""
        raise NotSupported("Refund Amazon orders in Seller Central or through a feed.")
