"""WooCommerce REST API v3 payloads, written by hand after the documented shapes.

Field names are WooCommerce's own (orders, order notes, refunds, products batch, webhooks).
"""

from __future__ import annotations

import copy
from typing import Any


def address(**overrides: Any) -> dict[str, Any]:
    base = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "",
        "address_1": "12 Analytical Row",
        "address_2": "Flat 3",
        "city": "London",
        "state": "",
        "postcode": "SW1A 1AA",
        "country": "GB",
        "phone": "+44 20 7946 0000",
    }
    base.update(overrides)
    return base


def line_item(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 315,
        "name": "Linen shirt - Blue",
        "product_id": 93,
        "variation_id": 0,
        "quantity": 2,
        "tax_class": "",
        "subtotal": "40.00",
        "subtotal_tax": "8.00",
        "total": "36.00",
        "total_tax": "7.20",
        "taxes": [{"id": 75, "total": "7.2", "subtotal": "8"}],
        "meta_data": [],
        "sku": "SHIRT-BLUE-M",
        # Woo's `price` is a JSON number: the line total after coupons divided by quantity.
        "price": 18,
    }
    base.update(overrides)
    return base


def order(**overrides: Any) -> dict[str, Any]:
    """A processing EUR order: 2 shirts (a 10% coupon), 1 mug, shipping with tax."""
    base: dict[str, Any] = {
        "id": 727,
        "parent_id": 0,
        "number": "727",
        "order_key": "wc_order_58d2d042d1d",
        "created_via": "checkout",
        "version": "9.4.2",
        "status": "processing",
        "currency": "EUR",
        "date_created": "2025-03-22T16:28:02",
        "date_created_gmt": "2025-03-22T15:28:02",
        "date_modified": "2025-03-22T16:30:00",
        "date_modified_gmt": "2025-03-22T15:30:00",
        "discount_total": "4.00",
        "discount_tax": "0.80",
        "shipping_total": "5.00",
        "shipping_tax": "1.00",
        "cart_tax": "9.20",
        "total": "61.20",
        "total_tax": "10.20",
        "prices_include_tax": False,
        "customer_id": 0,
        "customer_ip_address": "203.0.113.7",
        "customer_user_agent": "Mozilla/5.0",
        "customer_note": "Leave with the neighbour",
        "billing": {**address(), "email": "ada@example.com"},
        "shipping": address(),
        "payment_method": "stripe",
        "payment_method_title": "Credit card",
        "transaction_id": "ch_3Ab",
        "date_paid": "2025-03-22T16:28:05",
        "date_paid_gmt": "2025-03-22T15:28:05",
        "date_completed": None,
        "date_completed_gmt": None,
        "cart_hash": "",
        "meta_data": [],
        "line_items": [
            line_item(),
            line_item(
                id=316,
                name="Enamel mug",
                product_id=94,
                quantity=1,
                subtotal="10.00",
                subtotal_tax="2.00",
                total="10.00",
                total_tax="2.00",
                taxes=[{"id": 75, "total": "2", "subtotal": "2"}],
                sku="MUG-1",
                price=10,
            ),
        ],
        "tax_lines": [
            {
                "id": 318,
                "rate_code": "DE-MWST-1",
                "rate_id": 75,
                "label": "MwSt",
                "compound": False,
                "tax_total": "9.20",
                "shipping_tax_total": "1.00",
                "meta_data": [],
            }
        ],
        "shipping_lines": [
            {
                "id": 317,
                "method_title": "Flat rate",
                "method_id": "flat_rate",
                "total": "5.00",
                "total_tax": "1.00",
                "taxes": [{"id": 75, "total": "1", "subtotal": ""}],
                "meta_data": [],
            }
        ],
        "fee_lines": [],
        "coupon_lines": [
            {"id": 319, "code": "spring10", "discount": "4.00", "discount_tax": "0.8"}
        ],
        "refunds": [],
        "_links": {
            "self": [{"href": "https://shop.example/wp-json/wc/v3/orders/727"}],
            "collection": [{"href": "https://shop.example/wp-json/wc/v3/orders"}],
        },
    }
    base.update(copy.deepcopy(overrides))
    return base


def order_note(**overrides: Any) -> dict[str, Any]:
    base = {
        "id": 281,
        "author": "system",
        "date_created": "2025-03-23T10:00:00",
        "date_created_gmt": "2025-03-23T09:00:00",
        "note": "Order status changed from Pending payment to Processing.",
        "customer_note": False,
    }
    base.update(overrides)
    return base


def refund(**overrides: Any) -> dict[str, Any]:
    base = {
        "id": 726,
        "date_created": "2025-03-24T10:00:00",
        "date_created_gmt": "2025-03-24T09:00:00",
        "amount": "12.50",
        "reason": "",
        "refunded_by": 1,
        "refunded_payment": False,
        "meta_data": [],
        "line_items": [],
    }
    base.update(overrides)
    return base


def product(**overrides: Any) -> dict[str, Any]:
    """The fields of a Woo product this adapter reads, with a few others around them."""
    base = {
        "id": 93,
        "name": "Linen shirt",
        "slug": "linen-shirt",
        "type": "simple",
        "status": "publish",
        "sku": "SHIRT-BLUE-M",
        "price": "20.00",
        "regular_price": "20.00",
        "manage_stock": True,
        "stock_quantity": 3,
        "stock_status": "instock",
        "parent_id": 0,
        "variations": [],
    }
    base.update(overrides)
    return base


def batch_error(product_id: int) -> dict[str, Any]:
    """An item of a batch answer that Woo could not update."""
    return {
        "id": product_id,
        "error": {
            "code": "woocommerce_rest_product_invalid_id",
            "message": "Invalid ID.",
            "data": {"status": 400},
        },
    }


ERROR_401 = {
    "code": "woocommerce_rest_cannot_view",
    "message": "Sorry, you cannot list resources.",
    "data": {"status": 401},
}
