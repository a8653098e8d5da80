"""Transfer states and the transitions allowed between them."""

from __future__ import annotations

from inventory.models import TransferStatus

TRANSITIONS: dict[str, frozenset[str]] = {
    TransferStatus.DRAFT: frozenset({TransferStatus.IN_TRANSIT, TransferStatus.CANCELLED}),
    TransferStatus.IN_TRANSIT: frozenset({TransferStatus.RECEIVED, TransferStatus.CANCELLED}),
    TransferStatus.RECEIVED: frozenset(),
    TransferStatus.CANCELLED: frozenset(),
}
