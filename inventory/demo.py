"""Demo catalogue and locations of a believable merchant (Northwind Outdoor), idempotent by code."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import product

from django.db.models import Exists, OuterRef
from django.utils import timezone

from inventory import services
from inventory.models import Channel, Location, Sku, SkuPrice, StockLevel, StockMovement


@dataclass(frozen=True)
class DemoLocation:
    code: str
    name: str
    kind: str
    line1: str
    postal_code: str
    city: str
    country: str
    latitude: str
    longitude: str
    priority: int
    daily_capacity: int | None
    ships_online: bool = True


LOCATIONS = [
    DemoLocation(
        "BER-WH",
        "Berlin warehouse",
        "warehouse",
        "Gutenbergstraße 12",
        "12529",
        "Schönefeld",
        "DE",
        "52.372400",
        "13.517800",
        10,
        1200,
    ),
    DemoLocation(
        "VNL-WH",
        "Venlo fulfilment centre",
        "warehouse",
        "Celsiusweg 40",
        "5928 PR",
        "Venlo",
        "NL",
        "51.393700",
        "6.130900",
        20,
        2000,
    ),
    DemoLocation(
        "LYS-WH",
        "Lyon warehouse",
        "warehouse",
        "Rue de la Soie 8",
        "69330",
        "Meyzieu",
        "FR",
        "45.776700",
        "5.003900",
        30,
        600,
    ),
    DemoLocation(
        "MUC-STORE",
        "Munich flagship store",
        "store",
        "Kaufingerstraße 9",
        "80331",
        "München",
        "DE",
        "48.137000",
        "11.573500",
        50,
        80,
    ),
    DemoLocation(
        "MKN-3PL",
        "UK partner 3PL (Milton Keynes)",
        "3pl",
        "Tanners Drive 5",
        "MK14 5BN",
        "Milton Keynes",
        "GB",
        "52.063500",
        "-0.745000",
        40,
        None,
    ),
    DemoLocation(
        "NJ-WH",
        "New Jersey warehouse",
        "warehouse",
        "1 Corporate Place S",
        "08854",
        "Piscataway",
        "US",
        "40.554600",
        "-74.460900",
        10,
        900,
    ),
]

PRODUCTS = [
    ("TRL-JKT", "Trail shell jacket", 620, ("black", "navy", "moss"), ("S", "M", "L", "XL")),
    ("DWN-JKT", "Packable down jacket", 410, ("black", "rust", "ice"), ("S", "M", "L", "XL")),
    ("FLC-MID", "Grid fleece midlayer", 380, ("grey", "ochre"), ("S", "M", "L", "XL")),
    ("MER-TEE", "Merino crew tee", 160, ("black", "stone", "sage"), ("S", "M", "L", "XL")),
    ("HIK-PNT", "Stretch hiking trousers", 420, ("black", "olive"), ("30", "32", "34", "36")),
    ("RUN-SHT", "Trail running shorts", 140, ("black", "blue"), ("S", "M", "L")),
    ("HKB-LOW", "Low hiking boot", 980, ("brown", "black"), ("40", "41", "42", "43", "44", "45")),
    ("TRN-SHO", "Trail running shoe", 640, ("red", "grey"), ("40", "41", "42", "43", "44", "45")),
    ("WOL-SCK", "Wool hiking socks", 80, ("grey", "green"), ("S", "M", "L")),
    ("BNE-HAT", "Ribbed beanie", 90, ("black", "orange", "navy"), ("OS",)),
    ("DAY-PCK", "Daypack 22 l", 780, ("black", "teal", "sand"), ("22L",)),
    ("TRK-PCK", "Trekking pack 55 l", 1650, ("black", "moss"), ("M", "L")),
    ("TNT-2P", "Two-person tent", 2100, ("green",), ("2P",)),
    ("SLP-BAG", "Down sleeping bag", 1100, ("blue", "red"), ("REG", "LONG")),
    ("SLP-MAT", "Inflatable sleeping pad", 520, ("yellow",), ("REG", "WIDE")),
    ("HDL-400", "Headlamp 400 lm", 85, ("black", "orange"), ("OS",)),
    ("BTL-750", "Insulated bottle 750 ml", 390, ("steel", "black", "sage"), ("750ML",)),
    ("TRK-PLE", "Carbon trekking poles", 460, ("black",), ("115", "125", "135")),
    ("GLV-LNR", "Liner gloves", 60, ("black",), ("S", "M", "L")),
    ("RN-JKT", "Ultralight rain jacket", 230, ("yellow", "black"), ("S", "M", "L", "XL")),
    ("SFT-JKT", "Softshell jacket", 520, ("black", "navy", "red"), ("S", "M", "L", "XL")),
    ("INS-VST", "Insulated vest", 300, ("black", "olive", "ice"), ("S", "M", "L", "XL")),
    ("BSE-LGS", "Merino base leggings", 180, ("black", "grey"), ("S", "M", "L", "XL")),
    ("CLM-HRN", "Climbing harness", 390, ("blue", "orange"), ("XS", "S", "M", "L")),
    ("APR-SHO", "Approach shoe", 760, ("grey", "blue"), ("40", "41", "42", "43", "44", "45")),
    (
        "KID-JKT",
        "Kids rain jacket",
        240,
        ("yellow", "red", "blue"),
        ("104", "116", "128", "140", "152"),
    ),
    ("STF-SAK", "Stuff sack set", 120, ("orange", "blue", "green"), ("5L", "10L")),
    ("CMP-STV", "Camping stove", 330, ("steel",), ("OS",)),
    ("GAS-230", "Gas cartridge 230 g", 370, ("blue",), ("OS",)),
    ("FST-AID", "First-aid kit", 280, ("red",), ("SMALL", "LARGE")),
    ("SUN-GLS", "Glacier sunglasses", 40, ("black", "white"), ("OS",)),
]


def _ean13(number: int) -> str:
    body = f"400{number:09d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def demo_skus() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for base, name, grams, colours, sizes in PRODUCTS:
        for colour, size in product(colours, sizes):
            rows.append(
                {
                    "code": f"{base}-{colour.upper()}-{size}",
                    "name": f"{name}, {colour}, {size}",
                    "weight_grams": grams,
                }
            )
    for index, row in enumerate(rows, start=1):
        row["barcode"] = _ean13(index)
    return rows


def load_demo_inventory() -> dict[str, int]:
    """Create the demo locations and SKUs that do not exist yet; returns how many were created."""
    created = {"locations": 0, "skus": 0}
    existing_locations = set(Location.objects.values_list("code", flat=True))
    for loc in LOCATIONS:
        if loc.code in existing_locations:
            continue
        services.location_create(
            code=loc.code,
            name=loc.name,
            kind=loc.kind,
            line1=loc.line1,
            postal_code=loc.postal_code,
            city=loc.city,
            country=loc.country,
            latitude=Decimal(loc.latitude),
            longitude=Decimal(loc.longitude),
            priority=loc.priority,
            daily_capacity=loc.daily_capacity,
            ships_online=loc.ships_online,
        )
        created["locations"] += 1
    existing_skus = set(Sku.objects.values_list("code", flat=True))
    for row in demo_skus():
        if row["code"] in existing_skus:
            continue
        services.sku_create(
            code=str(row["code"]),
            name=str(row["name"]),
            barcode=str(row["barcode"]),
            weight_grams=int(str(row["weight_grams"])),
        )
        created["skus"] += 1
    return created


#: Default prices (EUR, USD) of the consumables a shopper subscribes to; every variant of the
#: product shares them. The other products are priced by their channels' orders only.
DEMO_PRICES = {
    "GAS-230": ("6.95", "7.50"),
    "WOL-SCK": ("18.90", "21.00"),
    "FST-AID": ("24.90", "27.00"),
    "STF-SAK": ("14.90", "16.00"),
}
#: A channel's own price list: the web shop sells gas cartridges below their default price.
DEMO_CHANNEL_PRICES = (("shop-eu", "GAS-230", "EUR", "5.95"),)


def load_demo_prices() -> dict[str, int]:
    """Give the consumables their default prices and the web shop its own price of gas
    cartridges (what "current price" subscription lines charge), through the service; only
    the prices that are missing. One query when they all exist."""
    codes = [str(row["code"]) for row in demo_skus()]

    def variants(base: str) -> list[str]:
        return [code for code in codes if code.startswith(f"{base}-")]

    wanted: list[tuple[str, str | None, str, str]] = [
        (code, None, currency, amount)
        for base, (eur, usd) in DEMO_PRICES.items()
        for code in variants(base)
        for currency, amount in (("EUR", eur), ("USD", usd))
    ]
    wanted += [
        (code, channel, currency, amount)
        for channel, base, currency, amount in DEMO_CHANNEL_PRICES
        for code in variants(base)
    ]
    existing = set(
        SkuPrice.objects.filter(sku__code__in={w[0] for w in wanted}).values_list(
            "sku__code", "channel__code", "currency"
        )
    )
    missing = [w for w in wanted if w[:3] not in existing]
    if not missing:
        return {"prices": 0}
    skus = {s.code: s for s in Sku.objects.filter(code__in={w[0] for w in missing})}
    channels = {c.code: c for c in Channel.objects.filter(code__in={w[1] for w in missing if w[1]})}
    created = 0
    for code, channel_code, currency, amount in missing:
        sku, channel = skus.get(code), channels.get(channel_code or "")
        if sku is None or (channel_code and channel is None):
            continue  # not loaded (yet): a later load adds it
        services.sku_price_set(sku=sku, channel=channel, currency=currency, amount=Decimal(amount))
        created += 1
    return {"prices": created}


# Which locations stock a product, by the product's position in PRODUCTS (deterministic).
def _stocking_locations(product_index: int) -> list[str]:
    codes = ["BER-WH", "VNL-WH", "NJ-WH"]
    if product_index % 2 == 0:
        codes.append("LYS-WH")
    if product_index % 3 == 0:
        codes.append("MKN-3PL")
    if product_index < 6 or product_index % 4 == 1:
        codes.append("MUC-STORE")
    return codes


HISTORY_DAYS = 60


def load_demo_stock(*, now: datetime | None = None) -> dict[str, int]:
    """Give every demo SKU stock at several locations with 60 days of believable history.

    Each level gets an opening receipt, daily sales (shipments) around a per-SKU rate with a
    weekly rhythm, and weekly replenishment receipts, loaded through stock_history_load; levels
    that already have a ledger are left alone, so running it again changes nothing.
    """
    now = now or timezone.now()
    start = (now - timedelta(days=HISTORY_DAYS)).replace(hour=6, minute=0, second=0, microsecond=0)
    locations = {loc.code: loc for loc in Location.objects.all()}
    skus = {sku.code: sku for sku in Sku.objects.all()}
    # Levels with a ledger (one indexed look-up per level, not a scan of the whole ledger).
    has_ledger = set(
        StockLevel.objects.filter(
            Exists(
                StockMovement.objects.filter(
                    sku_id=OuterRef("sku_id"), location_id=OuterRef("location_id")
                )
            )
        ).values_list("sku_id", "location_id")
    )
    histories: list[services.LevelHistory] = []
    for product_index, (base, _name, _grams, colours, sizes) in enumerate(PRODUCTS):
        for colour, size in product(colours, sizes):
            sku = skus.get(f"{base}-{colour.upper()}-{size}")
            if sku is None:
                continue
            for code in _stocking_locations(product_index):
                location = locations.get(code)
                if location is None or (sku.pk, location.pk) in has_ledger:
                    continue
                rng = random.Random(f"{sku.code}@{code}")
                rate = rng.choice([0.2, 0.4, 0.7, 1.0, 1.5, 2.5]) * (
                    0.4 if location.kind == "store" else 1.0
                )
                histories.append(
                    services.LevelHistory(
                        sku=sku,
                        location=location,
                        entries=_history(rng, start, rate),
                        safety_stock=max(1, round(rate * 2)),
                        reorder_point=max(2, round(rate * sku.lead_time_days)),
                        bin=_bin(product_index, sku.pk),
                    )
                )
    services.stock_history_load_many(histories=histories, actor="demo")
    return {"stock levels": len(histories)}


def _bin(product_index: int, sku_id: int) -> str:
    """Aisle per product, rack and shelf per variant: AA-RR-S."""
    return f"{product_index + 1:02d}-{sku_id % 12 + 1:02d}-{'ABCD'[sku_id % 4]}"


def _history(rng: random.Random, start: datetime, rate: float) -> list[tuple[datetime, str, int]]:
    weekly = [1.0, 0.9, 0.9, 1.0, 1.2, 1.5, 1.3]  # Monday .. Sunday
    on_hand = max(5, round(rate * 30))
    entries: list[tuple[datetime, str, int]] = [(start, "receipt", on_hand)]
    for day in range(1, HISTORY_DAYS):
        moment = start + timedelta(days=day)
        mean = rate * weekly[moment.weekday()]
        sold = sum(1 for _ in range(8) if rng.random() < mean / 8)  # binomial around the mean
        sold = min(sold, on_hand)
        if sold:
            entries.append((moment + timedelta(hours=rng.randint(2, 12)), "shipment", -sold))
            on_hand -= sold
        if moment.weekday() == 0 and on_hand < rate * 14:
            quantity = max(4, round(rate * 21))
            entries.append((moment + timedelta(hours=1), "receipt", quantity))
            on_hand += quantity
        if rng.random() < 0.03 and on_hand > 2:
            entries.append((moment + timedelta(hours=15), "damage", -1))
            on_hand -= 1
    return entries
