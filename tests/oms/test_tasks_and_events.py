from dataclasses import dataclass

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError, transaction

from oms import events
from oms.celery import QUEUES
from oms.celery import app as celery_app
from oms.errors import TransientError
from oms.tasks import OmsTask, oms_task, route_task


@oms_task(name="tests.flaky", queue="labels")
def flaky(**_):
    raise TransientError("carrier timed out")


def test_oms_tasks_ack_late_and_retry_only_transient_errors():
    task = celery_app.tasks["oms.idempotency_keys_purge"]
    assert isinstance(task, OmsTask)
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True
    # Transient: a carrier's timeout, a lost database connection, a deadlock (never Exception).
    assert set(task.autoretry_for) == {
        TransientError,
        OperationalError,
        InterfaceError,
        SoftTimeLimitExceeded,
    }
    assert Exception not in task.autoretry_for
    assert 0 < task.max_retries <= 10
    assert task.retry_jitter is True


def test_tasks_are_routed_to_their_declared_queue():
    assert set(QUEUES) == {"default", "channels", "labels", "fx"}
    assert route_task("tests.flaky", (), {}, {}, task=flaky) == {"queue": "labels"}
    purge = celery_app.tasks["oms.idempotency_keys_purge"]
    assert route_task(purge.name, (), {}, {}, task=purge) == {"queue": "default"}


@dataclass(frozen=True)
class Happened:
    value: int


@dataclass(frozen=True)
class HappenedLater(Happened):
    pass


@pytest.fixture
def received():
    seen: list[object] = []

    def handler(event: object) -> None:
        seen.append(event)

    events.subscribe(Happened, handler)
    events.subscribe(Happened, handler)  # twice is once
    yield seen
    events.unsubscribe(Happened, handler)


def test_publish_calls_subscribers_of_the_type_and_its_bases(received):
    events.publish(Happened(1))
    events.publish(HappenedLater(2))
    assert received == [Happened(1), HappenedLater(2)]


@pytest.mark.django_db(transaction=True)
def test_publish_on_commit_waits_for_the_commit_and_drops_on_rollback(received):
    with transaction.atomic():
        events.publish_on_commit(Happened(1))
        assert received == []
    assert received == [Happened(1)]

    def fail_after_publishing() -> None:
        with transaction.atomic():
            events.publish_on_commit(Happened(2))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail_after_publishing()
    assert received == [Happened(1)]
