"""Demand forecasts: the nightly recomputation of every StockForecast row.

The method (velocities, blend, cover, stock-out date, reorder quantity, WAPE backtest) is the
pure arithmetic of `inventory.forecasting`; this module only gathers its inputs and stores rows.

Invariants this module guards:
- the inputs are read in a constant number of queries whatever the size of the catalogue: the
  tracked SKUs, the stock levels, the in-transit transfer lines, and one demand query (shipment
  movements grouped by SKU, location and UTC day); the arithmetic runs outside any transaction;
- the table is replaced in one short transaction (delete everything, bulk insert), so readers
  see the previous forecast or the new one, never a mix; on PostgreSQL an exclusive table lock
  (readers are not blocked) serializes concurrent refreshes, so a task delivered twice at once
  still leaves exactly one row per pair;
- one row per (SKU tracking inventory, location) that has a stock level or shipped in the
  window, and one network row per such SKU (location empty) over the sum of its locations:
  demand and quantities added up, incoming 0 because transfers only move stock inside the
  network.

Planned demand (inventory.planned_demand): units that registered providers expect to be
ordered in the next 30 days (subscription renewals) are added to the reorder quantity, on top
of what the method computes from history: units planned at a location go to that location's
row and to the network row, units planned without a location (the provider cannot tell where
they ship from) go to the network row only. A tracked SKU with planned units but no stock level
and no history still gets its network row. The providers read in a constant number of queries.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from inventory import forecasting
from inventory.models import (
    MovementKind,
    Sku,
    StockForecast,
    StockLevel,
    StockMovement,
    TransferLine,
    TransferStatus,
)
from inventory.planned_demand import PlannedKey, planned_demand
from oms.errors import ValidationFailed

Pair = tuple[int, int]


def _demand(*, today: date) -> dict[Pair, dict[date, int]]:
    """Units shipped per (sku, location) and UTC day over the history the method needs."""
    start = datetime.combine(today - timedelta(days=forecasting.HISTORY_DAYS), time.min, UTC)
    end = datetime.combine(today, time.min, UTC)
    rows = (
        StockMovement.objects.filter(
            kind=MovementKind.SHIPMENT,
            created_at__gte=start,
            created_at__lt=end,
            sku__track_inventory=True,
        )
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("sku_id", "location_id", "day")
        .annotate(delta=Sum("on_hand_delta"))
        .values_list("sku_id", "location_id", "day", "delta")
        .order_by()
    )
    demand: dict[Pair, dict[date, int]] = defaultdict(dict)
    for sku_id, location_id, day, delta in rows.iterator(chunk_size=5000):
        demand[(sku_id, location_id)][day] = -(delta or 0)  # shipments take stock away
    return demand


def _levels() -> dict[Pair, tuple[int, int, int]]:
    """(on_hand, reserved, safety_stock) of every level of a tracked SKU."""
    rows = (
        StockLevel.objects.filter(sku__track_inventory=True)
        .values_list("sku_id", "location_id", "on_hand", "reserved", "safety_stock")
        .order_by()
    )
    return {
        (sku_id, location_id): (on_hand, reserved, safety_stock)
        for sku_id, location_id, on_hand, reserved, safety_stock in rows.iterator(chunk_size=5000)
    }


def _incoming() -> dict[Pair, int]:
    """Units in transit towards each (sku, destination)."""
    rows = (
        TransferLine.objects.filter(
            transfer__status=TransferStatus.IN_TRANSIT, sku__track_inventory=True
        )
        .values("sku_id", "transfer__to_location_id")
        .annotate(units=Sum("quantity"))
        .values_list("sku_id", "transfer__to_location_id", "units")
        .order_by()
    )
    return {(sku_id, location_id): units or 0 for sku_id, location_id, units in rows}


def _row(
    *,
    sku_id: int,
    location_id: int | None,
    computed_at: datetime,
    result: forecasting.Forecast,
    on_hand: int,
    available: int,
    incoming: int,
    planned: int = 0,
) -> StockForecast:
    return StockForecast(
        sku_id=sku_id,
        location_id=location_id,
        computed_at=computed_at,
        velocity_7=result.velocity_7,
        velocity_28=result.velocity_28,
        velocity_90=result.velocity_90,
        velocity=result.velocity,
        on_hand=on_hand,
        available=available,
        incoming=incoming,
        days_of_cover=result.days_of_cover,
        stockout_date=result.stockout_date,
        reorder_quantity=result.reorder_quantity + planned,
        wape=result.wape,
        backtest_weeks=result.backtest_weeks,
    )


def _locations(
    lead_times: dict[int, int], pairs: tuple[Pair, ...], planned: dict[PlannedKey, int]
) -> dict[int, set[int]]:
    """The locations of every tracked SKU that gets rows (a SKU with planned units only: none,
    but its network row)."""
    locations: dict[int, set[int]] = defaultdict(set)
    for sku_id, location_id in pairs:
        if sku_id in lead_times:  # a SKU may stop tracking between the queries
            locations[sku_id].add(location_id)
    for sku_id, planned_location in planned:
        if sku_id in lead_times:
            locations[sku_id].update(() if planned_location is None else (planned_location,))
    return locations


def _forecasts(*, now: datetime, today: date) -> list[StockForecast]:
    lead_times = dict(Sku.objects.filter(track_inventory=True).values_list("pk", "lead_time_days"))
    levels = _levels()
    incoming = _incoming()
    demand = _demand(today=today)
    planned = planned_demand(now)

    locations = _locations(lead_times, (*levels, *demand), planned)
    network_planned: dict[int, int] = defaultdict(int)
    for (sku_id, _), units in planned.items():
        network_planned[sku_id] += units

    rows: list[StockForecast] = []
    for sku_id in sorted(locations):
        lead_time = lead_times[sku_id]
        network_series = [0] * forecasting.HISTORY_DAYS
        network_on_hand = network_reserved = network_safety = network_available = 0
        for location_id in sorted(locations[sku_id]):
            pair = (sku_id, location_id)
            on_hand, reserved, safety_stock = levels.get(pair, (0, 0, 0))
            available = max(0, on_hand - reserved - safety_stock)
            series = forecasting.daily_series(demand.get(pair, {}), today=today)
            result = forecasting.forecast(
                series,
                today=today,
                lead_time_days=lead_time,
                on_hand=on_hand,
                reserved=reserved,
                safety_stock=safety_stock,
                available=available,
                incoming=incoming.get(pair, 0),
            )
            rows.append(
                _row(
                    sku_id=sku_id,
                    location_id=location_id,
                    computed_at=now,
                    result=result,
                    on_hand=on_hand,
                    available=available,
                    incoming=incoming.get(pair, 0),
                    planned=planned.get(pair, 0),
                )
            )
            network_series = [a + b for a, b in zip(network_series, series, strict=True)]
            network_on_hand += on_hand
            network_reserved += reserved
            network_safety += safety_stock
            # Units free at one location cannot cover a shortfall counted at another: add up
            # what each location has available rather than netting the totals.
            network_available += available
        result = forecasting.forecast(
            network_series,
            today=today,
            lead_time_days=lead_time,
            on_hand=network_on_hand,
            reserved=network_reserved,
            safety_stock=network_safety,
            available=network_available,
            incoming=0,
        )
        rows.append(
            _row(
                sku_id=sku_id,
                location_id=None,
                computed_at=now,
                result=result,
                on_hand=network_on_hand,
                available=network_available,
                incoming=0,
                planned=network_planned[sku_id],
            )
        )
    return rows


def _lock_forecasts() -> None:
    """Serialize refreshes: a second one waits here and then deletes what the first wrote."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(StockForecast._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")


def forecast_refresh(*, now: datetime | None = None) -> int:
    """Recompute every demand forecast from the ledger; return the number of rows written.

    Raises ValidationFailed (`now` without a time zone).
    """
    if now is None:
        now = timezone.now()
    if timezone.is_naive(now):
        raise ValidationFailed(
            "The forecast time needs a time zone.", errors={"now": ["Give an aware datetime."]}
        )
    rows = _forecasts(now=now, today=now.astimezone(UTC).date())
    with transaction.atomic():
        _lock_forecasts()
        StockForecast.objects.all().delete()
        StockForecast.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
