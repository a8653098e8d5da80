"""Celery entry points of carrier labels: ids in, one service call (queue "labels").

Invariants: safe to run twice (fulfilment.services.labels: one label per parcel); only
TransientError is retried, after the carrier's Retry-After when it gave one, else with the
base task's exponential backoff and jitter, a bounded number of times.
"""

from __future__ import annotations

from typing import Any

from oms.errors import TransientError
from oms.tasks import oms_task


@oms_task(name="fulfilment.labels_buy", queue="labels", bind=True)
def labels_buy(self: Any, *, shipment_id: int, actor: str = "system", **_: Any) -> str:
    """Buy the missing labels of a shipment and ship it; returns the shipment's status."""
    from fulfilment.services.labels import labels_buy as buy

    try:
        shipment = buy(shipment_id=shipment_id, actor=actor)
    except TransientError as exc:
        if exc.retry_after and not self.request.called_directly:
            # The carrier said when: wait that long (self.retry counts against max_retries).
            raise self.retry(exc=exc, countdown=min(exc.retry_after, 3600)) from exc
        raise
    return shipment.status if shipment is not None else "gone"
