"""Reads of the inventory app shared by the API, the admin, tasks and the apps above.

Invariants: a level's history comes from the ledger alone (sum of deltas up to a moment);
lists are built in a constant number of queries whatever their length.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    Case,
    ExpressionWrapper,
    F,
    IntegerField,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest

from inventory.models import Location, Sku, StockLevel, StockMovement, Transfer


def sku_list() -> QuerySet[Sku]:
    return Sku.objects.all()


def location_list() -> QuerySet[Location]:
    return Location.objects.all()


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


def low_stock_case() -> Case:
    """0 = out of stock, 1 = at or below reorder point, 2 = fine (for sorting by urgency)."""
    return Case(
        When(on_hand__lte=F("reserved"), then=Value(0)),
        When(reorder_point__gt=0, on_hand__lte=F("reorder_point") + F("reserved"), then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
