"""Events are recorded in bulk: a committed change nudges `webhooks.events_drain` once, however
many events it raised, and the drainer records them all in one transaction with their messages
marked done (oms.outbox.outbox_drained_by / outbox_run_many). Every message stays a message of
its own: one the drainer ran is skipped when its own task comes; a bulk that fails leaves them
all to run one by one."""

from __future__ import annotations

import pytest
from django.db import connection, connections
from django.utils import timezone

from oms import outbox
from oms.models import OutboxMessage
from oms.outbox import OUTBOX_KWARG, task_by_name
from tests.fulfilment import conftest as fulfilment
from tests.webhooks.conftest import RECORD
from tests.webhooks.test_concurrency import in_threads
from webhooks.models import Event
from webhooks.services import events_record_messages

State = OutboxMessage.State


def record_messages() -> list[tuple[int, dict]]:
    return list(
        OutboxMessage.objects.filter(task=RECORD).order_by("pk").values_list("pk", "kwargs")
    )


def drain() -> int:
    return int(task_by_name("webhooks.events_drain")())


@pytest.mark.django_db
def test_a_transaction_nudges_the_drainer_once_and_it_records_every_event(network):
    # The test's transaction never commits: everything below is one transaction's work.
    fulfilment.put(network, "BER", "A", 5)
    fulfilment.put(network, "BER", "B", 5)
    o = fulfilment.order(lines={"A": 1, "B": 2})
    noted = record_messages()
    assert len(noted) >= 6  # two receipts, created, allocated, two stock levels, a shipment
    callbacks = [func for _, func, _ in connection.run_on_commit]
    nudges = [c for c in callbacks if isinstance(c, outbox._Nudge)]
    assert len(nudges) == 1
    assert nudges[0].ids == [pk for pk, _ in noted]
    relays = [c for c in callbacks if isinstance(c, outbox._Relay) and c.name == RECORD]
    assert relays == []
    assert any(isinstance(c, outbox._Relay) for c in callbacks)  # other tasks: their own

    assert drain() == len(noted)
    assert set(OutboxMessage.objects.filter(task=RECORD).values_list("state", flat=True)) == {
        State.DONE
    }
    events = list(Event.objects.order_by("sequence"))
    assert [e.sequence for e in events] == [pk for pk, _ in noted]
    assert {e.type for e in events} >= {"order.created", "order.status_changed", "stock.changed"}
    assert [e.data["status"] for e in events if e.type == "order.created"] == ["allocated"]
    assert {e.object_id for e in events if e.object_type == "order"} == {o.pk}
    assert drain() == 0


@pytest.mark.django_db
def test_a_message_the_drainer_ran_is_skipped_when_its_own_task_comes(network):
    fulfilment.put(network, "BER", "A", 5)
    fulfilment.order(lines={"A": 1})
    noted = record_messages()
    assert drain() == len(noted)
    before = Event.objects.count()
    task = task_by_name(RECORD)
    for pk, kwargs in noted:  # the sweep published them too (a lost nudge, a slow drainer)
        task(**kwargs, **{OUTBOX_KWARG: pk})
    assert Event.objects.count() == before


@pytest.mark.django_db
def test_a_bulk_that_fails_leaves_every_message_to_run_one_by_one(network):
    fulfilment.put(network, "BER", "A", 5)
    fulfilment.order(lines={"A": 1})
    noted = record_messages()
    broken = noted[1][0]
    OutboxMessage.objects.filter(pk=broken).update(kwargs={"object_type": "order"})  # no type
    later = timezone.now() + dt_seconds(3600)
    OutboxMessage.objects.filter(task=RECORD).update(publish_after=later)

    assert drain() == 0
    rows = dict(OutboxMessage.objects.filter(task=RECORD).values_list("pk", "state"))
    assert set(rows.values()) == {State.PENDING}
    assert not Event.objects.exists()
    # ... and due for the sweep now, which publishes them one by one:
    assert not OutboxMessage.objects.filter(task=RECORD, publish_after__gt=timezone.now()).exists()
    task = task_by_name(RECORD)
    for pk, kwargs in record_messages():
        with pytest.raises(TypeError) if pk == broken else nullcontext():
            task(**kwargs, **{OUTBOX_KWARG: pk})
    states = dict(OutboxMessage.objects.filter(task=RECORD).values_list("pk", "state"))
    assert states.pop(broken) == State.FAILED
    assert set(states.values()) == {State.DONE}
    assert set(Event.objects.filter(object_type="order").values_list("sequence", flat=True)) == {
        pk for pk, kw in noted if kw["object_type"] == "order" and pk != broken
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_drainers_running_together_record_each_event_once(network):
    fulfilment.put(network, "BER", "A", 500)
    for _ in range(30):
        fulfilment.order(lines={"A": 1})
    noted = record_messages()
    assert len(noted) > 100

    def work(_: int) -> None:  # small bulks, so that the drainers interleave
        while outbox.outbox_run_many(RECORD, call=events_record_messages, limit=7):
            pass

    assert in_threads(work, 4) == []
    connections.close_all()
    sequences = list(Event.objects.values_list("sequence", flat=True))
    stock_messages = sum(1 for _, kw in noted if kw["object_type"] == "stock_level")
    assert len(sequences) == len(set(sequences))
    # Every message but the stock ones folded into a later change of their level is an event.
    assert len(noted) - stock_messages <= len(sequences) <= len(noted)
    assert set(OutboxMessage.objects.filter(task=RECORD).values_list("state", flat=True)) == {
        State.DONE
    }
    assert not set(
        Event.objects.exclude(type="stock.changed").values_list("sequence", flat=True)
    ) ^ {pk for pk, kw in noted if kw["object_type"] != "stock_level"}


def dt_seconds(seconds: int):
    import datetime as dt

    return dt.timedelta(seconds=seconds)


from contextlib import nullcontext  # noqa: E402
