"""Reads of the inventory app shared by the API, the admin, tasks and the apps above.

Invariants: a level's history comes from the ledger alone (sum of deltas up to a moment);
lists are built in a constant number of queries whatever their length.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import (
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from inventory.models import (
    Location,
    Sku,
    SkuPrice,
    StockForecast,
    StockLevel,
    StockMovement,
    Transfer,
    TransferLine,
    TransferStatus,
)


def sku_list() -> QuerySet[Sku]:
    return Sku.objects.all()


def sku_price_list() -> QuerySet[SkuPrice]:
    return SkuPrice.objects.select_related("sku", "channel").order_by("id")


def location_list() -> QuerySet[Location]:
    return Location.objects.all()


#: A stock level's figures as the back office's list and the API show them ("available" is
#: annotated by `available_expression`).
STOCK_LEVEL_FIGURES = (
    "on_hand",
    "reserved",
    "quarantined",
    "safety_stock",
    "reorder_point",
    "available",
    "needs_count",
)


def available_expression() -> Greatest:
    """SQL for max(0, on_hand - reserved - safety_stock)."""
    return Greatest(
        ExpressionWrapper(
            F("on_hand") - F("reserved") - F("safety_stock"), output_field=IntegerField()
        ),
        Value(0),
    )


def stock_level_list() -> QuerySet[StockLevel]:
    return StockLevel.objects.select_related("sku", "location").annotate(
        available_qty=available_expression()
    )


def stock_movement_list() -> QuerySet[StockMovement]:
    return StockMovement.objects.select_related("sku", "location")


def transfer_list() -> QuerySet[Transfer]:
    return Transfer.objects.select_related("from_location", "to_location").prefetch_related(
        "lines__sku"
    )


@dataclass(frozen=True)
class LevelAt:
    sku_id: int
    location_id: int
    on_hand: int
    reserved: int
    quarantined: int


def stock_levels_at(
    *, at: datetime, sku_ids: Iterable[int] | None = None, location_ids: Iterable[int] | None = None
) -> list[LevelAt]:
    """The quantities of every (sku, location) at moment `at`, reconstructed from the ledger."""
    movements = StockMovement.objects.filter(created_at__lte=at)
    if sku_ids is not None:
        movements = movements.filter(sku_id__in=list(sku_ids))
    if location_ids is not None:
        movements = movements.filter(location_id__in=list(location_ids))
    rows = (
        movements.values("sku_id", "location_id")
        .annotate(
            on_hand=Coalesce(Sum("on_hand_delta"), 0),
            reserved=Coalesce(Sum("reserved_delta"), 0),
            quarantined=Coalesce(Sum("quarantined_delta"), 0),
        )
        .order_by("sku_id", "location_id")
    )
    return [LevelAt(**row) for row in rows]


@dataclass(frozen=True)
class Drift:
    sku_id: int
    location_id: int
    field: str
    level: int
    ledger: int


def ledger_drift() -> list[Drift]:
    """Every level whose quantities differ from the sum of its movements (empty = consistent).

    Two queries: the ledger grouped by pair, and the levels streamed in chunks.
    """
    fields = ("on_hand", "reserved", "quarantined")
    ledger: dict[tuple[int, int], tuple[int, int, int]] = {
        (sku_id, location_id): (on_hand or 0, reserved or 0, quarantined or 0)
        for sku_id, location_id, on_hand, reserved, quarantined in StockMovement.objects.values(
            "sku_id", "location_id"
        )
        .annotate(
            s_on_hand=Sum("on_hand_delta"),
            s_reserved=Sum("reserved_delta"),
            s_quarantined=Sum("quarantined_delta"),
        )
        .values_list("sku_id", "location_id", "s_on_hand", "s_reserved", "s_quarantined")
        .order_by()
    }
    drift: list[Drift] = []
    levels = StockLevel.objects.values_list("sku_id", "location_id", *fields).order_by()
    for sku_id, location_id, *quantities in levels.iterator(chunk_size=5000):
        sums = ledger.pop((sku_id, location_id), (0, 0, 0))
        for field, level_qty, ledger_qty in zip(fields, quantities, sums, strict=True):
            if level_qty != ledger_qty:
                drift.append(Drift(sku_id, location_id, field, level_qty, ledger_qty))
    for (sku_id, location_id), sums in ledger.items():  # movements without a level row
        for field, ledger_qty in zip(fields, sums, strict=True):
            if ledger_qty:
                drift.append(Drift(sku_id, location_id, field, 0, ledger_qty))
    return drift


# --- stock that needs attention (the back office's "Attention" page) --------------------------


@dataclass(frozen=True)
class AttentionItem:
    """A stock level that needs action, with every reason; lower `urgency` comes first."""

    level: StockLevel
    available: int
    urgency: int
    reasons: tuple[str, ...]
    velocity: Decimal | None
    stockout_date: date | None
    next_transfer_id: int | None
    next_transfer_at: datetime | None


ATTENTION_OUT_OF_STOCK = 0
ATTENTION_RUNS_OUT = 1
ATTENTION_REORDER = 2
ATTENTION_COUNT = 3


def sku_find(*, code_or_barcode: str) -> Sku | None:
    """The SKU a person typed or scanned: by code, else by barcode (codes win)."""
    value = code_or_barcode.strip()
    if not value:
        return None
    found = {sku.code == value: sku for sku in Sku.objects.filter(Q(code=value) | Q(barcode=value))}
    return found.get(True) or found.get(False)


def _incoming_transfers() -> dict[tuple[int, int], tuple[datetime, int]]:
    """Per (SKU, destination): (expected arrival, transfer id) of the earliest transfer in
    transit."""
    incoming: dict[tuple[int, int], tuple[datetime, int]] = {}
    transfer_lines = (
        TransferLine.objects.filter(
            transfer__status=TransferStatus.IN_TRANSIT, transfer__expected_at__isnull=False
        )
        .values_list("sku_id", "transfer__to_location_id", "transfer__expected_at", "transfer_id")
        .order_by()
    )
    for sku_id, location_id, expected_at, transfer_id in transfer_lines:
        if expected_at is None:  # excluded by the query; keeps the types honest
            continue
        pair = (sku_id, location_id)
        if pair not in incoming or expected_at < incoming[pair][0]:
            incoming[pair] = (expected_at, transfer_id)
    return incoming


#: The columns of a level (and its SKU and location) that the attention list reads.
ATTENTION_FIELDS = (
    "sku_id",
    "location_id",
    "on_hand",
    "reserved",
    "quarantined",
    "safety_stock",
    "reorder_point",
    "needs_count",
    "bin",
    "sku__code",
    "sku__name",
    "sku__lead_time_days",
    "location__code",
    "location__name",
)


def _attention_candidates(
    *, today: date, incoming: dict[tuple[int, int], tuple[datetime, int]]
) -> QuerySet[StockLevel]:
    """The levels that may need action, annotated with their forecast; a superset refined by
    `_attention_item`."""
    # Rows whose stock-out falls inside the widest window worth looking at; refined below.
    horizon = today + timedelta(days=int(Sku.objects.aggregate(m=Max("lead_time_days"))["m"] or 0))
    if incoming:
        horizon = max(
            horizon, max(timezone.localdate(at) for at, _ in incoming.values()) + timedelta(1)
        )
    forecast = StockForecast.objects.filter(
        sku_id=OuterRef("sku_id"), location_id=OuterRef("location_id")
    )
    return (
        StockLevel.objects.select_related("sku", "location")
        # What the reasons and the attention page show: hundreds of rows are read each time.
        .only(*ATTENTION_FIELDS)
        .annotate(
            available_qty=available_expression(),
            free_qty=ExpressionWrapper(F("on_hand") - F("reserved"), output_field=IntegerField()),
            forecast_velocity=Subquery(forecast.values("velocity")[:1]),
            forecast_stockout=Subquery(forecast.values("stockout_date")[:1]),
        )
        .filter(sku__track_inventory=True)
        .filter(
            Q(available_qty=0, reserved__gt=0)
            | Q(available_qty=0, forecast_velocity__gt=0)
            | Q(reorder_point__gt=0, free_qty__lte=F("reorder_point"))
            | Q(forecast_stockout__lt=horizon)
            | Q(needs_count=True)
        )
        .order_by()
    )


def _out_of_stock_reason(level: StockLevel, velocity: Decimal | None) -> str:
    """Why an out-of-stock level with demand needs action."""
    if level.reserved > level.on_hand:
        return f"Out of stock: {level.reserved} reserved for orders, only {level.on_hand} on hand."
    if level.reserved:
        return (
            f"Out of stock: nothing left to promise ({level.reserved} reserved for "
            f"orders, {level.on_hand} on hand)."
        )
    return f"Out of stock while selling about {velocity:.1f} a day."


def _runs_out_reason(
    level: StockLevel, *, stockout: date, next_in: tuple[datetime, int] | None, today: date
) -> str | None:
    """Why a level runs out before its next receipt (a reorder or a transfer), or None."""
    lead_time = level.sku.lead_time_days
    if stockout < today + timedelta(days=lead_time):
        return (
            f"Forecast to run out on {stockout:%Y-%m-%d}, before stock reordered today "
            f"could arrive ({lead_time} days lead time)."
        )
    if next_in is not None and stockout < timezone.localdate(next_in[0]):
        return (
            f"Forecast to run out on {stockout:%Y-%m-%d}, before transfer "
            f"TR-{next_in[1]} arrives ({timezone.localdate(next_in[0]):%Y-%m-%d})."
        )
    return None


def _attention_item(
    level: StockLevel, *, next_in: tuple[datetime, int] | None, today: date
) -> AttentionItem | None:
    """The level with every reason it needs action, or None when it needs none."""
    reasons: list[str] = []
    ranks: list[int] = []
    # The annotations of `_attention_candidates` (its QuerySet type does not carry them).
    velocity: Decimal | None = level.forecast_velocity  # type: ignore[attr-defined]
    stockout: date | None = level.forecast_stockout  # type: ignore[attr-defined]
    available = int(level.available_qty)  # type: ignore[attr-defined]
    if available == 0 and (level.reserved > 0 or (velocity or 0) > 0):
        ranks.append(ATTENTION_OUT_OF_STOCK)
        reasons.append(_out_of_stock_reason(level, velocity))
    if stockout is not None:
        runs_out = _runs_out_reason(level, stockout=stockout, next_in=next_in, today=today)
        if runs_out is not None:
            ranks.append(ATTENTION_RUNS_OUT)
            reasons.append(runs_out)
    if level.reorder_point > 0 and level.on_hand - level.reserved <= level.reorder_point:
        ranks.append(ATTENTION_REORDER)
        reasons.append(
            f"At or below the reorder point: {level.on_hand - level.reserved} free, "
            f"reorder point {level.reorder_point}."
        )
    if level.needs_count:
        ranks.append(ATTENTION_COUNT)
        reasons.append("Flagged for a cycle count.")
    if not ranks:
        return None
    return AttentionItem(
        level=level,
        available=available,
        urgency=min(ranks),
        reasons=tuple(reasons),
        velocity=velocity,
        stockout_date=stockout,
        next_transfer_id=next_in[1] if next_in else None,
        next_transfer_at=next_in[0] if next_in else None,
    )


def stock_attention_list(*, today: date | None = None) -> list[AttentionItem]:
    """Levels that need action, most urgent first, each with why. Three queries.

    - out of stock: nothing available to promise while there is demand (units reserved for
      orders, or a forecast velocity above zero);
    - runs out before the next receipt: the level's forecast stock-out date is earlier than
      today + the SKU's lead time, or earlier than the expected arrival of the next transfer
      in transit bringing that SKU to that location;
    - at or below the reorder point: on hand minus reserved is at most the reorder point;
    - flagged for a cycle count.
    """
    today = today or timezone.localdate()
    incoming = _incoming_transfers()
    items: list[AttentionItem] = []
    for level in _attention_candidates(today=today, incoming=incoming):
        item = _attention_item(
            level, next_in=incoming.get((level.sku_id, level.location_id)), today=today
        )
        if item is not None:
            items.append(item)
    items.sort(
        key=lambda item: (
            item.urgency,
            item.stockout_date or date.max,
            -item.level.reserved,
            item.level.sku.code,
            item.level.location.code,
        )
    )
    return items


def forecast_list() -> QuerySet[StockForecast]:
    """Demand forecasts with their SKU and location (location empty = the whole network)."""
    return StockForecast.objects.select_related("sku", "location")


@dataclass(frozen=True)
class LocationStock:
    """One location's stock of a SKU: what is there, held for orders, sellable, on the way."""

    location_id: int
    location_code: str
    location_name: str
    level_id: int | None
    on_hand: int
    reserved: int
    quarantined: int
    safety_stock: int
    available: int
    incoming: int
    next_incoming_at: datetime | None


@dataclass(frozen=True)
class SkuStock:
    rows: list[LocationStock]
    on_hand: int
    reserved: int
    quarantined: int
    available: int
    incoming: int


def sku_stock_by_location(sku: Sku) -> SkuStock:
    """A SKU's stock at every location that holds a level of it or awaits a transfer of it,
    by location code, with totals. Two queries: the levels, the transfers in transit."""
    levels = {
        level.location_id: level
        for level in StockLevel.objects.filter(sku=sku).select_related("location")
    }
    incoming: dict[int, tuple[int, datetime | None, str, str]] = {}
    transfer_lines = (
        TransferLine.objects.filter(sku=sku, transfer__status=TransferStatus.IN_TRANSIT)
        .values_list(
            "transfer__to_location_id",
            "quantity",
            "transfer__expected_at",
            "transfer__to_location__code",
            "transfer__to_location__name",
        )
        .order_by()
    )
    for location_id, quantity, expected_at, code, name in transfer_lines:
        units, soonest, _, _ = incoming.get(location_id, (0, None, code, name))
        if expected_at is not None and (soonest is None or expected_at < soonest):
            soonest = expected_at
        incoming[location_id] = (units + quantity, soonest, code, name)
    rows = []
    for location_id in levels.keys() | incoming.keys():
        level = levels.get(location_id)
        units, soonest, code, name = incoming.get(location_id, (0, None, "", ""))
        rows.append(
            LocationStock(
                location_id=location_id,
                location_code=level.location.code if level else code,
                location_name=level.location.name if level else name,
                level_id=level.pk if level else None,
                on_hand=level.on_hand if level else 0,
                reserved=level.reserved if level else 0,
                quarantined=level.quarantined if level else 0,
                safety_stock=level.safety_stock if level else 0,
                available=level.available if level else 0,
                incoming=units,
                next_incoming_at=soonest,
            )
        )
    rows.sort(key=lambda row: row.location_code)
    return SkuStock(
        rows=rows,
        on_hand=sum(r.on_hand for r in rows),
        reserved=sum(r.reserved for r in rows),
        quarantined=sum(r.quarantined for r in rows),
        available=sum(r.available for r in rows),
        incoming=sum(r.incoming for r in rows),
    )


def sku_current_prices(
    *, sku_ids: Iterable[int], channel_id: int, currency: str
) -> dict[int, Decimal]:
    """The current price of each SKU in `currency` on the channel: the channel's own price,
    else the SKU's default price; SKUs with neither are missing. One query."""
    ids = list(sku_ids)
    if not ids:
        return {}
    rows = SkuPrice.objects.filter(
        Q(channel_id=channel_id) | Q(channel__isnull=True), sku_id__in=ids, currency=currency
    ).values_list("sku_id", "channel_id", "amount")
    prices: dict[int, Decimal] = {}
    for sku_id, _channel, amount in sorted(rows, key=lambda r: r[1] is not None):
        prices[sku_id] = amount  # the channel's price (sorted last) wins over the default
    return prices
