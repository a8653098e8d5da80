"""Celery entry points of tracking: ids in, one service call.

`fulfilment.tracking_poll` (beat, every 30 minutes) only fans out: one
`fulfilment.tracking_poll_shipment` per shipment due. Each is safe to run twice: recording
stores a carrier event once.
"""

from __future__ import annotations

import logging
from typing import Any

from oms.errors import DomainError, PermanentError
from oms.tasks import oms_task

log = logging.getLogger(__name__)


@oms_task(name="fulfilment.tracking_poll")
def tracking_poll(**_: Any) -> int:
    from fulfilment.services.tracking import tracking_poll as poll

    return poll()


@oms_task(name="fulfilment.tracking_poll_shipment")
def tracking_poll_shipment(*, shipment_id: int, **_: Any) -> int:
    from fulfilment.services.tracking import shipment_tracking_poll

    try:
        shipment_tracking_poll(shipment=shipment_id)
    except (PermanentError, DomainError) as exc:
        # Retrying will not help (the carrier refused, the shipment changed meanwhile):
        # the next beat polls again what is still due.
        log.warning("tracking poll of shipment %s failed: %s", shipment_id, exc)
        return 0
    return 1


@oms_task(name="fulfilment.carrier_webhook_process")
def carrier_webhook_process(*, inbound_webhook_id: int, **_: Any) -> int:
    from fulfilment.services.tracking import carrier_webhook_process as process

    return process(webhook=inbound_webhook_id).pk
