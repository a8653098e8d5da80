"""Pick lists: what to fetch where, as data (fulfilment.documents prints them as PDFs).

Invariants: everything here only reads (no service, no write); a pick list is built in a
constant number of queries whatever the number of shipments and lines; its rows follow the
walking order of the location (bin code in natural order, SKUs without a bin last, then SKU
code); a shipment's scannable id is "SH-<id>" (shipment_code).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from fulfilment.models import Shipment, ShipmentLine
from inventory.models import Location, StockLevel
from oms.errors import ValidationFailed

# --- the pick list as data ------------------------------------------------------------------


@dataclass(frozen=True)
class PickRow:
    """One stop of the walk: a SKU in its bin, how many in all and for which shipments."""

    sku_code: str
    sku_name: str
    barcode: str
    bin: str
    quantity: int
    shipments: tuple[tuple[int, int], ...]  # (shipment id, quantity), by shipment id


@dataclass(frozen=True)
class PickShipment:
    id: int
    order_number: str
    lines: int
    units: int

    @property
    def code(self) -> str:
        return shipment_code(self.id)


@dataclass(frozen=True)
class PickList:
    location_code: str
    location_name: str
    generated_at: dt.datetime
    rows: tuple[PickRow, ...]
    shipments: tuple[PickShipment, ...]

    @property
    def total_units(self) -> int:
        return sum(row.quantity for row in self.rows)


def shipment_code(shipment_id: int) -> str:
    """What the packing slip's barcode says and what the pack station accepts."""
    return f"SH-{shipment_id}"


def bin_sort_key(bin_code: str) -> tuple[int, tuple[tuple[int, int | str], ...]]:
    """Walking order: natural order of bin codes (A-2 before A-10), empty bins last."""
    code = bin_code.strip().upper()
    if not code:
        return (1, ())
    parts = tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", code) if part
    )
    return (0, parts)


def pick_list(
    *, location: Location, shipments: Iterable[Shipment | int], now: dt.datetime | None = None
) -> PickList:
    """The pick list of these shipments at `location`, in walking order. Two queries.

    Raises ValidationFailed (a shipment of another location).
    """
    ids = sorted({s if isinstance(s, int) else s.pk for s in shipments})
    lines = list(
        ShipmentLine.objects.filter(shipment_id__in=ids)
        .select_related("shipment__order", "order_line__sku")
        .order_by("shipment_id", "id")
    )
    elsewhere = sorted({ln.shipment_id for ln in lines if ln.shipment.location_id != location.pk})
    if elsewhere:
        raise ValidationFailed(
            f"A pick list is for one location: {', '.join(map(shipment_code, elsewhere))} "
            f"{'is' if len(elsewhere) == 1 else 'are'} not at {location.code}.",
            errors={"shipments": [shipment_code(pk) for pk in elsewhere]},
        )
    sku_ids = {ln.order_line.sku_id for ln in lines if ln.order_line.sku_id is not None}
    bins = dict(
        StockLevel.objects.filter(location=location, sku_id__in=sku_ids).values_list(
            "sku_id", "bin"
        )
    )
    grouped: dict[Any, dict[str, Any]] = {}
    per_shipment: dict[int, dict[str, Any]] = {}
    for ln in lines:
        order_line = ln.order_line
        sku = order_line.sku
        key = sku.pk if sku is not None else f"code:{order_line.sku_code}"
        row = grouped.setdefault(
            key,
            {
                "sku_code": sku.code if sku else order_line.sku_code,
                "sku_name": (sku.name if sku else "") or order_line.name,
                "barcode": sku.barcode if sku else "",
                "bin": bins.get(sku.pk, "") if sku else "",
                "quantity": 0,
                "shipments": {},
            },
        )
        row["quantity"] += ln.quantity
        row["shipments"][ln.shipment_id] = row["shipments"].get(ln.shipment_id, 0) + ln.quantity
        summary = per_shipment.setdefault(
            ln.shipment_id,
            {"order_number": str(ln.shipment.order), "lines": 0, "units": 0},
        )
        summary["lines"] += 1
        summary["units"] += ln.quantity
    rows = sorted(
        (
            PickRow(
                sku_code=r["sku_code"],
                sku_name=r["sku_name"],
                barcode=r["barcode"],
                bin=r["bin"],
                quantity=r["quantity"],
                shipments=tuple(sorted(r["shipments"].items())),
            )
            for r in grouped.values()
        ),
        key=lambda r: (bin_sort_key(r.bin), r.sku_code),
    )
    return PickList(
        location_code=location.code,
        location_name=location.name,
        generated_at=now or timezone.now(),
        rows=tuple(rows),
        shipments=tuple(PickShipment(id=pk, **s) for pk, s in sorted(per_shipment.items())),
    )
