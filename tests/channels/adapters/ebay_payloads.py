"""Hand-written eBay payloads, shaped as eBay documents them (Sell Fulfillment getOrders/getOrder,
Inventory bulkUpdatePriceQuantity, Notification API, OAuth token). Field names are eBay's own."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def amount(value: str, currency: str = "USD") -> dict[str, str]:
    return {"value": value, "currency": currency}


def line_item(
    line_item_id: str = "10000000001001",
    *,
    sku: str | None = "MUG-BLUE",
    title: str = "Blue enamel mug",
    quantity: Any = 3,
    line_item_cost: str = "59.97",
    promotions: Sequence[str] = (),
    taxes: Sequence[str] = (),
    currency: str = "USD",
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "lineItemId": line_item_id,
        "legacyItemId": "110551234567",
        "title": title,
        "quantity": quantity,
        "soldFormat": "FIXED_PRICE",
        "listingMarketplaceId": "EBAY_US",
        "purchaseMarketplaceId": "EBAY_US",
        "lineItemFulfillmentStatus": "NOT_STARTED",
        "lineItemCost": amount(line_item_cost, currency),
        "total": amount(line_item_cost, currency),
        "deliveryCost": {"shippingCost": amount("0.0", currency)},
        "appliedPromotions": [
            {
                "description": "5 USD off",
                "discountAmount": amount(value, currency),
                "promotionId": f"5012345{number}",
            }
            for number, value in enumerate(promotions)
        ],
        "taxes": [
            {"amount": amount(value, currency), "taxType": "STATE_SALES_TAX"} for value in taxes
        ],
        "refunds": [],
        "properties": {"buyerProtection": True},
        "lineItemFulfillmentInstructions": {
            "guaranteedDelivery": False,
            "shipByDate": "2024-05-03T06:59:59.000Z",
            "minEstimatedDeliveryDate": "2024-05-06T07:00:00.000Z",
            "maxEstimatedDeliveryDate": "2024-05-09T07:00:00.000Z",
        },
    }
    if sku is not None:
        item["sku"] = sku
    return item


def ebay_order(
    order_id: str = "04-11111-22222",
    *,
    modified: str = "2024-05-01T12:30:45.678Z",
    payment: str = "PAID",
    cancel_state: str = "NONE_REQUESTED",
    line_items: list[dict[str, Any]] | None = None,
    ship_to_email: str | None = "alice.ship@example.com",
    legacy_order_id: str = "110551234567-27612345001",
) -> dict[str, Any]:
    """A two-line US order: 3 mugs (line total 59.97, 5.00 promotion, 4.40 tax) and one T-shirt
    (10.00, 0.80 tax), 7.50 delivery; total 77.67."""
    ship_to: dict[str, Any] = {
        "fullName": "Alice Buyer",
        "contactAddress": {
            "addressLine1": "2145 Hamilton Ave",
            "addressLine2": "Apt 4",
            "city": "San Jose",
            "stateOrProvince": "CA",
            "postalCode": "95125",
            "countryCode": "US",
        },
        "primaryPhone": {"phoneNumber": "4085551234"},
    }
    if ship_to_email:
        ship_to["email"] = ship_to_email
    return {
        "orderId": order_id,
        "legacyOrderId": legacy_order_id,
        "creationDate": "2024-05-01T12:00:01.000Z",
        "lastModifiedDate": modified,
        "orderFulfillmentStatus": "NOT_STARTED",
        "orderPaymentStatus": payment,
        "sellerId": "oms_seller",
        "salesRecordReference": "1042",
        "buyer": {
            "username": "buyer_one",
            "taxAddress": {"stateOrProvince": "CA", "postalCode": "95125", "countryCode": "US"},
            "buyerRegistrationAddress": {
                "fullName": "Alice Buyer",
                "email": "alice.registered@example.com",
                "primaryPhone": {"phoneNumber": "4085550000"},
                "contactAddress": {
                    "addressLine1": "2145 Hamilton Ave",
                    "city": "San Jose",
                    "stateOrProvince": "CA",
                    "postalCode": "95125",
                    "countryCode": "US",
                },
            },
        },
        "buyerCheckoutNotes": "Please leave at the door",
        "pricingSummary": {
            "priceSubtotal": amount("69.97"),
            "priceDiscount": amount("-5.00"),
            "deliveryCost": amount("7.50"),
            "tax": amount("5.20"),
            "total": amount("77.67"),
        },
        "cancelStatus": {"cancelState": cancel_state, "cancelRequests": []},
        "paymentSummary": {
            "totalDueSeller": amount("72.47"),
            "refunds": [],
            "payments": [
                {
                    "paymentMethod": "EBAY",
                    "paymentReferenceId": "8HB12345AB123456C",
                    "paymentDate": "2024-05-01T12:00:05.000Z",
                    "amount": amount("77.67"),
                    "paymentStatus": "PAID" if payment == "PAID" else "PENDING",
                }
            ],
        },
        "fulfillmentStartInstructions": [
            {
                "fulfillmentInstructionsType": "SHIP_TO",
                "minEstimatedDeliveryDate": "2024-05-06T07:00:00.000Z",
                "maxEstimatedDeliveryDate": "2024-05-09T07:00:00.000Z",
                "ebaySupportedFulfillment": False,
                "shippingStep": {
                    "shippingCarrierCode": "USPS",
                    "shippingServiceCode": "USPSPriority",
                    "shipTo": ship_to,
                },
            }
        ],
        "fulfillmentHrefs": [],
        "lineItems": line_items
        if line_items is not None
        else [
            line_item(promotions=["5.00"], taxes=["4.40"]),
            line_item(
                "10000000002002",
                sku="TEE-M",
                title="T-shirt, medium",
                quantity=1,
                line_item_cost="10.00",
                taxes=["0.80"],
            ),
        ],
        "totalFeeBasisAmount": amount("77.67"),
        "totalMarketplaceFee": amount("10.28"),
    }


def orders_page(
    orders: list[Any],
    *,
    offset: int = 0,
    limit: int = 200,
    total: int | None = None,
    base: str = "",
) -> dict[str, Any]:
    """An OrderSearchPagedCollection; `next` only while more orders remain."""
    total = len(orders) + offset if total is None else total
    path = f"{base}/sell/fulfillment/v1/order"
    page: dict[str, Any] = {
        "href": f"{path}?limit={limit}&offset={offset}",
        "total": total,
        "limit": limit,
        "offset": offset,
        "orders": orders,
    }
    if offset + limit < total:
        page["next"] = f"{path}?limit={limit}&offset={offset + limit}"
    if offset:
        page["prev"] = f"{path}?limit={limit}&offset={max(0, offset - limit)}"
    return page


def token_answer(token: str, *, expires_in: int = 7200, user: bool = True) -> dict[str, Any]:
    kind = "User Access Token" if user else "Application Access Token"
    return {"access_token": token, "expires_in": expires_in, "token_type": kind}


def notification(
    topic: str = "ORDER_CONFIRMATION",
    *,
    notification_id: str = "5f6a8c1e-6ab2-4d2b-9b8e-2e1c5a7d9f00_2a1b3c4d",
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"topic": topic, "schemaVersion": "1.0", "deprecated": False},
        "notification": {
            "notificationId": notification_id,
            "eventDate": "2024-05-01T12:00:03.120Z",
            "publishDate": "2024-05-01T12:00:04.500Z",
            "publishAttemptCount": 1,
            "data": data if data is not None else {"orderId": "04-11111-22222"},
        },
    }


class Signer:
    """An EC P-256 key pair standing in for eBay's notification signing key."""

    def __init__(self, kid: str = "99345c5a-8a68-4e5b-a11b-0d7e8d4c1a01") -> None:
        self.kid = kid
        self.private = ec.generate_private_key(ec.SECP256R1())

    def public_key_answer(self) -> dict[str, str]:
        """getPublicKey's answer; eBay writes the PEM on one line, as here."""
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        pem = f"-----BEGIN PUBLIC KEY-----{base64.b64encode(der).decode()}-----END PUBLIC KEY-----"
        return {"algorithm": "ECDSA", "digest": "SHA1", "key": pem}

    def header(self, body: bytes, *, kid: str | None = None) -> str:
        signature = self.private.sign(body, ec.ECDSA(hashes.SHA1()))
        value = {
            "alg": "ecdsa",
            "kid": kid or self.kid,
            "signature": base64.b64encode(signature).decode(),
            "digest": "SHA1",
        }
        return base64.b64encode(json.dumps(value).encode()).decode()


def bulk_answer(responses: list[dict[str, Any]]) -> dict[str, Any]:
    return {"responses": responses}


def sku_ok(sku: str, offer_id: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"statusCode": 200, "sku": sku}
    if offer_id:
        answer["offerId"] = offer_id
    return answer


def sku_error(sku: str, error_id: int, message: str) -> dict[str, Any]:
    return {
        "statusCode": 400,
        "sku": sku,
        "errors": [
            {
                "errorId": error_id,
                "domain": "API_INVENTORY",
                "category": "REQUEST",
                "message": message,
                "parameters": [{"name": "sku", "value": sku}],
            }
        ],
    }
