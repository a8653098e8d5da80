"""A fake Shopify store answering the GraphQL Admin API 2026-04 the way the Shopify adapter asks.

Use it as `httpx.MockTransport(store.handler)` in an AdapterContext: the demo, the benchmark and
tests then pull orders, push stock, fulfilments, cancellations and refunds with no network.

Invariants:
- orders are deterministic from the seed and the order id: only (id, number, timestamps, status)
  is kept per order, and the JSON nodes are built when a page is served, so 10,000 orders cost a
  few MB and a page of 250 a few milliseconds;
- `orders` honours `first` (at most 250, as Shopify), `after` (opaque cursors over
  (updatedAt, id)), `query: "updated_at:>='...'"` and `sortKey: UPDATED_AT`, oldest change first;
- amounts follow Shopify: every `*Set` has `shopMoney` and `presentmentMoney`, the totals add up
  (line prices - discounts + shipping, + taxes unless `taxesIncluded`);
- the mutations check what Shopify 2026-04 checks that matters here: `changeFromQuantity` present
  on every quantity and the `@idempotent` directive on inventorySetQuantities and refundCreate,
  quantities not above what is left to fulfil, a cancelled order not cancelled twice;
- a request without `X-Shopify-Access-Token` (or with another token than the store's) gets 401.

`demo_store()` returns one store per currency whose orders grow with wall-clock time: one or two
orders per minute, with ids derived from the minute, so every process of the demo (web, worker)
sees the same orders.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import hashlib
import hmac
import json
import random
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

API_PATH = "/admin/api/2026-04/graphql.json"
ORDER_ID_BASE = 5_200_000_000_000
MINUTE_IDS = 50_000_000_000  # ids of the wall-clock (demo) orders start here above the base
CENT = Decimal("0.01")
RATES = {"EUR": Decimal("1"), "USD": Decimal("1.08"), "GBP": Decimal("0.86")}
VAT = {"DE": Decimal("0.19"), "FR": Decimal("0.20"), "NL": Decimal("0.21"), "GB": Decimal("0.20")}
US_SALES_TAX = {
    "NY": Decimal("0.08875"),
    "CA": Decimal("0.0725"),
    "IL": Decimal("0.1025"),
    "WA": Decimal("0.1025"),
}
FIRST_NAMES = [
    "Anna", "Lukas", "Marie", "Jonas", "Sophie", "Elias", "Emma", "Noah", "Chloé", "Hugo",
    "Olivia", "Jack", "Amelia", "Liam", "Mia", "Ethan", "Sanne", "Daan", "Léa", "Finn",
]  # fmt: skip
LAST_NAMES = [
    "Schmidt", "Müller", "Weber", "Dubois", "Martin", "Smith", "Jones", "Taylor", "de Vries",
    "Jansen", "Bakker", "Johnson", "Brown", "Fischer", "Lefebvre", "Moreau", "Wagner", "Evans",
]  # fmt: skip
# country -> (address1, zip, city, provinceCode, latitude, longitude)
ADDRESSES: dict[str, list[tuple[str, str, str, str | None, float, float]]] = {
    "DE": [
        ("Torstraße 12", "10119", "Berlin", None, 52.5290, 13.4010),
        ("Leopoldstraße 40", "80802", "München", None, 48.1600, 11.5860),
        ("Schanzenstraße 7", "20357", "Hamburg", None, 53.5630, 9.9630),
        ("Königsallee 60", "40212", "Düsseldorf", None, 51.2200, 6.7790),
    ],
    "FR": [
        ("12 Rue de Rivoli", "75004", "Paris", None, 48.8556, 2.3590),
        ("5 Place Bellecour", "69002", "Lyon", None, 45.7578, 4.8320),
        ("18 Quai des Chartrons", "33000", "Bordeaux", None, 44.8520, -0.5700),
    ],
    "NL": [
        ("Prinsengracht 263", "1016 GV", "Amsterdam", None, 52.3752, 4.8840),
        ("Oudegracht 150", "3511 AZ", "Utrecht", None, 52.0890, 5.1200),
        ("Witte de Withstraat 50", "3012 BR", "Rotterdam", None, 51.9160, 4.4770),
    ],
    "GB": [
        ("221B Baker Street", "NW1 6XE", "London", None, 51.5238, -0.1586),
        ("10 Deansgate", "M3 1AZ", "Manchester", None, 53.4840, -2.2470),
        ("25 Rose Street", "EH2 2PR", "Edinburgh", None, 55.9530, -3.1990),
    ],
    "US": [
        ("350 Fifth Avenue", "10118", "New York", "NY", 40.7484, -73.9857),
        ("1 Market St", "94105", "San Francisco", "CA", 37.7946, -122.3950),
        ("233 S Wacker Dr", "60606", "Chicago", "IL", 41.8789, -87.6359),
        ("400 Broad St", "98109", "Seattle", "WA", 47.6205, -122.3493),
    ],
}
COUNTRY_NAMES = {
    "DE": "Germany",
    "FR": "France",
    "NL": "Netherlands",
    "GB": "United Kingdom",
    "US": "United States",
}
PHONE_PREFIX = {"DE": "+49 30", "FR": "+33 1", "NL": "+31 20", "GB": "+44 20", "US": "+1 212"}
_SINCE = re.compile(r"updated_at:(>=|>)\s*['\"]?([0-9T:\-+.Z]+)['\"]?")
_SKU_TERM = re.compile(r"""sku:(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^\s)]+))""")
_FIRST_LINES = re.compile(r"lineItems\(first:\s*(\d+)")


def _gid(kind: str, number: int | str) -> str:
    return f"gid://shopify/{kind}/{number}"


def _number(value: Any) -> int | None:
    text = str(value or "").rsplit("/", 1)[-1]
    return int(text) if text.isdigit() else None


def _iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:6], "big")


def _encode_cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: str) -> dict[str, Any] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _errors(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


@dataclass(slots=True)
class _Order:
    id: int
    number: int
    placed: int
    updated: int
    cancelled: int | None = None
    financial: str = "PAID"


@dataclass
class FakeShopifyStore:
    """An in-memory Shopify store. See the module docstring."""

    skus: list[str]
    seed: int = 0
    currency: str = "EUR"
    countries: Sequence[str] = ("DE", "FR", "NL", "GB", "US")
    shop_currency: str = ""  # the shop's own currency; amounts in it are `shopMoney`
    location_id: int = 7001
    access_token: str = ""  # empty: any token is accepted (but one must be sent)
    auto_tick: bool = False  # grow with wall-clock time before answering (the demo store)
    throttle_next: int = 0  # answer the next N requests THROTTLED
    inventory: dict[tuple[str, str], int] = field(default_factory=dict)
    stock_calls: list[dict[str, Any]] = field(default_factory=list)
    fulfillments: list[dict[str, Any]] = field(default_factory=list)
    cancellations: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0

    def __post_init__(self) -> None:
        if not self.skus:
            raise ValueError("A fake Shopify store needs at least one SKU.")
        self.skus = list(self.skus)
        self.currency = self.currency.upper()
        self.shop_currency = (self.shop_currency or self.currency).upper()
        self.countries = tuple(c for c in self.countries if c in ADDRESSES) or ("DE",)
        self._keys: list[tuple[int, int]] = []  # (updated, id), sorted: the UPDATED_AT order
        self._orders: dict[int, _Order] = {}
        self._fulfilled: dict[int, int] = {}  # line item id -> quantity fulfilled
        self._refund_keys: dict[str, dict[str, Any]] = {}
        self._sequence = 0
        self._last_minute: int | None = None
        self._lock = threading.RLock()
        self._base = ORDER_ID_BASE + self.seed * 100 * MINUTE_IDS

    # --- catalogue ----------------------------------------------------------------------------

    def variant_id(self, sku: str) -> int:
        return 40_000_000_000_000 + _digest(f"variant:{sku}") % 10_000_000_000_000

    def inventory_item_id(self, sku: str) -> str:
        """The inventory item gid of a SKU of this store."""
        return _gid("InventoryItem", 50_000_000_000_000 + _digest(f"item:{sku}") % 10**13)

    def location_gid(self) -> str:
        return _gid("Location", self.location_id)

    def _unit_price(self, sku: str) -> Decimal:
        cents = 995 + (_digest(f"price:{sku}") % 180) * 50
        rate = RATES.get(self.currency, Decimal(1))
        return (Decimal(cents) / 100 * rate).quantize(CENT, ROUND_HALF_UP)

    # --- orders -------------------------------------------------------------------------------

    @property
    def order_ids(self) -> list[int]:
        """Ids of the orders, oldest change first."""
        with self._lock:
            return [order_id for _, order_id in self._keys]

    def __len__(self) -> int:
        return len(self._keys)

    def _insert(self, order: _Order) -> None:
        self._orders[order.id] = order
        bisect.insort(self._keys, (order.updated, order.id))

    def _touch(self, order: _Order, updated: int) -> None:
        at = bisect.bisect_left(self._keys, (order.updated, order.id))
        if at < len(self._keys) and self._keys[at] == (order.updated, order.id):
            del self._keys[at]
        order.updated = max(updated, order.updated)
        bisect.insort(self._keys, (order.updated, order.id))

    def add_orders(
        self,
        n: int,
        *,
        updated_at: dt.datetime | None = None,
        step: dt.timedelta = dt.timedelta(seconds=1),
    ) -> list[int]:
        """Add `n` paid orders updated at `updated_at` (default now), `step` apart; their ids."""
        start = _seconds(updated_at or dt.datetime.now(dt.UTC))
        gap = int(step.total_seconds())
        ids = []
        with self._lock:
            for index in range(n):
                self._sequence += 1
                order_id = self._base + self._sequence
                updated = start + index * gap
                placed = updated - random.Random(order_id).randint(0, 300)
                self._insert(_Order(order_id, 1000 + self._sequence, placed, updated))
                ids.append(order_id)
        return ids

    def tick(self, now: dt.datetime | None = None, *, backfill_minutes: int = 60) -> int:
        """Add the one or two orders of every minute over by `now` (the first call also those
        of the `backfill_minutes` before); how many were added."""
        minute_now = _seconds(now or dt.datetime.now(dt.UTC)) // 60
        added = 0
        with self._lock:
            if self._last_minute is None:
                self._last_minute = minute_now - backfill_minutes - 1
            first = max(self._last_minute + 1, minute_now - 24 * 60)  # never more than a day
            for minute in range(first, minute_now):  # the minutes that are over
                rng = random.Random(self.seed * 1_000_003 + minute)
                for k in range(1 + rng.randint(0, 1)):
                    order_id = self._base + MINUTE_IDS + minute * 4 + k
                    if order_id in self._orders:
                        continue
                    placed = minute * 60 + rng.randint(0, 24) + k * 30
                    number = 100_000 + (minute * 4 + k) % 9_000_000
                    self._insert(_Order(order_id, number, placed, placed + rng.randint(1, 5)))
                    added += 1
            self._last_minute = max(self._last_minute, minute_now - 1)
        return added

    def cancel_order(self, order_id: int, *, at: dt.datetime | None = None) -> None:
        """Cancel an order from the Shopify side (its updatedAt moves, as in Shopify)."""
        with self._lock:
            order = self._orders[order_id]
            moment = _seconds(at or dt.datetime.now(dt.UTC))
            order.cancelled = moment
            self._touch(order, moment)

    def _data(self, order: _Order) -> dict[str, Any]:
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
            net = unit * quantity - discount
            if included:
                tax = (net * rate / (1 + rate)).quantize(CENT, ROUND_HALF_UP)
            else:
                tax = (net * rate).quantize(CENT, ROUND_HALF_UP)
            lines.append(
                {
                    "id": order.id * 10 + index,
                    "sku": sku,
                    "name": f"{sku.replace('-', ' ').title()}",
                    "quantity": quantity,
                    "current": 0 if order.cancelled else quantity,
                    "unit": unit,
                    "discount": discount,
                    "tax": tax,
                    "rate": rate,
                    "net": net,
                }
            )
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
            "id": _gid("LineItem", line["id"]),
            "sku": line["sku"],
            "name": line["name"],
            "quantity": line["quantity"],
            "currentQuantity": line["current"],
            "requiresShipping": True,
            "originalUnitPriceSet": self._bag(line["unit"]),
            "totalDiscountSet": self._bag(line["discount"]),
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
                "endCursor": _encode_cursor({"index": end}) if chosen else None,
            },
        }

    def _node(self, order: _Order, lines_first: int) -> dict[str, Any]:
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
            "id": _gid("Order", order.id),
            "legacyResourceId": str(order.id),
            "name": f"#{order.number}",
            "processedAt": _iso(order.placed),
            "updatedAt": _iso(order.updated),
            "cancelledAt": _iso(order.cancelled) if order.cancelled else None,
            "cancelReason": "CUSTOMER" if order.cancelled else None,
            "displayFinancialStatus": order.financial,
            "presentmentCurrencyCode": self.currency,
            "taxesIncluded": data["included"],
            "email": data["email"],
            "phone": data["phone"],
            "note": None,
            "totalPriceSet": self._bag(data["total"]),
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
        }

    def rest_order(self, order_id: int) -> dict[str, Any]:
        """The order as a REST webhook body (orders/create, orders/updated ...)."""
        with self._lock:
            order = self._orders[order_id]
            data = self._data(order)
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
            "admin_graphql_api_id": _gid("Order", order.id),
            "name": f"#{order.number}",
            "order_number": order.number,
            "email": data["email"],
            "phone": data["phone"],
            "created_at": _iso(order.placed),
            "processed_at": _iso(order.placed),
            "updated_at": _iso(order.updated),
            "cancelled_at": _iso(order.cancelled) if order.cancelled else None,
            "cancel_reason": "customer" if order.cancelled else None,
            "currency": self.shop_currency,
            "presentment_currency": self.currency,
            "financial_status": order.financial.lower(),
            "taxes_included": data["included"],
            "total_price": str(self._shop(data["total"])),
            "total_price_set": self._rest_bag(data["total"]),
            "note": None,
            "customer": {
                "id": 7_000_000_000_000 + _digest(data["email"]) % 10**12,
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
                    "admin_graphql_api_id": _gid("LineItem", line["id"]),
                    "variant_id": self.variant_id(line["sku"]),
                    "sku": line["sku"],
                    "name": line["name"],
                    "title": line["name"],
                    "quantity": line["quantity"],
                    "current_quantity": line["current"],
                    "requires_shipping": True,
                    "price": str(self._shop(line["unit"])),
                    "price_set": self._rest_bag(line["unit"]),
                    "total_discount": str(self._shop(line["discount"])),
                    "total_discount_set": self._rest_bag(line["discount"]),
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

    # --- HTTP ---------------------------------------------------------------------------------

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer one Admin API request (usable as httpx.MockTransport(store.handler))."""
        with self._lock:
            self.requests += 1
            if request.method != "POST" or request.url.path != API_PATH:
                return httpx.Response(404, json={"errors": "Not Found"})
            token = request.headers.get("X-Shopify-Access-Token", "")
            if not token or (self.access_token and token != self.access_token):
                return httpx.Response(
                    401,
                    json={
                        "errors": "[API] Invalid API key or access token "
                        "(unrecognized login or wrong password)"
                    },
                )
            try:
                body = json.loads(request.content)
            except ValueError:
                return httpx.Response(400, json={"errors": "Bad Request"})
            query = str(body.get("query") or "") if isinstance(body, dict) else ""
            variables = body.get("variables") if isinstance(body, dict) else None
            variables = variables if isinstance(variables, dict) else {}
            if self.throttle_next > 0:
                self.throttle_next -= 1
                answer = _errors("Throttled", "THROTTLED")
                answer["extensions"] = self._cost(requested=900, available=120.0)
                return httpx.Response(200, json=answer)
            answer = self._dispatch(query, variables)
            answer.setdefault("extensions", self._cost())
            return httpx.Response(200, json=answer)

    @staticmethod
    def _cost(requested: int = 50, available: float = 1950.0) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": None if available < requested else requested,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": available,
                    "restoreRate": 100.0,
                },
            }
        }

    def _dispatch(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        if "inventorySetQuantities(" in query:
            return self._set_quantities(query, variables)
        if "fulfillmentCreate(" in query:
            return self._fulfillment_create(variables)
        if "orderCancel(" in query:
            return self._order_cancel(variables)
        if "refundCreate(" in query:
            return self._refund_create(query, variables)
        if "productVariants(" in query:
            return self._variants(variables)
        if re.search(r"\borders\(", query):
            if self.auto_tick:
                self.tick()
            return self._orders_page(query, variables)
        if "fulfillmentOrders(" in query:
            return self._fulfillment_orders(variables)
        if "transactions(" in query:
            return self._transactions(variables)
        if "lineItems(" in query and re.search(r"\border\(", query):
            return self._more_lines(query, variables)
        return _errors("The fake Shopify store does not know this query.", "BAD_REQUEST")

    def _order_of(self, value: Any) -> _Order | None:
        number = _number(value)
        return self._orders.get(number) if number is not None else None

    # --- queries ------------------------------------------------------------------------------

    def _orders_page(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        first = variables.get("first")
        if not isinstance(first, int) or first < 1:
            return _errors("Variable $first of type Int! was provided invalid value", "BAD")
        if first > 250:
            return _errors("first cannot exceed 250.", "BAD_REQUEST")
        start = 0
        search = str(variables.get("query") or "")
        match = _SINCE.search(search)
        if match:
            try:
                since = dt.datetime.fromisoformat(match.group(2).replace("Z", "+00:00"))
            except ValueError:
                return _errors(f"Invalid search: {search}", "BAD_REQUEST")
            seconds = _seconds(since)
            if match.group(1) == ">=":
                start = bisect.bisect_left(self._keys, (seconds, -1))
            else:
                start = bisect.bisect_right(self._keys, (seconds, 2**63))
        after = variables.get("after")
        if after:
            cursor = _decode_cursor(str(after))
            if not cursor or "last_id" not in cursor or "last_value" not in cursor:
                return _errors("Invalid cursor for current pagination sort.", "BAD_REQUEST")
            position = (int(cursor["last_value"]), int(cursor["last_id"]))
            start = max(start, bisect.bisect_right(self._keys, position))
        keys = self._keys[start : start + first]
        match_lines = _FIRST_LINES.search(query)
        lines_first = int(match_lines.group(1)) if match_lines else 250
        nodes = [self._node(self._orders[order_id], lines_first) for _, order_id in keys]
        end_cursor = None
        if keys:
            end_cursor = _encode_cursor({"last_id": keys[-1][1], "last_value": keys[-1][0]})
        return {
            "data": {
                "orders": {
                    "nodes": nodes,
                    "pageInfo": {
                        "hasNextPage": start + first < len(self._keys),
                        "endCursor": end_cursor,
                    },
                }
            }
        }

    def _more_lines(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        order = self._order_of(variables.get("id"))
        if order is None:
            return {"data": {"order": None}}
        match = _FIRST_LINES.search(query)
        first = int(match.group(1)) if match else 250
        after = _decode_cursor(str(variables.get("after") or "")) or {}
        lines = self._data(order)["lines"]
        return {
            "data": {
                "order": {
                    "lineItems": self._line_connection(lines, first, int(after.get("index", 0)))
                }
            }
        }

    def _variants(self, variables: dict[str, Any]) -> dict[str, Any]:
        wanted = []
        for quoted, single, bare in _SKU_TERM.findall(str(variables.get("query") or "")):
            value = quoted or single or bare
            wanted.append(re.sub(r"\\(.)", r"\1", value))
        known = set(self.skus)
        first = int(variables.get("first") or 50)
        nodes = [
            {
                "id": _gid("ProductVariant", self.variant_id(sku)),
                "sku": sku,
                "inventoryItem": {"id": self.inventory_item_id(sku)},
            }
            for sku in dict.fromkeys(wanted)
            if sku in known
        ][:first]
        return {"data": {"productVariants": {"nodes": nodes}}}

    def _fo_items(self, order: _Order) -> list[dict[str, Any]]:
        return [
            {
                "id": _gid("FulfillmentOrderLineItem", line["id"]),
                "remainingQuantity": max(0, line["quantity"] - self._fulfilled.get(line["id"], 0)),
                "lineItem": {"id": _gid("LineItem", line["id"]), "sku": line["sku"]},
            }
            for line in self._data(order)["lines"]
        ]

    def _fulfillment_orders(self, variables: dict[str, Any]) -> dict[str, Any]:
        order = self._order_of(variables.get("id"))
        if order is None:
            return {"data": {"order": None}}
        items = self._fo_items(order)
        left = sum(item["remainingQuantity"] for item in items)
        if order.cancelled:
            status = "CANCELLED"
        elif left == 0:
            status = "CLOSED"
        elif any(self._fulfilled.get(_number(i["lineItem"]["id"]) or 0) for i in items):
            status = "IN_PROGRESS"
        else:
            status = "OPEN"
        return {
            "data": {
                "order": {
                    "id": _gid("Order", order.id),
                    "fulfillments": [
                        {"id": f["id"], "trackingInfo": [{"number": f["tracking"].get("number")}]}
                        for f in self.fulfillments
                        if f["order_id"] == order.id
                    ],
                    "fulfillmentOrders": {
                        "nodes": [
                            {
                                "id": _gid("FulfillmentOrder", order.id),
                                "status": status,
                                "assignedLocation": {"location": {"id": self.location_gid()}},
                                "lineItems": {"nodes": items},
                            }
                        ]
                    },
                }
            }
        }

    def _transactions(self, variables: dict[str, Any]) -> dict[str, Any]:
        order = self._order_of(variables.get("id"))
        if order is None:
            return {"data": {"order": None}}
        total = self._data(order)["total"]
        return {
            "data": {
                "order": {
                    "id": _gid("Order", order.id),
                    "presentmentCurrencyCode": self.currency,
                    "transactions": [
                        {
                            "id": _gid("OrderTransaction", order.id),
                            "kind": "SALE",
                            "status": "SUCCESS",
                            "gateway": "shopify_payments",
                            "amountSet": self._bag(total),
                        }
                    ],
                }
            }
        }

    # --- mutations ----------------------------------------------------------------------------

    def _set_quantities(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        if "@idempotent" not in query:
            return _errors("The @idempotent directive is required for this mutation.", "BAD")
        data = _obj(variables.get("input"))
        quantities = _list(data.get("quantities"))
        errors: list[dict[str, Any]] = []
        if data.get("name") != "available":
            errors.append({"code": "INVALID_NAME", "field": ["input", "name"], "message": "?"})
        known = {self.inventory_item_id(sku) for sku in self.skus}
        for index, row in enumerate(quantities):
            where = ["input", "quantities", str(index)]
            if not isinstance(row, dict):
                errors.append({"code": "INVALID", "field": where, "message": "Not an object."})
                continue
            if "changeFromQuantity" not in row:
                errors.append(
                    {
                        "code": "CHANGE_FROM_QUANTITY_REQUIRED",
                        "field": [*where, "changeFromQuantity"],
                        "message": "changeFromQuantity is required (null opts out).",
                    }
                )
            if row.get("inventoryItemId") not in known:
                errors.append(
                    {
                        "code": "INVALID_INVENTORY_ITEM",
                        "field": [*where, "inventoryItemId"],
                        "message": "The specified inventory item could not be found.",
                    }
                )
            if not str(row.get("locationId") or "").startswith("gid://shopify/Location/"):
                errors.append(
                    {
                        "code": "INVALID_LOCATION",
                        "field": [*where, "locationId"],
                        "message": "The specified location could not be found.",
                    }
                )
            quantity = row.get("quantity")
            if not isinstance(quantity, int) or quantity < 0:
                errors.append(
                    {"code": "INVALID_QUANTITY", "field": [*where, "quantity"], "message": "?"}
                )
        self.stock_calls.append(data)
        payload: dict[str, Any] = {"inventoryAdjustmentGroup": None, "userErrors": errors}
        if errors:  # all or nothing
            return {"data": {"inventorySetQuantities": payload}}
        for row in quantities:
            self.inventory[(row["inventoryItemId"], row["locationId"])] = row["quantity"]
        payload["inventoryAdjustmentGroup"] = {
            "id": _gid("InventoryAdjustmentGroup", len(self.stock_calls))
        }
        return {"data": {"inventorySetQuantities": payload}}

    def _fulfillment_create(self, variables: dict[str, Any]) -> dict[str, Any]:
        data = _obj(variables.get("fulfillment"))
        wanted: dict[int, int] = {}
        orders = set()
        errors: list[dict[str, Any]] = []
        for group in _list(data.get("lineItemsByFulfillmentOrder")):
            group = _obj(group)
            order = self._order_of(group.get("fulfillmentOrderId"))
            if order is None or order.cancelled:
                errors.append({"field": ["fulfillment"], "message": "Fulfillment order not open."})
                continue
            orders.add(order.id)
            left: dict[int, int] = {}
            for fo_item in self._fo_items(order):
                left[_number(fo_item["id"]) or 0] = fo_item["remainingQuantity"]
            items = _list(group.get("fulfillmentOrderLineItems")) or [
                {"id": _gid("FulfillmentOrderLineItem", k), "quantity": v}
                for k, v in left.items()
                if v
            ]
            for item in items:
                line_id = _number(_obj(item).get("id"))
                quantity = _obj(item).get("quantity")
                if (
                    line_id is None
                    or line_id not in left
                    or not isinstance(quantity, int)
                    or quantity < 1
                ):
                    errors.append({"field": ["fulfillment"], "message": "Invalid line item."})
                elif quantity + wanted.get(line_id, 0) > left[line_id]:
                    errors.append(
                        {
                            "field": ["fulfillment"],
                            "message": "Invalid fulfillment order line item quantity requested.",
                        }
                    )
                else:
                    wanted[line_id] = wanted.get(line_id, 0) + quantity
        if len(orders) > 1:
            errors.append({"field": ["fulfillment"], "message": "One order per fulfillment."})
        if not wanted and not errors:
            errors.append({"field": ["fulfillment"], "message": "Nothing to fulfil."})
        if errors:
            return {"data": {"fulfillmentCreate": {"fulfillment": None, "userErrors": errors}}}
        for line_id, quantity in wanted.items():
            self._fulfilled[line_id] = self._fulfilled.get(line_id, 0) + quantity
        order_id = orders.pop()
        fulfillment_id = _gid("Fulfillment", 9_000_000_000 + len(self.fulfillments) + 1)
        self.fulfillments.append(
            {
                "id": fulfillment_id,
                "order_id": order_id,
                "lines": wanted,
                "tracking": dict(data.get("trackingInfo") or {}),
                "notify_customer": bool(data.get("notifyCustomer")),
            }
        )
        self._touch(self._orders[order_id], _seconds(dt.datetime.now(dt.UTC)))
        fulfillment = {"id": fulfillment_id, "status": "SUCCESS"}
        return {"data": {"fulfillmentCreate": {"fulfillment": fulfillment, "userErrors": []}}}

    def _order_cancel(self, variables: dict[str, Any]) -> dict[str, Any]:
        order = self._order_of(variables.get("orderId"))
        errors = []
        if order is None:
            errors.append({"code": "NOT_FOUND", "field": ["orderId"], "message": "Not found."})
        elif order.cancelled:
            errors.append(
                {"code": "INVALID", "field": ["orderId"], "message": "Already cancelled."}
            )
        if order is None or errors:
            payload = {"job": None, "orderCancelUserErrors": errors}
            return {"data": {"orderCancel": payload}}
        now = _seconds(dt.datetime.now(dt.UTC))
        order.cancelled = now
        if (variables.get("refundMethod") or {}).get("originalPaymentMethodsRefund"):
            order.financial = "REFUNDED"
        self._touch(order, now)
        self.cancellations.append(dict(variables))
        job = {"id": _gid("Job", f"cancel-{order.id}"), "done": False}
        return {"data": {"orderCancel": {"job": job, "orderCancelUserErrors": []}}}

    def _refund_create(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        if "@idempotent" not in query:
            return _errors("The @idempotent directive is required for this mutation.", "BAD")
        key = str(variables.get("idempotencyKey") or "")
        if key in self._refund_keys:
            return {"data": {"refundCreate": self._refund_keys[key]}}
        data = _obj(variables.get("input"))
        order = self._order_of(data.get("orderId"))
        if order is None:
            errors = [{"field": ["input", "orderId"], "message": "Order does not exist."}]
            return {"data": {"refundCreate": {"refund": None, "userErrors": errors}}}
        refund_id = _gid("Refund", 8_000_000_000 + len(self.refunds) + 1)
        self.refunds.append({"id": refund_id, "order_id": order.id, "input": data, "key": key})
        order.financial = "PARTIALLY_REFUNDED"
        self._touch(order, _seconds(dt.datetime.now(dt.UTC)))
        payload = {"refund": {"id": refund_id}, "userErrors": []}
        self._refund_keys[key] = payload
        return {"data": {"refundCreate": payload}}


# --- the demo store ---------------------------------------------------------------------------

_DEMO_STORES: dict[str, FakeShopifyStore] = {}
_DEMO_LOCK = threading.Lock()
_DEMO_COUNTRIES = {"EUR": ("DE", "FR", "NL", "DE", "DE"), "USD": ("US",), "GBP": ("GB",)}
_DEMO_SEEDS = {"EUR": 1, "USD": 2, "GBP": 3}


def demo_store(currency: str = "EUR", skus: Iterable[str] | None = None) -> FakeShopifyStore:
    """The demo's Shopify store of a currency (one per process), growing with wall-clock time.

    Its SKUs default to the demo catalogue of inventory.demo (the codes `make run` loads).
    """
    currency = currency.upper()
    with _DEMO_LOCK:
        store = _DEMO_STORES.get(currency)
        if store is None:
            if skus is None:
                from inventory.demo import demo_skus  # the demo catalogue, read lazily

                skus = [str(row["code"]) for row in demo_skus()]
            store = FakeShopifyStore(
                skus=list(skus),
                seed=_DEMO_SEEDS.get(currency, 4),
                currency=currency,
                countries=_DEMO_COUNTRIES.get(currency, ("DE", "FR", "NL", "GB", "US")),
                auto_tick=True,
            )
            store.tick()
            _DEMO_STORES[currency] = store
        return store
