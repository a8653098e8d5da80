"""Celery entry points of the fulfilment app, all of them in this one module: ids in, one
service call (the task names are stable: outbox rows and the beat schedule store them).

Invariants: each task is safe to run twice:
- e-mails: an e-mail already recorded on the order's timeline is not sent again;
- labels (queue "labels"): one label per parcel (fulfilment.services.labels); transient errors
  are retried through the outbox, after the carrier's Retry-After when it gave one, else with
  exponential backoff and jitter, a bounded number of times; then the shipment is flagged;
- 3PL hand-off: a shipment that is no longer pending is not sent again (its confirmations, as
  carriers' tracking webhooks, are processed by the kernel's inbox: oms.inbox_process);
- tracking: `fulfilment.tracking_poll` (beat, every 30 minutes) only fans out, one
  `fulfilment.tracking_poll_shipment` per shipment due; recording stores a carrier event once.
"""

from __future__ import annotations

import logging
from typing import Any

from oms.errors import DomainError, PermanentError, TransientError
from oms.inbox import inbox_gave_up, inbox_process
from oms.tasks import oms_task

log = logging.getLogger(__name__)


# --- routing ----------------------------------------------------------------------------------


@oms_task(name="fulfilment.backorders_reroute")
def backorders_reroute(*, sku_ids: list[int], **_: Any) -> int:
    from fulfilment.services.routing_batch import backorders_reroute as reroute

    return reroute(sku_ids=sku_ids)


# --- the shopper's e-mails --------------------------------------------------------------------


@oms_task(name="fulfilment.email_send")
def email_send(*, order_id: int, kind: str, shipment_id: int | None = None, **_: Any) -> bool:
    from fulfilment.notifications import order_email_send

    return order_email_send(order_id=order_id, kind=kind, shipment_id=shipment_id)


# --- carrier labels ---------------------------------------------------------------------------


def _labels_gave_up(kwargs: dict[str, Any], failure: str) -> None:
    from fulfilment.services.labels import labels_buy_gave_up

    labels_buy_gave_up(
        shipment_id=kwargs["shipment_id"], reason=failure, actor=kwargs.get("actor", "system")
    )


@oms_task(name="fulfilment.labels_buy", queue="labels", give_up=_labels_gave_up)
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


# --- the 3PL hand-off -------------------------------------------------------------------------


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


# --- tracking ---------------------------------------------------------------------------------


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


# --- webhooks: processed through the kernel's inbox (oms.inbox_process) -----------------------
# The two names below stay registered: outbox messages written before the inbox moved to the
# kernel name them, their ids rewritten to the inbox's by the migration that moved the rows.


def _inbox_gave_up(key: str) -> Any:
    def give_up(kwargs: dict[str, Any], failure: str) -> None:
        inbox_gave_up(inbox_id=kwargs[key], reason=failure)

    return give_up


@oms_task(name="fulfilment.carrier_webhook_process", give_up=_inbox_gave_up("inbound_webhook_id"))
def carrier_webhook_process(*, inbound_webhook_id: int, **_: Any) -> int:
    """Former name of oms.inbox_process for a carrier's delivery."""
    return inbox_process(inbox_id=inbound_webhook_id).pk


@oms_task(name="fulfilment.partner_confirmation_process", give_up=_inbox_gave_up("webhook_id"))
def partner_confirmation_process(*, webhook_id: int, **_: Any) -> str:
    """Former name of oms.inbox_process for a 3PL's confirmation."""
    hook = inbox_process(inbox_id=webhook_id)
    return hook.error or hook.status
