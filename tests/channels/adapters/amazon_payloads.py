"""Fake SP-API payloads, written by hand from the documented shapes of Orders API v2026-01-01
(searchOrders: Order, OrderItem, Money, Pagination), Listings Items 2021-08-01
(ListingsItemSubmissionResponse), the SP-API ErrorList and the LWA token answer."""

from __future__ import annotations

import copy
from typing import Any

SELLER_ID = "A2SELLER0TEST"
MARKETPLACE_DE = "A1PM5CNQ7Y3OE2"  # any EU marketplace id: prices include VAT there
MARKETPLACE_US = "ATVPDKIKX0DER"


def money(amount: str, currency: str = "EUR") -> dict[str, str]:
    return {"amount": amount, "currencyCode": currency}


def lwa_token(token: str = "Atza|first", expires_in: int = 3600) -> dict[str, Any]:
    return {
        "access_token": token,
        "refresh_token": "Atzr|refresh",
        "token_type": "bearer",
        "expires_in": expires_in,
    }


def error_list(code: str, message: str, details: str = "") -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "details": details}]}


EXPIRED_TOKEN = error_list(
    "Unauthorized",
    "Access to requested resource is denied.",
    "The access token you provided has expired.",
)


def _item(
    item_id: str,
    sku: str,
    quantity: int,
    unit: str | None,
    *,
    item_total: str | None = None,
    tax: str | None = None,
    shipping: str | None = None,
    discount: str | None = None,
    currency: str = "EUR",
) -> dict[str, Any]:
    product: dict[str, Any] = {
        "asin": "B0TEST" + item_id[-4:],
        "title": f"Product {sku}",
        "sellerSku": sku,
        "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
    }
    if unit is not None:
        product["price"] = {"unitPrice": money(unit, currency)}
    breakdowns = []
    for kind, amount in (
        ("ITEM", item_total),
        ("TAX", tax),
        ("SHIPPING", shipping),
        ("DISCOUNT", discount),
    ):
        if amount is not None:
            breakdowns.append({"type": kind, "subtotal": money(amount, currency)})
    item: dict[str, Any] = {
        "orderItemId": item_id,
        "quantityOrdered": quantity,
        "programs": [],
        "product": product,
        "fulfillment": {"quantityFulfilled": 0, "quantityUnfulfilled": quantity},
    }
    if breakdowns:
        item["proceeds"] = {"breakdowns": breakdowns}
    return item


def unshipped_order(
    order_id: str = "302-1111111-2222222", *, updated: str = "2026-03-02T10:15:00Z"
) -> dict[str, Any]:
    """An MFN order ready to ship: 2 x 24.99 EUR, 2.00 off, shipping 4.50, VAT (7.98) included."""
    return {
        "orderId": order_id,
        "orderAliases": [{"aliasId": "SELLER-7", "aliasType": "SELLER_ORDER_ID"}],
        "createdTime": "2026-03-02T09:58:00Z",
        "lastUpdatedTime": updated,
        "programs": ["PRIME"],
        "salesChannel": {
            "channelName": "AMAZON",
            "marketplaceId": MARKETPLACE_DE,
            "marketplaceName": "Amazon.de",
        },
        "buyer": {
            "buyerName": "Erika Mustermann",
            "buyerEmail": "abc123xyz@marketplace.amazon.de",
        },
        "recipient": {
            "deliveryAddress": {
                "name": "Erika Mustermann",
                "addressLine1": "Heidestrasse 17",
                "addressLine2": "Hinterhaus",
                "addressLine3": "3. OG",
                "city": "Koeln",
                "stateOrRegion": "NRW",
                "postalCode": "51147",
                "countryCode": "DE",
                "phone": "+49 221 1234567",
                "addressType": "RESIDENTIAL",
            }
        },
        "proceeds": {
            "grandTotal": money("52.48"),
            "breakdowns": [
                {"type": "ITEM", "subtotal": money("49.98")},
                {"type": "SHIPPING", "subtotal": money("4.50")},
                {"type": "TAX", "subtotal": money("7.98")},
                {"type": "DISCOUNT", "subtotal": money("-2.00")},
            ],
        },
        "fulfillment": {
            "fulfillmentStatus": "UNSHIPPED",
            "fulfilledBy": "MERCHANT",
            "fulfillmentServiceLevel": "STANDARD",
            "shipByWindow": {
                "earliestDateTime": "2026-03-02T10:00:00Z",
                "latestDateTime": "2026-03-03T23:59:59Z",
            },
        },
        "orderItems": [
            _item(
                "49912345678901",
                "MUG-RED",
                2,
                "24.99",
                item_total="49.98",
                tax="-7.98",
                shipping="4.50",
                discount="-2.00",
            )
        ],
    }


def pending_order(order_id: str = "302-3333333-4444444") -> dict[str, Any]:
    order = unshipped_order(order_id, updated="2026-03-02T10:05:00Z")
    order["fulfillment"]["fulfillmentStatus"] = "PENDING"
    return order


def fba_order(order_id: str = "302-5555555-6666666") -> dict[str, Any]:
    order = unshipped_order(order_id, updated="2026-03-02T10:20:00Z")
    order["fulfillment"] = {
        "fulfillmentStatus": "SHIPPED",
        "fulfilledBy": "AMAZON",
        "fulfillmentServiceLevel": "STANDARD",
    }
    return order


def cancelled_order(order_id: str = "302-7777777-8888888") -> dict[str, Any]:
    order = unshipped_order(order_id, updated="2026-03-02T11:00:00Z")
    order["fulfillment"]["fulfillmentStatus"] = "CANCELLED"
    item = order["orderItems"][0]
    item["quantityOrdered"] = 0
    item["cancellation"] = {
        "cancellationRequest": {"requester": "BUYER", "cancelReason": "Changed my mind"},
        "cancellationExecution": {"cancelledBy": "MERCHANT", "cancelReason": "Buyer asked"},
    }
    return order


def line_total_only_order(order_id: str = "302-9999999-0000000") -> dict[str, Any]:
    """An item without unitPrice: only its ITEM proceeds (the line total) are given."""
    order = unshipped_order(order_id)
    order["orderItems"] = [_item("49900000000003", "PEN-BLUE", 3, None, item_total="10.00")]
    return order


def search_answer(
    *orders: dict[str, Any], next_token: str | None = None, **extra: Any
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "orders": [copy.deepcopy(o) for o in orders],
        "lastUpdatedBefore": "2026-03-02T12:00:00Z",
        **extra,
    }
    if next_token:
        answer["pagination"] = {"nextToken": next_token}
    return answer


def listing_accepted(sku: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "status": "ACCEPTED",
        "submissionId": "f1dc2914-75dd-11ea-bc55-0242ac130003",
        "issues": [],
    }


def listing_invalid(sku: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "status": "INVALID",
        "submissionId": "a2bc3914-75dd-11ea-bc55-0242ac130004",
        "issues": [
            {
                "code": "90220",
                "message": "'fulfillment_availability' is not a valid attribute for this SKU.",
                "severity": "ERROR",
                "attributeNames": ["fulfillment_availability"],
            }
        ],
    }
