"""The kernel's inbound-webhook inbox (oms.inbox): a delivery stored once, claimed by one worker
(an expired claim or a dead holder's taken over), processed by its kind's processor, failed
with the reason, given up, and swept when its task was lost; the one task and the one sweep."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError
from django.utils import timezone

from oms import inbox
from oms.celery import app as celery_app
from oms.errors import NotFound, PermanentError, TransientError
from oms.inbox import (
    inbox_claim,
    inbox_gave_up,
    inbox_process,
    inbox_requeue,
    inbox_store,
    inbox_unprocessed,
    register_processor,
)
from oms.models import InboundWebhook, OutboxMessage
from oms.outbox import outbox_enqueue
from oms.workers import holder_identity
from tests.holders import dead_holder, live_holder
from tests.outbox import queued, run_outbox

pytestmark = pytest.mark.django_db

Kind = InboundWebhook.Kind
Status = InboundWebhook.Status


class Recorder:
    """A processor that records what it was given and does what it is told."""

    def __init__(self, note: str = "", error: BaseException | None = None) -> None:
        self.note = note
        self.error = error
        self.seen: list[tuple[int, str, Any]] = []

    def __call__(self, delivery: InboundWebhook) -> str:
        self.seen.append((delivery.pk, delivery.kind, delivery.payload))
        if self.error is not None:
            raise self.error
        return self.note


@pytest.fixture
def processors(monkeypatch):
    """A recorder for each kind, in place of the apps' processors (restored afterwards)."""
    monkeypatch.setattr(inbox, "_processors", dict(inbox._processors))
    recorders = {kind: Recorder() for kind in Kind.values}
    register_processor(Kind.CHANNEL, recorders[Kind.CHANNEL], queue="channels")
    register_processor(Kind.CARRIER, recorders[Kind.CARRIER], atomic=True)
    register_processor(Kind.PARTNER, recorders[Kind.PARTNER], atomic=True)
    return recorders


def stored(kind: str = Kind.CARRIER, delivery_id: str = "d-1", **changes: Any) -> InboundWebhook:
    delivery, created = inbox_store(
        kind=kind, source="dhl", delivery_id=delivery_id, payload={"n": delivery_id}
    )
    assert created
    if changes:
        InboundWebhook.objects.filter(pk=delivery.pk).update(**changes)
        delivery.refresh_from_db()
    return delivery


def an_hour_ago() -> dt.datetime:
    return timezone.now() - dt.timedelta(hours=1)


# --- storing ----------------------------------------------------------------------------------


def test_a_delivery_is_stored_once_and_its_processing_enqueued_once(processors):
    first, created = inbox_store(
        kind=Kind.PARTNER,
        source="LON",
        delivery_id="msg\x00-1",
        topic="shipment.shipped\x00",
        payload={"note": "a\x00b"},
    )
    assert created
    assert (first.kind, first.source, first.delivery_id, first.topic) == (
        "partner",
        "LON",
        "msg-1",
        "shipment.shipped",
    )
    assert (first.payload, first.nul_stripped, first.status, first.attempts) == (
        {"note": "ab"},
        True,
        "received",
        0,
    )
    again, created = inbox_store(
        kind=Kind.PARTNER, source="LON", delivery_id="msg-1", payload={"other": 1}
    )
    assert (created, again.pk, again.payload) == (False, first.pk, {"note": "ab"})
    assert queued() == [("oms.inbox_process", {"inbox_id": first.pk})]
    # The same delivery id from another sender, or of another kind, is another delivery.
    assert inbox_store(kind=Kind.PARTNER, source="BER", delivery_id="msg-1", payload={})[1]
    assert inbox_store(kind=Kind.CARRIER, source="LON", delivery_id="msg-1", payload={})[1]
    assert InboundWebhook.objects.count() == 3


def test_the_message_goes_to_the_queue_of_its_kinds_processor(processors):
    channel = stored(Kind.CHANNEL, channel_id=7)
    carrier = stored(Kind.CARRIER, "d-2")
    queues = dict(OutboxMessage.objects.values_list("kwargs__inbox_id", "queue").order_by("pk"))
    assert queues == {channel.pk: "channels", carrier.pk: "default"}
    assert celery_app.tasks["oms.inbox_process"].oms_queue == "default"


def test_a_kind_without_a_processor_stores_nothing(processors):
    del inbox._processors[Kind.PARTNER]
    with pytest.raises(LookupError):
        inbox_store(kind=Kind.PARTNER, source="LON", delivery_id="x", payload={})
    assert not InboundWebhook.objects.exists()
    with pytest.raises(ValueError, match="Unknown inbox kind"):
        register_processor("pigeon", Recorder())


def test_the_database_holds_the_key_and_the_kinds():
    InboundWebhook.objects.create(kind=Kind.CARRIER, source="dhl", delivery_id="d")
    with pytest.raises(IntegrityError):
        InboundWebhook.objects.create(kind=Kind.CARRIER, source="dhl", delivery_id="d")


def test_the_status_column_takes_its_choices_from_the_table():
    field = InboundWebhook._meta.get_field("status")
    assert field.choices == Status.choices
    assert field.default == Status.RECEIVED
    assert set(inbox.TRANSITIONS) == set(Status.values)


# --- claiming ---------------------------------------------------------------------------------


def test_a_claim_is_taken_once_and_counts_an_attempt(processors):
    delivery = stored()
    assert inbox_claim(delivery.pk) is True
    assert inbox_claim(delivery.pk, holder="elsewhere-host:1:1") is False  # held, alive
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.claimed_by) == (1, holder_identity())
    assert delivery.claimed_until > timezone.now() + dt.timedelta(minutes=9)


def test_an_expired_claim_and_a_dead_holders_claim_are_taken_over(processors):
    expired = stored(
        claimed_by=live_holder(), claimed_until=timezone.now() - dt.timedelta(seconds=1)
    )
    dead = stored(
        delivery_id="d-2",
        claimed_by=dead_holder(),
        claimed_until=timezone.now() + dt.timedelta(minutes=5),
        attempts=1,
    )
    live = stored(
        delivery_id="d-3",
        claimed_by=live_holder(),
        claimed_until=timezone.now() + dt.timedelta(minutes=5),
        attempts=1,
    )
    assert inbox_claim(expired.pk, holder="worker-b") is True
    assert inbox_claim(dead.pk, holder="worker-b") is True
    assert inbox_claim(live.pk, holder="worker-b") is False
    assert dict(InboundWebhook.objects.values_list("pk", "claimed_by")) == {
        expired.pk: "worker-b",
        dead.pk: "worker-b",
        live.pk: live_holder(),
    }
    assert InboundWebhook.objects.get(pk=dead.pk).attempts == 2


def test_only_a_received_delivery_is_claimed(processors):
    done = stored(status=Status.PROCESSED)
    failed = stored(delivery_id="d-2", status=Status.FAILED)
    assert inbox_claim(done.pk) is False
    assert inbox_claim(failed.pk) is False


# --- processing -------------------------------------------------------------------------------


def test_each_kind_goes_to_its_processor_and_is_processed_once(processors):
    processors[Kind.CARRIER].note = "no shipment with tracking number X"
    channel = stored(Kind.CHANNEL, channel_id=3)
    carrier = stored(Kind.CARRIER, "d-2")
    assert inbox_process(inbox_id=channel.pk).status == "processed"
    processed = inbox_process(inbox_id=carrier.pk)
    assert (processed.status, processed.error, processed.attempts) == (
        "processed",
        "no shipment with tracking number X",
        1,
    )
    assert processed.processed_at is not None
    assert processed.claimed_until is None
    assert processed.claimed_by == holder_identity()  # who processed it
    inbox_process(inbox_id=carrier.pk)  # a redelivered task
    assert processors[Kind.CHANNEL].seen == [(channel.pk, "channel", {"n": "d-1"})]
    assert processors[Kind.CARRIER].seen == [(carrier.pk, "carrier", {"n": "d-2"})]
    assert processors[Kind.PARTNER].seen == []


def test_a_permanent_error_fails_the_delivery_with_the_reason(processors):
    processors[Kind.PARTNER].error = PermanentError("No shipment 9.")
    delivery = stored(Kind.PARTNER)
    failed = inbox_process(inbox_id=delivery.pk)
    assert (failed.status, failed.error) == ("failed", "No shipment 9.")
    assert failed.processed_at is not None
    assert inbox_process(inbox_id=delivery.pk).status == "failed"  # final
    assert len(processors[Kind.PARTNER].seen) == 1


def test_a_transient_error_gives_the_claim_back_and_is_raised(processors):
    processors[Kind.CHANNEL].error = TransientError("HTTP 503")
    delivery = stored(Kind.CHANNEL)
    with pytest.raises(TransientError):
        inbox_process(inbox_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error, delivery.attempts) == ("received", "HTTP 503", 1)
    assert (delivery.claimed_by, delivery.claimed_until) == ("", None)
    processors[Kind.CHANNEL].error = None
    assert inbox_process(inbox_id=delivery.pk).status == "processed"  # the retry


def test_an_atomic_processors_work_is_undone_when_its_claim_was_taken_over(processors):
    delivery = stored(Kind.CARRIER)

    def taken_over_meanwhile(claimed: InboundWebhook) -> str:
        OutboxMessage.objects.create(task="tests.written_by_the_processor")
        InboundWebhook.objects.filter(pk=claimed.pk).update(claimed_by="worker-b")
        return ""

    register_processor(Kind.CARRIER, taken_over_meanwhile, atomic=True)
    assert inbox_process(inbox_id=delivery.pk).status == "received"
    assert not OutboxMessage.objects.filter(task="tests.written_by_the_processor").exists()


def test_an_unknown_delivery_is_not_found(processors):
    with pytest.raises(NotFound):
        inbox_process(inbox_id=987654)


# --- giving up, the task ----------------------------------------------------------------------


def test_giving_up_fails_a_received_delivery_and_leaves_a_processed_one_alone(processors):
    waiting = stored(claimed_by=dead_holder(), claimed_until=timezone.now())
    done = stored(delivery_id="d-2")
    inbox_process(inbox_id=done.pk)
    inbox_gave_up(inbox_id=waiting.pk, reason="TransientError: HTTP 503")
    inbox_gave_up(inbox_id=done.pk, reason="late")
    waiting.refresh_from_db()
    assert (waiting.status, waiting.error) == ("failed", "gave up: TransientError: HTTP 503")
    assert (waiting.claimed_by, waiting.claimed_until) == ("", None)
    assert waiting.processed_at is not None
    done.refresh_from_db()
    assert (done.status, done.error) == ("processed", "")


def test_the_task_retries_transient_errors_then_gives_up(processors):
    processors[Kind.CARRIER].error = TransientError("HTTP 503")
    delivery = stored()
    assert run_outbox("oms.inbox_process") >= 2
    [message] = OutboxMessage.objects.filter(task="oms.inbox_process")
    assert message.state == "failed"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error) == ("failed", "gave up: TransientError: HTTP 503")
    assert delivery.attempts == message.attempts


@pytest.mark.parametrize(
    ("task", "key", "kind"),
    [
        ("channels.webhook_process", "delivery_id", Kind.CHANNEL),
        ("fulfilment.carrier_webhook_process", "inbound_webhook_id", Kind.CARRIER),
        ("fulfilment.partner_confirmation_process", "webhook_id", Kind.PARTNER),
    ],
)
def test_the_former_task_names_process_the_inbox_row_they_name(processors, task, key, kind):
    delivery = stored(kind)
    outbox_enqueue(task, **{key: delivery.pk})
    assert run_outbox(task) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("processed", 1)
    assert [seen[0] for seen in processors[kind].seen] == [delivery.pk]


# --- the sweep --------------------------------------------------------------------------------


def test_the_sweep_finds_the_deliveries_nobody_processes(processors):
    soon = timezone.now() + dt.timedelta(minutes=5)
    unclaimed = stored(received_at=an_hour_ago())
    orphaned = stored(
        delivery_id="d-2", received_at=an_hour_ago(), claimed_by=dead_holder(), claimed_until=soon
    )
    stored(delivery_id="d-3")  # too recent: its task is on the way
    stored(
        delivery_id="d-4", received_at=an_hour_ago(), claimed_by=live_holder(), claimed_until=soon
    )
    stored(delivery_id="d-5", received_at=an_hour_ago(), status=Status.PROCESSED)
    stored(delivery_id="d-6", received_at=an_hour_ago(), status=Status.FAILED)
    assert sorted(inbox_unprocessed()) == sorted([unclaimed.pk, orphaned.pk])
    OutboxMessage.objects.all().delete()  # their first tasks were lost
    assert inbox_requeue() == 2
    inbox_requeue()  # the beat again before a worker took them: nothing doubled
    assert sorted(kwargs["inbox_id"] for _, kwargs in queued("oms.inbox_process")) == sorted(
        [unclaimed.pk, orphaned.pk]
    )
    assert run_outbox("oms.inbox_process") == 2
    assert inbox_unprocessed() == []


def test_the_sweep_is_one_beat_task():
    schedule = celery_app.conf.beat_schedule
    assert {e["task"] for e in schedule.values() if "sweep" in e["task"]} >= {"oms.inbox_sweep"}
    assert "channels.webhooks_sweep" not in {e["task"] for e in schedule.values()}
    assert celery_app.tasks["oms.inbox_sweep"]() == 0
