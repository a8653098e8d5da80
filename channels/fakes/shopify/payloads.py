"""The JSON of an order as Shopify writes it: the derived order (lines, taxes, totals,
customer), GraphQL order nodes with their line item connection, REST bodies and signed webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from channels.fakes.shopify.data import (
    ADDRESSES,
    CENT,
    COUNTRY_NAMES,
    FIRST_NAMES,
    LAST_NAMES,
    PHONE_PREFIX,
    RATES,
    US_SALES_TAX,
    VAT,
    StoredOrder,
    StoreState,
    cursor_encode,
    digest_of,
    gid_of,
    iso_of,
)
from oms.money import allocate


class StorePayloads(StoreState):
    """Orders as Shopify JSON (GraphQL nodes, REST bodies, webhooks)."""

    def _data(self, order: StoredOrder) -> dict[str, Any]:
        """Everything about an order, in neutral names, from its seed."""
        rng = random.Random(self.seed * 1_000_003 + order.id)
        country = rng.choice(self.countries)
        address1, zip_code, city, province, lat, lon = rng.choice(ADDRESSES[country])
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        phone = f"{PHONE_PREFIX[country]} {rng.randint(1000000, 9999999)}"
        included = country != "US"
        rate = VAT.get(country, Decimal(0)) if included else US_SALES_TAX.get(province or "", 0)
        rate = Decimal(rate)
        lines: list[dict[str, Any]] = []
        count = rng.choice((1, 1, 2, 2, 3))
        for index, sku in enumerate(rng.sample(self.skus, min(count, len(self.skus)))):
            quantity = rng.choice((1, 1, 1, 2, 3))
            unit = self._unit_price(sku)
            discount = Decimal(0)
            if index == 0 and rng.random() < 0.15:
                discount = (unit * quantity / 10).quantize(CENT, ROUND_HALF_UP)
            lines.append(
                {
                    "id": order.id * 10 + index,
                    "sku": sku,
                    "name": f"{sku.replace('-', ' ').title()}",
                    "quantity": quantity,
                    "current": 0 if order.cancelled else quantity,
                    "unit": unit,
                    "discount": discount,
                    "code": Decimal(0),
                    "rate": rate,
                }
            )
        self._code_discount(order, lines)
        for line in lines:
            line["net"] = net = line["unit"] * line["quantity"] - line["discount"] - line["code"]
            if included:
                line["tax"] = (net * rate / (1 + rate)).quantize(CENT, ROUND_HALF_UP)
            else:
                line["tax"] = (net * rate).quantize(CENT, ROUND_HALF_UP)
        subtotal = sum((ln["net"] for ln in lines), Decimal(0))
        threshold = 75 * RATES.get(self.currency, Decimal(1))
        shipping = Decimal(0) if subtotal >= threshold else self._unit_shipping()
        taxes = sum((ln["tax"] for ln in lines), Decimal(0))
        total = subtotal + shipping + (Decimal(0) if included else taxes)
        slug = f"{first}.{last}".lower().replace(" ", "").replace("é", "e").replace("ü", "ue")
        return {
            "order": order,
            "country": country,
            "address": {
                "first_name": first,
                "last_name": last,
                "address1": address1,
                "zip": zip_code,
                "city": city,
                "province_code": province,
                "latitude": lat,
                "longitude": lon,
                "phone": phone,
            },
            "email": f"{slug}{order.id % 97}@example.com",
            "phone": phone,
            "included": included,
            "lines": lines,
            "shipping": shipping,
            "taxes": taxes,
            "total": total,
        }

    def _code_discount(self, order: StoredOrder, lines: list[dict[str, Any]]) -> None:
        """About one order in eight used the code WELCOME10: 10 % off the merchandise, an
        order-level discount Shopify spreads over the lines in their discount allocations (and
        leaves out of each line's totalDiscountSet). Its own draw: the rest of the order is
        what it was without it."""
        if not lines or random.Random(self.seed * 7_919 + order.id).random() >= 0.125:
            return
        nets = [ln["unit"] * ln["quantity"] - ln["discount"] for ln in lines]
        total = (sum(nets, Decimal(0)) / 10).quantize(CENT, ROUND_HALF_UP)
        for line, share in zip(lines, allocate(total, nets, self.currency), strict=True):
            line["code"] = share

    def _code_total(self, data: dict[str, Any]) -> Decimal:
        return sum((ln["code"] for ln in data["lines"]), Decimal(0))

    def _allocations(self, line: dict[str, Any], bag: Any, key: str) -> list[dict[str, Any]]:
        """The line's discount allocations: its own discount, then its share of the code."""
        return [{key: bag(amount)} for amount in (line["discount"], line["code"]) if amount]

    def _unit_shipping(self) -> Decimal:
        return (Decimal("4.95") * RATES.get(self.currency, Decimal(1))).quantize(CENT)

    def _shop(self, amount: Decimal) -> Decimal:
        if self.shop_currency == self.currency:
            return amount
        here = RATES.get(self.currency, Decimal(1))
        there = RATES.get(self.shop_currency, Decimal(1))
        return (amount / here * there).quantize(CENT, ROUND_HALF_UP)

    def _bag(self, amount: Decimal) -> dict[str, Any]:
        return {
            "shopMoney": {"amount": str(self._shop(amount)), "currencyCode": self.shop_currency},
            "presentmentMoney": {"amount": str(amount), "currencyCode": self.currency},
        }

    def _rest_bag(self, amount: Decimal) -> dict[str, Any]:
        return {
            "shop_money": {"amount": str(self._shop(amount)), "currency_code": self.shop_currency},
            "presentment_money": {"amount": str(amount), "currency_code": self.currency},
        }

    def _line_node(self, line: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": gid_of("LineItem", line["id"]),
            "sku": line["sku"],
            "name": line["name"],
            "quantity": line["quantity"],
            "currentQuantity": line["current"],
            "requiresShipping": True,
            "isGiftCard": False,
            "originalUnitPriceSet": self._bag(line["unit"]),
            "totalDiscountSet": self._bag(line["discount"]),
            "discountAllocations": self._allocations(line, self._bag, "allocatedAmountSet"),
            "taxLines": [
                {
                    "title": "Tax",
                    "rate": float(line["rate"]),
                    "priceSet": self._bag(line["tax"]),
                }
            ]
            if line["tax"]
            else [],
        }

    def _line_connection(
        self, lines: list[dict[str, Any]], first: int, after: int
    ) -> dict[str, Any]:
        chosen = lines[after : after + first]
        end = after + len(chosen)
        return {
            "nodes": [self._line_node(line) for line in chosen],
            "pageInfo": {
                "hasNextPage": end < len(lines),
                "endCursor": cursor_encode({"index": end}) if chosen else None,
            },
        }

    def _node(self, order: StoredOrder, lines_first: int) -> dict[str, Any]:
        data = self._data(order)
        a = data["address"]
        address = {
            "name": f"{a['first_name']} {a['last_name']}",
            "address1": a["address1"],
            "address2": None,
            "city": a["city"],
            "provinceCode": a["province_code"],
            "zip": a["zip"],
            "countryCodeV2": data["country"],
            "phone": a["phone"],
            "latitude": a["latitude"],
            "longitude": a["longitude"],
        }
        return {
            "id": gid_of("Order", order.id),
            "legacyResourceId": str(order.id),
            "name": f"#{order.number}",
            "processedAt": iso_of(order.placed),
            "updatedAt": iso_of(order.updated),
            "cancelledAt": iso_of(order.cancelled) if order.cancelled else None,
            "cancelReason": "CUSTOMER" if order.cancelled else None,
            "displayFinancialStatus": order.financial,
            "presentmentCurrencyCode": self.currency,
            "taxesIncluded": data["included"],
            "email": data["email"],
            "phone": data["phone"],
            "note": None,
            "totalPriceSet": self._bag(data["total"]),
            "discountCodes": ["WELCOME10"] if self._code_total(data) else [],
            "shippingLine": {
                "originalPriceSet": self._bag(data["shipping"]),
                "discountedPriceSet": self._bag(data["shipping"]),
            },
            "shippingAddress": address,
            "billingAddress": dict(address),
            "customer": {
                "firstName": a["first_name"],
                "lastName": a["last_name"],
                "defaultEmailAddress": {"emailAddress": data["email"]},
                "defaultPhoneNumber": {"phoneNumber": data["phone"]},
            },
            "lineItems": self._line_connection(data["lines"], lines_first, 0),
            "fulfillments": [
                {
                    "id": f["id"],
                    "status": "SUCCESS",
                    "location": {"id": self.location_gid()},
                    "fulfillmentLineItems": {
                        "nodes": [
                            {"quantity": quantity, "lineItem": {"id": gid_of("LineItem", line)}}
                            for line, quantity in f["lines"].items()
                        ]
                    },
                }
                for f in self._fulfillments_of(order.id)
            ],
        }

    def _fulfillments_of(self, order_id: int) -> list[dict[str, Any]]:
        """The fulfilments made for an order (fulfillmentCreate), oldest first."""
        return [f for f in self.fulfillments if f["order_id"] == order_id]

    def rest_order(self, order_id: int) -> dict[str, Any]:
        """The order as a REST webhook body (orders/create, orders/updated ...)."""
        with self._lock:
            order = self._orders[order_id]
            data = self._data(order)
            fulfillments = self._fulfillments_of(order_id)
        a = data["address"]
        address = {
            "first_name": a["first_name"],
            "last_name": a["last_name"],
            "name": f"{a['first_name']} {a['last_name']}",
            "company": None,
            "address1": a["address1"],
            "address2": None,
            "city": a["city"],
            "province": a["province_code"],
            "province_code": a["province_code"],
            "zip": a["zip"],
            "country": COUNTRY_NAMES[data["country"]],
            "country_code": data["country"],
            "phone": a["phone"],
            "latitude": a["latitude"],
            "longitude": a["longitude"],
        }
        return {
            "id": order.id,
            "admin_graphql_api_id": gid_of("Order", order.id),
            "name": f"#{order.number}",
            "order_number": order.number,
            "email": data["email"],
            "phone": data["phone"],
            "created_at": iso_of(order.placed),
            "processed_at": iso_of(order.placed),
            "updated_at": iso_of(order.updated),
            "cancelled_at": iso_of(order.cancelled) if order.cancelled else None,
            "cancel_reason": "customer" if order.cancelled else None,
            "currency": self.shop_currency,
            "presentment_currency": self.currency,
            "financial_status": order.financial.lower(),
            "taxes_included": data["included"],
            "total_price": str(self._shop(data["total"])),
            "total_price_set": self._rest_bag(data["total"]),
            "discount_codes": [
                {"code": "WELCOME10", "amount": str(code), "type": "percentage"}
                for code in [self._code_total(data)]
                if code
            ],
            "note": None,
            "customer": {
                "id": 7_000_000_000_000 + digest_of(data["email"]) % 10**12,
                "email": data["email"],
                "first_name": a["first_name"],
                "last_name": a["last_name"],
                "phone": data["phone"],
            },
            "shipping_address": address,
            "billing_address": dict(address),
            "line_items": [
                {
                    "id": line["id"],
                    "admin_graphql_api_id": gid_of("LineItem", line["id"]),
                    "variant_id": self.variant_id(line["sku"]),
                    "sku": line["sku"],
                    "name": line["name"],
                    "title": line["name"],
                    "quantity": line["quantity"],
                    "current_quantity": line["current"],
                    "requires_shipping": True,
                    "gift_card": False,
                    "price": str(self._shop(line["unit"])),
                    "price_set": self._rest_bag(line["unit"]),
                    "total_discount": str(self._shop(line["discount"])),
                    "total_discount_set": self._rest_bag(line["discount"]),
                    "discount_allocations": self._allocations(line, self._rest_bag, "amount_set"),
                    "tax_lines": [
                        {
                            "title": "VAT" if data["included"] else "Tax",
                            "rate": float(line["rate"]),
                            "price": str(self._shop(line["tax"])),
                            "price_set": self._rest_bag(line["tax"]),
                        }
                    ]
                    if line["tax"]
                    else [],
                }
                for line in data["lines"]
            ],
            "fulfillments": [
                {
                    "id": int(str(f["id"]).rsplit("/", 1)[-1]),
                    "order_id": order.id,
                    "status": "success",
                    "location_id": int(str(self.location_gid()).rsplit("/", 1)[-1]),
                    "tracking_number": f["tracking"].get("number"),
                    "line_items": [
                        {"id": line, "quantity": quantity} for line, quantity in f["lines"].items()
                    ],
                }
                for f in fulfillments
            ],
            "shipping_lines": [
                {
                    "id": order.id,
                    "title": "Standard",
                    "code": "standard",
                    "price": str(self._shop(data["shipping"])),
                    "price_set": self._rest_bag(data["shipping"]),
                    "discounted_price": str(self._shop(data["shipping"])),
                    "discounted_price_set": self._rest_bag(data["shipping"]),
                }
            ],
        }

    def webhook(
        self, order_id: int, *, topic: str = "orders/create", secret: str = "shpss_demo"
    ) -> tuple[dict[str, str], bytes]:
        """(headers, body) of a signed webhook delivery of an order, as Shopify sends it."""
        body = json.dumps(self.rest_order(order_id)).encode()
        signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature.decode(),
            "X-Shopify-Shop-Domain": "fake-store.myshopify.com",
            "X-Shopify-API-Version": "2026-04",
            "X-Shopify-Webhook-Id": f"fake-{topic.replace('/', '-')}-{order_id}-{self.requests}",
        }
        return headers, body
