"""Transfers of stock between locations: draft -> in_transit -> received, or cancelled.

Invariants: shipping takes the units off the source's on hand (transfer_out) and receiving puts
them on the destination's (transfer_in), so in transit they count at neither; cancelling a
transfer in transit puts them back at the source; each transition locks the transfer row and
a replay of a transition already made returns the transfer unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from inventory.models import (
    Location,
    MovementKind,
    Sku,
    StockLevel,
    StockMovement,
    Transfer,
    TransferLine,
    TransferStatus,
)
from inventory.services.stock import _insufficient, _level_ids, _movement, _stock_changed
from inventory.states import TRANSITIONS
from oms.errors import ValidationFailed
from oms.services import model_full_clean
from oms.states import assert_transition


@transaction.atomic
def transfer_create(
    *,
    from_location: Location,
    to_location: Location,
    lines: Sequence[tuple[Sku, int]],
    reference: str = "",
    actor: str = "system",
) -> Transfer:
    """Create a draft transfer. Raises ValidationFailed (same location, no or bad lines)."""
    if not lines:
        raise ValidationFailed("A transfer needs lines.", errors={"lines": ["At least one."]})
    quantities: dict[int, int] = {}
    skus: dict[int, Sku] = {}
    for index, (sku, quantity) in enumerate(lines):
        if not isinstance(quantity, int) or quantity <= 0:
            raise ValidationFailed(
                "Quantities are positive.", errors={f"lines.{index}.quantity": ["Must be >= 1."]}
            )
        if not sku.track_inventory:
            raise ValidationFailed(
                "SKU does not track inventory.", errors={f"lines.{index}.sku": [sku.code]}
            )
        quantities[sku.pk] = quantities.get(sku.pk, 0) + quantity
        skus[sku.pk] = sku
    transfer = Transfer(
        from_location=from_location, to_location=to_location, reference=reference, created_by=actor
    )
    model_full_clean(transfer)
    transfer.save()
    TransferLine.objects.bulk_create(
        TransferLine(transfer=transfer, sku_id=sku_id, quantity=q)
        for sku_id, q in quantities.items()
    )
    return transfer


def _lock(transfer: Transfer) -> Transfer:
    return Transfer.objects.select_for_update().get(pk=transfer.pk)


def _move(transfer: Transfer, location_id: int, sign: int, kind: str, actor: str) -> None:
    lines = list(transfer.lines.all())
    ids = _level_ids((line.sku_id, location_id) for line in lines)
    for line in sorted(lines, key=lambda ln: ids[(ln.sku_id, location_id)]):
        level_id = ids[(line.sku_id, location_id)]
        guard = Q()
        if sign < 0:
            guard = Q(on_hand__gte=F("reserved") + line.quantity)
        if not StockLevel.objects.filter(guard, pk=level_id).update(
            on_hand=F("on_hand") + sign * line.quantity
        ):
            raise _insufficient(level_id, line.quantity, "transfer")
    StockMovement.objects.bulk_create(
        _movement(
            sku_id=line.sku_id,
            location_id=location_id,
            kind=kind,
            on_hand=sign * line.quantity,
            actor=actor,
            reason=f"transfer {transfer.pk}",
            transfer=transfer,
        )
        for line in lines
    )
    _stock_changed(ids, freed=sign > 0)


@transaction.atomic
def transfer_ship(*, transfer: Transfer, actor: str = "system") -> Transfer:
    """Take the units off the source. Raises InvalidTransition, InsufficientStock."""
    transfer = _lock(transfer)
    if transfer.status == TransferStatus.IN_TRANSIT:
        return transfer
    assert_transition(TRANSITIONS, transfer.status, TransferStatus.IN_TRANSIT, what="Transfer")
    _move(transfer, transfer.from_location_id, -1, MovementKind.TRANSFER_OUT, actor)
    transfer.status = TransferStatus.IN_TRANSIT
    transfer.shipped_at = timezone.now()
    transfer.save(update_fields=["status", "shipped_at"])
    return transfer


@transaction.atomic
def transfer_receive(*, transfer: Transfer, actor: str = "system") -> Transfer:
    """Put the units on hand at the destination. Raises InvalidTransition."""
    transfer = _lock(transfer)
    if transfer.status == TransferStatus.RECEIVED:
        return transfer
    assert_transition(TRANSITIONS, transfer.status, TransferStatus.RECEIVED, what="Transfer")
    _move(transfer, transfer.to_location_id, +1, MovementKind.TRANSFER_IN, actor)
    transfer.status = TransferStatus.RECEIVED
    transfer.received_at = timezone.now()
    transfer.save(update_fields=["status", "received_at"])
    return transfer


@transaction.atomic
def transfer_cancel(*, transfer: Transfer, actor: str = "system") -> Transfer:
    """Cancel a draft, or bring a transfer in transit back to its source.

    Raises InvalidTransition.
    """
    transfer = _lock(transfer)
    if transfer.status == TransferStatus.CANCELLED:
        return transfer
    assert_transition(TRANSITIONS, transfer.status, TransferStatus.CANCELLED, what="Transfer")
    if transfer.status == TransferStatus.IN_TRANSIT:
        _move(transfer, transfer.from_location_id, +1, MovementKind.TRANSFER_IN, actor)
    transfer.status = TransferStatus.CANCELLED
    transfer.cancelled_at = timezone.now()
    transfer.save(update_fields=["status", "cancelled_at"])
    return transfer
