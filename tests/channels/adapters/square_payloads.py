"""Square API v2 payloads (Orders, Catalog, Inventory, webhooks), written by hand after the
documented shapes. Money is an integer amount in the currency's smallest unit."""

from __future__ import annotations

import copy
from typing import Any

LOCATION = "L8XK5SN5PQ7R2"
OTHER_LOCATION = "LQ3E2JZ0V1H7M"
COLD_BREW = "W62UWFY35CWMYGVWK6TWJDNI"
CROISSANT = "AII2QGAPYMNK7GWHIXBXOA6B"
BEANS = "CB4RM6NYKBXX5S2BW6T3DHKJ"


def money(amount: int, currency: str = "EUR") -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def line_item(**overrides: Any) -> dict[str, Any]:
    """Two large cold brews at 4.50, 19% additive tax."""
    currency = overrides.pop("currency", "EUR")
    base: dict[str, Any] = {
        "uid": "8A3A2A5E-9E4B-4A53-A5B0-5F7C1C1E0A01",
        "catalog_object_id": COLD_BREW,
        "catalog_version": 1740000000000,
        "quantity": "2",
        "name": "Cold brew",
        "variation_name": "Large",
        "item_type": "ITEM",
        "base_price_money": money(450, currency),
        "variation_total_price_money": money(900, currency),
        "gross_sales_money": money(900, currency),
        "total_discount_money": money(0, currency),
        "total_tax_money": money(171, currency),
        "total_money": money(1071, currency),
        "applied_taxes": [
            {
                "uid": "tax-applied-1",
                "tax_uid": "mwst-19",
                "applied_money": money(171, currency),
            }
        ],
    }
    base.update(overrides)
    return base


def order(**overrides: Any) -> dict[str, Any]:
    """A completed till sale: 2 cold brews, 3 croissants with a 0.50 discount, 19% additive."""
    base: dict[str, Any] = {
        "id": "CAISENgvlJ6jLWAzERDzjyHVybY",
        "location_id": LOCATION,
        "source": {"name": "Square Point of Sale"},
        "reference_id": "T-0042",
        "customer_id": "JDKYHBWT1D4F8MFH63DBMEN8Y4",
        "line_items": [
            line_item(),
            line_item(
                uid="8A3A2A5E-9E4B-4A53-A5B0-5F7C1C1E0A02",
                catalog_object_id=CROISSANT,
                quantity="3",
                name="Croissant",
                variation_name="Regular",
                base_price_money=money(250),
                variation_total_price_money=money(750),
                gross_sales_money=money(750),
                total_discount_money=money(50),
                total_tax_money=money(133),
                total_money=money(833),
                applied_discounts=[
                    {"uid": "disc-applied-1", "discount_uid": "staff", "applied_money": money(50)}
                ],
            ),
        ],
        "taxes": [
            {
                "uid": "mwst-19",
                "catalog_object_id": "4ZQ2DN7QWS5RKDCXKOR2KCRD",
                "name": "MwSt",
                "percentage": "19.0",
                "type": "ADDITIVE",
                "applied_money": money(304),
                "scope": "ORDER",
            }
        ],
        "discounts": [
            {
                "uid": "staff",
                "name": "Day-old croissants",
                "type": "FIXED_AMOUNT",
                "amount_money": money(50),
                "applied_money": money(50),
                "scope": "LINE_ITEM",
            }
        ],
        "net_amounts": {
            "total_money": money(1904),
            "tax_money": money(304),
            "discount_money": money(50),
            "tip_money": money(0),
            "service_charge_money": money(0),
        },
        "tenders": [
            {
                "id": "EnZdNAlWCmfh6Mt5FMNST1o7taB",
                "location_id": LOCATION,
                "transaction_id": "CAISENgvlJ6jLWAzERDzjyHVybY",
                "created_at": "2025-03-22T15:31:04Z",
                "amount_money": money(1904),
                "type": "CARD",
            }
        ],
        "created_at": "2025-03-22T15:30:12.345Z",
        "updated_at": "2025-03-22T15:31:05.000Z",
        "closed_at": "2025-03-22T15:31:04.000Z",
        "state": "COMPLETED",
        "version": 4,
        "total_money": money(1904),
        "total_tax_money": money(304),
        "total_discount_money": money(50),
        "total_tip_money": money(0),
        "total_service_charge_money": money(0),
    }
    base.update(copy.deepcopy(overrides))
    return base


def jpy_order() -> dict[str, Any]:
    """A Tokyo sale: yen have no minor unit (amount 450 is 450 yen), 10% inclusive tax."""
    return order(
        id="JPYORDER0001",
        line_items=[
            line_item(
                currency="JPY",
                quantity="2",
                base_price_money=money(450, "JPY"),
                variation_total_price_money=money(900, "JPY"),
                gross_sales_money=money(900, "JPY"),
                total_discount_money=money(0, "JPY"),
                total_tax_money=money(82, "JPY"),
                total_money=money(900, "JPY"),
                applied_taxes=[],
            )
        ],
        taxes=[
            {
                "uid": "shohizei",
                "name": "Consumption tax",
                "percentage": "10",
                "type": "INCLUSIVE",
                "applied_money": money(82, "JPY"),
                "scope": "ORDER",
            }
        ],
        discounts=[],
        tenders=[],
        net_amounts={},
        total_money=money(900, "JPY"),
        total_tax_money=money(82, "JPY"),
        total_discount_money=money(0, "JPY"),
        total_tip_money=money(0, "JPY"),
        total_service_charge_money=money(0, "JPY"),
    )


def variation(object_id: str, sku: str, name: str = "Regular") -> dict[str, Any]:
    """A CatalogObject of type ITEM_VARIATION: the SKU lives in item_variation_data."""
    data: dict[str, Any] = {
        "item_id": f"ITEM-{object_id[:6]}",
        "name": name,
        "ordinal": 1,
        "pricing_type": "FIXED_PRICING",
        "price_money": money(450),
        "track_inventory": True,
        "sellable": True,
        "stockable": True,
    }
    if sku:
        data["sku"] = sku
    return {
        "type": "ITEM_VARIATION",
        "id": object_id,
        "updated_at": "2025-02-01T10:00:00.000Z",
        "version": 1740000000000,
        "is_deleted": False,
        "present_at_all_locations": True,
        "item_variation_data": data,
    }


def catalog_answer(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"objects": list(objects)}


CATALOG = catalog_answer(
    variation(COLD_BREW, "CB-L", "Large"),
    variation(CROISSANT, "CROISSANT"),
)


def order_event(kind: str = "order.updated", order_id: str = "CAISENgvlJ6jLWAzERDzjyHVybY") -> dict:
    """An order.created / order.updated notification: ids and state only, never the order."""
    key = kind.replace(".", "_")
    change = {
        "created_at": "2025-03-22T15:30:12.345Z",
        "location_id": LOCATION,
        "order_id": order_id,
        "state": "COMPLETED",
        "version": 4,
    }
    if kind == "order.updated":
        change["updated_at"] = "2025-03-22T15:31:05.000Z"
    return {
        "merchant_id": "5S9MXCS9Y99KK",
        "type": kind,
        "event_id": "4b8e5c91-9f17-4cf1-900a-4a0629f81add",
        "created_at": "2025-03-22T15:31:06.359Z",
        "data": {"type": "order", "id": order_id, "object": {key: change}},
    }


def inventory_answer(changes: list[dict[str, Any]]) -> dict[str, Any]:
    """The BatchChangeInventory answer: the counts now in force."""
    return {
        "counts": [
            {
                "catalog_object_id": c["physical_count"]["catalog_object_id"],
                "catalog_object_type": "ITEM_VARIATION",
                "state": "IN_STOCK",
                "location_id": c["physical_count"]["location_id"],
                "quantity": c["physical_count"]["quantity"],
                "calculated_at": "2025-03-22T16:00:00.512Z",
            }
            for c in changes
        ],
        "changes": changes,
    }


ERROR_401 = {
    "errors": [
        {
            "category": "AUTHENTICATION_ERROR",
            "code": "UNAUTHORIZED",
            "detail": "This request could not be authorized.",
        }
    ]
}
