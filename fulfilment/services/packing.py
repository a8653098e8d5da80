"""The pack station's scan matching: which shipment a scanned reference names and whether it can
be packed, what it holds to pack, which of its items a scan names, and whether the scan fits.

Invariants:
- nothing here writes the shipment: the scans are counts (the pack station keeps them in a
  signed token in the page and, so that a reload resumes, in the shipment's PackProgress row:
  `pack_progress_save`, `pack_progress_load`, `pack_progress_clear`) and are recorded only when
  the packer packs, by `shipment_pick` and `shipment_pack`;
- a shipment reference is "SH-123", "SH123" or "123", any case, spaces around ignored;
- only a shipment in picking whose order is not on hold can be packed;
- the items of a shipment are its lines grouped by SKU code (the line's own code when it has no
  SKU), in line order; a line expects what was picked, or all of it while the pick is not
  confirmed (zero picked);
- a scan names an item by its exact SKU code, else its exact barcode, else either ignoring case:
  an exact match always wins;
- a scan never counts more of an item than the shipment holds: a scan that would, or a scan of
  something not in the shipment, is refused with a message for the packer and counts nothing;
- counts kept from earlier that no longer fit the shipment (an item gone, fewer units) are
  stale: the shipment changed while it was being scanned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fulfilment.models import PackProgress, Shipment, ShipmentLine
from fulfilment.picklists import shipment_code
from fulfilment.services.holds import held_problem
from fulfilment.states import ShipmentStatus
from inventory.selectors import sku_find

#: The shipment reference a scanner reads (the SH-<id> barcode of pick lists and packing slips).
SHIPMENT_REF = re.compile(r"^\s*(?:SH-?)?(\d{1,12})\s*$", re.IGNORECASE)


@dataclass
class PackItem:
    """One SKU of the shipment at the pack station: how many to pack, how many scanned."""

    sku_code: str
    name: str
    barcode: str
    weight_grams: int | None
    expected: int
    scanned: int = 0
    lines: list[tuple[int, int]] = field(default_factory=list)  # (order line id, quantity)

    @property
    def remaining(self) -> int:
        return self.expected - self.scanned


@dataclass(frozen=True)
class PackScan:
    """The outcome of one scan: `ok` and the counts after it, or the refusal (counts as they
    were); `message` is what the packer reads either way."""

    ok: bool
    message: str
    scanned: dict[str, int]


def pack_refusal(shipment: Shipment) -> str:
    """Why the shipment cannot be packed now, or "" when it can."""
    label = shipment_code(shipment.pk)
    if shipment.status == ShipmentStatus.PICKING:
        held = held_problem(shipment)
        return f"{label} cannot be packed: {held}. Release the order first." if held else ""
    if shipment.status == ShipmentStatus.PENDING:
        return (
            f"{label} is pending: it has not been picked yet. Pick it, confirm it with "
            "“Mark picked” in the shipment list, then scan it here."
        )
    if shipment.status == ShipmentStatus.PACKED:
        return f"{label} is already packed."
    return f"{label} is {shipment.get_status_display().lower()}: there is nothing to pack."


def pack_shipment_find(reference: str) -> tuple[Shipment | None, str]:
    """(the shipment a scanned or typed reference names, why it cannot be packed or "").

    The shipment is None when the reference names none (the reason says so)."""
    match = SHIPMENT_REF.match(reference)
    if match is None:
        return None, (
            f"“{reference}” is not a shipment number: scan the barcode on the pick list or "
            "packing slip (SH-123), or type the number."
        )
    pk = int(match[1])
    shipment = Shipment.objects.select_related("order", "location").filter(pk=pk).first()
    if shipment is None:
        return None, f"There is no shipment {shipment_code(pk)}."
    return shipment, pack_refusal(shipment)


def pack_items(shipment: Shipment, scanned: Mapping[str, int]) -> list[PackItem]:
    """The shipment's items to pack, with the counts scanned so far (one query)."""
    items: dict[str, PackItem] = {}
    lines = (
        ShipmentLine.objects.filter(shipment=shipment)
        .select_related("order_line__sku")
        .order_by("order_line__line_number", "id")
    )
    for line in lines:
        sku = line.order_line.sku
        code = sku.code if sku else line.order_line.sku_code
        # In picking, picked is what was found; zero means not confirmed: all of it.
        quantity = line.quantity_picked or line.quantity
        item = items.setdefault(
            code,
            PackItem(
                sku_code=code,
                name=(sku.name if sku else "") or line.order_line.name,
                barcode=sku.barcode if sku else "",
                weight_grams=sku.weight_grams if sku else None,
                expected=0,
            ),
        )
        item.expected += quantity
        item.lines.append((line.order_line_id, line.quantity))
    for code, count in scanned.items():
        if code in items:
            items[code].scanned = count
    return list(items.values())


def pack_item_match(items: Sequence[PackItem], value: str) -> PackItem | None:
    """The item a scan names: exact SKU code, else exact barcode, else either ignoring case."""
    for same in (
        lambda it: it.sku_code == value,
        lambda it: bool(it.barcode) and it.barcode == value,
        lambda it: (
            it.sku_code.casefold() == value.casefold()
            or (bool(it.barcode) and it.barcode.casefold() == value.casefold())
        ),
    ):
        found = next((it for it in items if same(it)), None)
        if found is not None:
            return found
    return None


def pack_scans_stale(items: Sequence[PackItem], scanned: Mapping[str, int]) -> bool:
    """Whether counts kept from earlier no longer fit the shipment's items."""
    known = {it.sku_code for it in items}
    return any(code not in known for code in scanned) or any(it.remaining < 0 for it in items)


def pack_complete(items: Sequence[PackItem]) -> bool:
    """Whether every unit of the shipment is scanned."""
    return all(it.remaining == 0 for it in items)


def pack_weight_estimate(items: Sequence[PackItem]) -> int | None:
    """The items' weight in grams, or None when one SKU has no weight."""
    weights = [it.weight_grams for it in items]
    if weights and all(w is not None for w in weights):
        return sum((it.weight_grams or 0) * it.expected for it in items)
    return None


def _not_in_shipment(shipment_id: int, value: str) -> str:
    """The packer's message for a scan that names no item of the shipment."""
    if SHIPMENT_REF.match(value) and value.upper().startswith("SH"):
        return (
            f"{value} is a shipment: finish {shipment_code(shipment_id)} first, or "
            "choose “Another shipment”."
        )
    sku = sku_find(code_or_barcode=value)
    return (
        f"{sku.code} is not in this shipment."
        if sku is not None
        else f"“{value}” is not in this shipment (no SKU has this code or barcode)."
    )


def _over_scan(item: PackItem, quantity: int) -> str:
    """The packer's message for a scan of more units than are left of an item."""
    if item.remaining == 0:
        return f"All {item.expected} of {item.sku_code} are already scanned."
    return (
        f"Only {item.remaining} more of {item.sku_code} "
        f"{'belongs' if item.remaining == 1 else 'belong'} in this shipment, "
        f"not {quantity}."
    )


def pack_scan(
    *,
    shipment_id: int,
    items: Sequence[PackItem],
    scanned: Mapping[str, int],
    value: str,
    quantity: int = 1,
) -> PackScan:
    """Count `quantity` units of the item a scanned barcode or typed SKU code names.

    On success the matched item's `scanned` grows (the caller shows `items` as they are now);
    a refusal (not in the shipment, more than is left) changes nothing.
    """
    item = pack_item_match(items, value)
    if item is None:
        return PackScan(False, _not_in_shipment(shipment_id, value), dict(scanned))
    if item.scanned + quantity > item.expected:
        return PackScan(False, _over_scan(item, quantity), dict(scanned))
    item.scanned += quantity
    message = f"{item.sku_code}: {item.scanned} of {item.expected} scanned."
    if pack_complete(items):
        message += " Everything is scanned: weigh the parcel."
    return PackScan(True, message, {**scanned, item.sku_code: item.scanned})


# --- progress kept on the server: a reload resumes ------------------------------------------


def pack_progress_load(shipment_id: int) -> dict[str, int]:
    """The counts scanned so far of a shipment ({} when none)."""
    row = PackProgress.objects.filter(shipment_id=shipment_id).only("scanned").first()
    if row is None or not isinstance(row.scanned, dict):
        return {}
    found: dict[str, int] = {}
    for code, count in row.scanned.items():
        try:
            if int(count) > 0:
                found[str(code)] = int(count)
        except (TypeError, ValueError):
            continue
    return found


def pack_progress_locked(shipment_id: int) -> dict[str, int]:
    """Inside a transaction: lock the shipment's row, so that one scan of it is applied at a
    time whoever scans, and return the counts scanned so far (what a scan must start from)."""
    Shipment.objects.select_for_update().filter(pk=shipment_id).values_list("pk").first()
    return pack_progress_load(shipment_id)


def pack_progress_save(*, shipment_id: int, scanned: Mapping[str, int], actor: str) -> None:
    """Keep the counts after an accepted scan (one UPSERT)."""
    PackProgress.objects.update_or_create(
        shipment_id=shipment_id, defaults={"scanned": dict(scanned), "updated_by": actor[:150]}
    )


def pack_progress_clear(shipment_id: int) -> None:
    """Forget the counts: packed, or the packer starts over."""
    PackProgress.objects.filter(shipment_id=shipment_id).delete()
