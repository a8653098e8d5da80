"""Celery entry points of the 3PL hand-off: ids in, one service call.

Both are safe to run twice: a shipment that is no longer pending is not sent again, and a
confirmation already processed is not applied again.
"""

from __future__ import annotations

from typing import Any

from oms.errors import TransientError
from oms.tasks import oms_task


@oms_task(name="fulfilment.partner_send", bind=True)
def partner_send(self: Any, *, shipment_id: int, **_: Any) -> str:
    from fulfilment.services.partners import shipment_partner_give_up, shipment_partner_send

    try:
        return shipment_partner_send(shipment_id=shipment_id)
    except TransientError as exc:
        if self.request.retries >= self.max_retries:
            # The last attempt: staff must look (the retry below then gives up).
            shipment_partner_give_up(shipment_id=shipment_id, message=str(exc))
        raise


@oms_task(name="fulfilment.partner_confirmation_process")
def partner_confirmation_process(*, webhook_id: int, **_: Any) -> str:
    from fulfilment.services.partners import partner_confirmation_process as process

    hook = process(webhook_id=webhook_id)
    return hook.error or "processed"
