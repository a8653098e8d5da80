"""Shopify payloads written by hand from the documented shapes of the GraphQL Admin API 2026-04
(Order, LineItem, MoneyBag, MailingAddress, PageInfo, userErrors, extensions.cost) and of the REST
order resource that webhooks carry. The shop's currency is USD, the buyer paid in EUR: every
`shopMoney` differs from its `presentmentMoney`, so a mapper reading the wrong one fails."""

from __future__ import annotations

import copy
from typing import Any


def money(eur: str, usd: str) -> dict[str, Any]:
    """A GraphQL MoneyBag."""
    return {
        "shopMoney": {"amount": usd, "currencyCode": "USD"},
        "presentmentMoney": {"amount": eur, "currencyCode": "EUR"},
    }


def rest_money(eur: str, usd: str) -> dict[str, Any]:
    """A REST `*_set` price set."""
    return {
        "shop_money": {"amount": usd, "currency_code": "USD"},
        "presentment_money": {"amount": eur, "currency_code": "EUR"},
    }


ADDRESS = {
    "name": "Anna Schmidt",
    "address1": "Torstraße 12",
    "address2": "Hinterhaus",
    "city": "Berlin",
    "provinceCode": "BE",
    "zip": "10119",
    "countryCodeV2": "DE",
    "phone": "+49 30 1234567",
    "latitude": 52.529,
    "longitude": 13.401,
}

# Two lines: 2 x 59.90 with 12.00 off (VAT 17.21 included), 1 x 24.95 (VAT 3.98 included),
# shipping 4.95: total 2 * 59.90 - 12.00 + 24.95 + 4.95 = 137.70 EUR.
LINE_JACKET = {
    "id": "gid://shopify/LineItem/466157049",
    "sku": "TRL-JKT-BLACK-M",
    "name": "Trail shell jacket - black / M",
    "quantity": 2,
    "currentQuantity": 2,
    "requiresShipping": True,
    "originalUnitPriceSet": money("59.90", "64.69"),
    "totalDiscountSet": money("12.00", "12.96"),
    "taxLines": [{"priceSet": money("17.21", "18.59")}],
}
LINE_SOCKS = {
    "id": "gid://shopify/LineItem/518995019",
    "sku": "WOL-SCK-GREY-M",
    "name": "Wool hiking socks - grey / M",
    "quantity": 1,
    "currentQuantity": 1,
    "requiresShipping": True,
    "originalUnitPriceSet": money("24.95", "26.95"),
    "totalDiscountSet": money("0.00", "0.00"),
    "taxLines": [{"priceSet": money("3.98", "4.30")}],
}
LINE_GIFT_CARD = {
    "id": "gid://shopify/LineItem/703073504",
    "sku": None,
    "name": "Gift card",
    "quantity": 1,
    "currentQuantity": 1,
    "requiresShipping": False,
    "originalUnitPriceSet": money("0.00", "0.00"),
    "totalDiscountSet": money("0.00", "0.00"),
    "taxLines": [],
}

ORDER_NODE: dict[str, Any] = {
    "id": "gid://shopify/Order/450789469",
    "legacyResourceId": "450789469",
    "name": "#1001",
    "processedAt": "2026-03-02T09:14:05Z",
    "updatedAt": "2026-03-02T10:02:41Z",
    "cancelledAt": None,
    "cancelReason": None,
    "displayFinancialStatus": "PAID",
    "presentmentCurrencyCode": "EUR",
    "taxesIncluded": True,
    "email": "anna.schmidt@example.com",
    "phone": None,
    "note": "Please ring twice.",
    "totalPriceSet": money("137.70", "148.72"),
    "shippingLine": {
        "originalPriceSet": money("4.95", "5.35"),
        "discountedPriceSet": money("4.95", "5.35"),
    },
    "shippingAddress": ADDRESS,
    "billingAddress": {**ADDRESS, "address2": None},
    "customer": {
        "firstName": "Anna",
        "lastName": "Schmidt",
        "defaultEmailAddress": {"emailAddress": "anna.schmidt@example.com"},
        "defaultPhoneNumber": {"phoneNumber": "+4930987654"},
    },
    "lineItems": {
        "nodes": [LINE_JACKET, LINE_SOCKS, LINE_GIFT_CARD],
        "pageInfo": {"hasNextPage": False, "endCursor": "eyJsYXN0X2lkIjo1MTg5OTUwMTl9"},
    },
}


def order_node(legacy_id: int, **changes: Any) -> dict[str, Any]:
    """A copy of ORDER_NODE with another id (and other fields changed)."""
    node = copy.deepcopy(ORDER_NODE)
    node["id"] = f"gid://shopify/Order/{legacy_id}"
    node["legacyResourceId"] = str(legacy_id)
    node["name"] = f"#{legacy_id % 10000}"
    node.update(changes)
    return node


def orders_answer(nodes: list[Any], *, has_next: bool, cursor: str | None) -> dict[str, Any]:
    return {
        "data": {
            "orders": {
                "nodes": nodes,
                "pageInfo": {"hasNextPage": has_next, "endCursor": cursor},
            }
        },
        "extensions": {
            "cost": {
                "requestedQueryCost": 843,
                "actualQueryCost": 120,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": 1880,
                    "restoreRate": 100.0,
                },
            }
        },
    }


THROTTLED = {
    "errors": [
        {
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits",
            },
        }
    ],
    "extensions": {
        "cost": {
            "requestedQueryCost": 843,
            "actualQueryCost": None,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": 243,
                "restoreRate": 100.0,
            },
        }
    },
}

ACCESS_DENIED = {
    "errors": [
        {
            "message": "Access denied for orders field. Required access: `read_orders` access "
            "scope.",
            "extensions": {
                "code": "ACCESS_DENIED",
                "documentation": "https://shopify.dev/api/usage/access-scopes",
            },
        }
    ]
}

# The REST order resource, as orders/create and orders/updated deliver it.
REST_ORDER: dict[str, Any] = {
    "id": 450789469,
    "admin_graphql_api_id": "gid://shopify/Order/450789469",
    "name": "#1001",
    "order_number": 1001,
    "email": "anna.schmidt@example.com",
    "contact_email": "anna.schmidt@example.com",
    "phone": None,
    "created_at": "2026-03-02T10:14:05+01:00",
    "processed_at": "2026-03-02T10:14:05+01:00",
    "updated_at": "2026-03-02T11:02:41+01:00",
    "cancelled_at": None,
    "cancel_reason": None,
    "currency": "USD",
    "presentment_currency": "EUR",
    "financial_status": "paid",
    "fulfillment_status": None,
    "taxes_included": True,
    "total_price": "148.72",
    "total_price_set": rest_money("137.70", "148.72"),
    "note": None,
    "customer": {
        "id": 207119551,
        "email": "anna.schmidt@example.com",
        "first_name": "Anna",
        "last_name": "Schmidt",
        "phone": "+4930987654",
    },
    "shipping_address": {
        "first_name": "Anna",
        "last_name": "Schmidt",
        "name": "Anna Schmidt",
        "company": None,
        "address1": "Torstraße 12",
        "address2": "Hinterhaus",
        "city": "Berlin",
        "province": "Berlin",
        "province_code": "BE",
        "zip": "10119",
        "country": "Germany",
        "country_code": "DE",
        "phone": "+49 30 1234567",
        "latitude": 52.529,
        "longitude": 13.401,
    },
    "billing_address": None,
    "line_items": [
        {
            "id": 466157049,
            "admin_graphql_api_id": "gid://shopify/LineItem/466157049",
            "variant_id": 39072856,
            "sku": "TRL-JKT-BLACK-M",
            "name": "Trail shell jacket - black / M",
            "title": "Trail shell jacket",
            "quantity": 2,
            "current_quantity": 2,
            "requires_shipping": True,
            "price": "64.69",
            "price_set": rest_money("59.90", "64.69"),
            "total_discount": "12.96",
            "total_discount_set": rest_money("12.00", "12.96"),
            "tax_lines": [
                {
                    "title": "DE VAT",
                    "rate": 0.19,
                    "price": "18.59",
                    "price_set": rest_money("17.21", "18.59"),
                }
            ],
        },
        {
            "id": 518995019,
            "admin_graphql_api_id": "gid://shopify/LineItem/518995019",
            "variant_id": 49148385,
            "sku": "WOL-SCK-GREY-M",
            "name": "Wool hiking socks - grey / M",
            "title": "Wool hiking socks",
            "quantity": 1,
            "current_quantity": 1,
            "requires_shipping": True,
            "price": "26.95",
            "price_set": rest_money("24.95", "26.95"),
            "total_discount": "0.00",
            "total_discount_set": rest_money("0.00", "0.00"),
            "tax_lines": [
                {
                    "title": "DE VAT",
                    "rate": 0.19,
                    "price": "4.30",
                    "price_set": rest_money("3.98", "4.30"),
                }
            ],
        },
    ],
    "shipping_lines": [
        {
            "id": 369256396,
            "title": "Standard",
            "code": "Standard",
            "price": "5.35",
            "price_set": rest_money("4.95", "5.35"),
            "discounted_price": "5.35",
            "discounted_price_set": rest_money("4.95", "5.35"),
        }
    ],
}

FULFILLMENT_ORDERS = {
    "data": {
        "order": {
            "id": "gid://shopify/Order/450789469",
            "fulfillments": [],
            "fulfillmentOrders": {
                "nodes": [
                    {
                        "id": "gid://shopify/FulfillmentOrder/1046000778",
                        "status": "CLOSED",
                        "assignedLocation": {"location": {"id": "gid://shopify/Location/1"}},
                        "lineItems": {
                            "nodes": [
                                {
                                    "id": "gid://shopify/FulfillmentOrderLineItem/1",
                                    "remainingQuantity": 0,
                                    "lineItem": {
                                        "id": "gid://shopify/LineItem/466157049",
                                        "sku": "TRL-JKT-BLACK-M",
                                    },
                                }
                            ]
                        },
                    },
                    {
                        "id": "gid://shopify/FulfillmentOrder/1046000779",
                        "status": "OPEN",
                        "assignedLocation": {
                            "location": {"id": "gid://shopify/Location/655441491"}
                        },
                        "lineItems": {
                            "nodes": [
                                {
                                    "id": "gid://shopify/FulfillmentOrderLineItem/1058737482",
                                    "remainingQuantity": 2,
                                    "lineItem": {
                                        "id": "gid://shopify/LineItem/466157049",
                                        "sku": "TRL-JKT-BLACK-M",
                                    },
                                },
                                {
                                    "id": "gid://shopify/FulfillmentOrderLineItem/1058737483",
                                    "remainingQuantity": 1,
                                    "lineItem": {
                                        "id": "gid://shopify/LineItem/518995019",
                                        "sku": "WOL-SCK-GREY-M",
                                    },
                                },
                            ]
                        },
                    },
                ]
            },
        }
    }
}

FULFILLMENT_CREATED = {
    "data": {
        "fulfillmentCreate": {
            "fulfillment": {"id": "gid://shopify/Fulfillment/255858046", "status": "SUCCESS"},
            "userErrors": [],
        }
    }
}

ORDER_TRANSACTIONS = {
    "data": {
        "order": {
            "id": "gid://shopify/Order/450789469",
            "presentmentCurrencyCode": "EUR",
            "transactions": [
                {
                    "id": "gid://shopify/OrderTransaction/389404469",
                    "kind": "AUTHORIZATION",
                    "status": "SUCCESS",
                    "gateway": "shopify_payments",
                    "amountSet": money("137.70", "148.72"),
                },
                {
                    "id": "gid://shopify/OrderTransaction/801038806",
                    "kind": "CAPTURE",
                    "status": "SUCCESS",
                    "gateway": "shopify_payments",
                    "amountSet": money("137.70", "148.72"),
                },
            ],
        }
    }
}
