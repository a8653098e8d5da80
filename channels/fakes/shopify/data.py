"""The fake store's data: its catalogue, customers and prices, the orders it holds (only
(id, number, timestamps, status) per order, everything else derived from the seed and the id),
and the small helpers the other parts share (ids, times, cursors, error answers)."""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import hashlib
import json
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

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


def gid_of(kind: str, number: int | str) -> str:
    return f"gid://shopify/{kind}/{number}"


def number_of(value: Any) -> int | None:
    text = str(value or "").rsplit("/", 1)[-1]
    return int(text) if text.isdigit() else None


def iso_of(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_of(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


def digest_of(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:6], "big")


def cursor_encode(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def cursor_decode(cursor: str) -> dict[str, Any] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def object_of(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def list_of(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def error_answer(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


@dataclass(slots=True)
class StoredOrder:
    id: int
    number: int
    placed: int
    updated: int
    cancelled: int | None = None
    financial: str = "PAID"


@dataclass
class StoreState:
    """The store's state: its settings, catalogue and orders (the fake's base)."""

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
        self._orders: dict[int, StoredOrder] = {}
        self._fulfilled: dict[int, int] = {}  # line item id -> quantity fulfilled
        self._refund_keys: dict[str, dict[str, Any]] = {}
        self._sequence = 0
        self._last_minute: int | None = None
        self._lock = threading.RLock()
        self._base = ORDER_ID_BASE + self.seed * 100 * MINUTE_IDS

    # --- catalogue ----------------------------------------------------------------------------

    def variant_id(self, sku: str) -> int:
        return 40_000_000_000_000 + digest_of(f"variant:{sku}") % 10_000_000_000_000

    def inventory_item_id(self, sku: str) -> str:
        """The inventory item gid of a SKU of this store."""
        return gid_of("InventoryItem", 50_000_000_000_000 + digest_of(f"item:{sku}") % 10**13)

    def location_gid(self) -> str:
        return gid_of("Location", self.location_id)

    def _unit_price(self, sku: str) -> Decimal:
        cents = 995 + (digest_of(f"price:{sku}") % 180) * 50
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

    def _insert(self, order: StoredOrder) -> None:
        self._orders[order.id] = order
        bisect.insort(self._keys, (order.updated, order.id))

    def _touch(self, order: StoredOrder, updated: int) -> None:
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
        start = seconds_of(updated_at or dt.datetime.now(dt.UTC))
        gap = int(step.total_seconds())
        ids = []
        with self._lock:
            for index in range(n):
                self._sequence += 1
                order_id = self._base + self._sequence
                updated = start + index * gap
                placed = updated - random.Random(order_id).randint(0, 300)
                self._insert(StoredOrder(order_id, 1000 + self._sequence, placed, updated))
                ids.append(order_id)
        return ids

    def tick(self, now: dt.datetime | None = None, *, backfill_minutes: int = 60) -> int:
        """Add the one or two orders of every minute over by `now` (the first call also those
        of the `backfill_minutes` before); how many were added."""
        minute_now = seconds_of(now or dt.datetime.now(dt.UTC)) // 60
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
                    self._insert(StoredOrder(order_id, number, placed, placed + rng.randint(1, 5)))
                    added += 1
            self._last_minute = max(self._last_minute, minute_now - 1)
        return added

    def cancel_order(self, order_id: int, *, at: dt.datetime | None = None) -> None:
        """Cancel an order from the Shopify side (its updatedAt moves, as in Shopify)."""
        with self._lock:
            order = self._orders[order_id]
            moment = seconds_of(at or dt.datetime.now(dt.UTC))
            order.cancelled = moment
            self._touch(order, moment)

    def _order_of(self, value: Any) -> StoredOrder | None:
        number = number_of(value)
        return self._orders.get(number) if number is not None else None
