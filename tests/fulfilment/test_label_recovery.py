"""Labels after a crash: the recovery sweep asks again for purchases that were lost, and a
purchase whose retries are spent flags its shipment for staff."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from fulfilment.models import Shipment
from fulfilment.services import labels as label_services
from fulfilment.services.labels import (
    RECOVER_AFTER,
    buy_key,
    labels_buy_gave_up,
    labels_recover,
    shipment_attention_flag,
    shipment_ship_request,
)
from oms.models import OutboxMessage
from oms.outbox import outbox_sweep
from tests.fulfilment.test_labels import enqueued, packed_shipment
from tests.holders import dead_holder
from tests.outbox import queued, run_outbox

BUY = "fulfilment.labels_buy"
State = OutboxMessage.State


def asked(network, *, carrier: str = "inhouse") -> Shipment:
    """A packed shipment whose labels were asked for; its purchase message is pending."""
    shipment = packed_shipment(network, parcels=1)
    shipment_ship_request(shipment=shipment, carrier=carrier, actor="packer")
    return shipment


def lost(shipment: Shipment) -> None:
    """Its purchase message is gone: nothing pending or running buys its labels."""
    OutboxMessage.objects.filter(dedupe_key=buy_key(shipment.pk)).update(
        state=State.DONE, finished_at=timezone.now()
    )


def packed_long_ago(shipment: Shipment) -> None:
    Shipment.objects.filter(pk=shipment.pk).update(
        packed_at=timezone.now() - RECOVER_AFTER - dt.timedelta(minutes=1)
    )


def test_recover_asks_again_for_a_purchase_that_was_lost_and_it_ships(network):
    shipment = asked(network)
    lost(shipment)
    packed_long_ago(shipment)
    assert queued(BUY) == []

    assert labels_recover() == 1
    assert queued(BUY) == [(BUY, {"shipment_id": shipment.pk, "actor": "system"})]
    assert OutboxMessage.objects.filter(
        dedupe_key=buy_key(shipment.pk), state=State.PENDING
    ).exists()
    assert labels_recover() == 0  # its purchase is pending now

    assert run_outbox(BUY) == 1
    shipment.refresh_from_db()
    assert shipment.status == "shipped"
    assert shipment.tracking_number


def test_recover_leaves_shipments_that_do_not_need_it(network):
    flagged = asked(network)
    lost(flagged)
    shipment_attention_flag(shipment=flagged, message="The carrier refused the address")
    pending = asked(network)  # its purchase is pending
    running = asked(network)
    OutboxMessage.objects.filter(dedupe_key=buy_key(running.pk)).update(
        state=State.RUNNING,
        holder=dead_holder(),
        lease_until=timezone.now() + dt.timedelta(minutes=5),
    )
    recent = asked(network)
    lost(recent)
    no_carrier = packed_shipment(network, parcels=1)
    for shipment in (flagged, pending, running, no_carrier):
        packed_long_ago(shipment)
    before = queued(BUY)

    assert labels_recover() == 0
    assert queued(BUY) == before
    assert OutboxMessage.objects.filter(dedupe_key=buy_key(pending.pk)).count() == 1


def test_recover_leaves_a_shipment_that_has_its_tracking_number(network):
    shipment = asked(network)
    run_outbox(BUY)
    shipment.refresh_from_db()
    assert shipment.status == "shipped"
    packed_long_ago(shipment)
    assert labels_recover() == 0


def test_the_give_up_hook_flags_a_packed_shipment(network):
    shipment = asked(network)
    labels_buy_gave_up(shipment_id=shipment.pk, reason="TransientError: HTTP 503", actor="system")
    shipment.refresh_from_db()
    assert shipment.needs_attention
    assert shipment.attention_message == "The label purchase gave up: TransientError: HTTP 503"
    event = shipment.order.events.filter(kind="label_failed").latest("id")
    assert event.data["shipment"] == shipment.pk
    assert "gave up" in event.data["message"]
    # Flagged: the sweep leaves it to staff.
    lost(shipment)
    packed_long_ago(shipment)
    assert labels_recover() == 0


def test_the_give_up_hook_leaves_a_shipment_that_is_no_longer_packed(network):
    shipment = asked(network)
    run_outbox(BUY)
    labels_buy_gave_up(shipment_id=shipment.pk, reason="late", actor="system")
    shipment.refresh_from_db()
    assert shipment.status == "shipped"
    assert not shipment.needs_attention
    assert not shipment.order.events.filter(kind="label_failed").exists()


def test_a_purchase_whose_worker_died_on_every_attempt_flags_the_shipment(network):
    shipment = asked(network)
    [message] = OutboxMessage.objects.filter(dedupe_key=buy_key(shipment.pk))
    OutboxMessage.objects.filter(pk=message.pk).update(
        state=State.RUNNING,
        holder=dead_holder(),
        lease_until=timezone.now() + dt.timedelta(minutes=5),
        attempts=message.max_attempts,
    )
    enqueued()
    outbox_sweep()
    enqueued()  # nothing left behind in the in-memory broker
    message.refresh_from_db()
    assert message.state == State.FAILED
    shipment.refresh_from_db()
    assert shipment.needs_attention
    assert shipment.attention_message.startswith("The label purchase gave up")
    assert label_services.labels_recover() == 0
