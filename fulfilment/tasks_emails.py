"""Celery entry point of the shopper's e-mails: ids in, one service call (safe to run twice:
an e-mail already recorded on the order's timeline is not sent again)."""

from __future__ import annotations

from typing import Any

from oms.tasks import oms_task


@oms_task(name="fulfilment.email_send")
def email_send(*, order_id: int, kind: str, shipment_id: int | None = None, **_: Any) -> bool:
    from fulfilment.notifications import order_email_send

    return order_email_send(order_id=order_id, kind=kind, shipment_id=shipment_id)
