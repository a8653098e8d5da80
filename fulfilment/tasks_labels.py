"""Celery entry points of carrier labels: ids in, one service call (queue "labels").

Invariants: safe to run twice (fulfilment.services.labels: one label per parcel); transient
errors are retried through the outbox, after the carrier's Retry-After when it gave one, else
with exponential backoff and jitter, a bounded number of times; then the shipment is flagged.
"""

from __future__ import annotations

from typing import Any

from oms.tasks import oms_task


def _gave_up(kwargs: dict[str, Any], failure: str) -> None:
    from fulfilment.services.labels import labels_buy_gave_up

    labels_buy_gave_up(
        shipment_id=kwargs["shipment_id"], reason=failure, actor=kwargs.get("actor", "system")
    )


@oms_task(name="fulfilment.labels_buy", queue="labels", give_up=_gave_up)
def labels_buy(*, shipment_id: int, actor: str = "system", **_: Any) -> str:
    """Buy the missing labels of a shipment and ship it; returns the shipment's status."""
    from fulfilment.services.labels import labels_buy as buy

    shipment = buy(shipment_id=shipment_id, actor=actor)
    return shipment.status if shipment is not None else "gone"


@oms_task(name="fulfilment.labels_recover", queue="labels")
def labels_recover(**_: Any) -> int:
    """Beat: ask again for labels asked for and never stored (see labels_recover)."""
    from fulfilment.services.labels import labels_recover as recover

    return recover()
