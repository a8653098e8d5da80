"""The transactional outbox (oms.outbox): written in the caller's transaction, published after
commit without ever blocking or failing it, run once per message, retried with backoff, given
up with the task's hook, swept, retried by staff, purged, counted, and shown in /healthz and
the admin."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.db import OperationalError, transaction
from django.test import Client
from django.utils import timezone

from oms import outbox
from oms.celery import app as celery_app
from oms.errors import TransientError
from oms.models import OutboxMessage, WorkerHeartbeat
from oms.outbox import (
    backoff_seconds,
    outbox_enqueue,
    outbox_figures,
    outbox_open_keys,
    outbox_purge,
    outbox_retry,
    outbox_sweep,
    task_by_name,
)
from oms.roles import MANAGER, WAREHOUSE
from oms.tasks import oms_task
from oms.workers import holder_identity, worker_identity_set
from tests.conftest import point_celery_at
from tests.factories import UserFactory
from tests.holders import OTHER_HOST, dead_holder, live_holder
from tests.outbox import run_outbox

State = OutboxMessage.State
PROBE = "tests.outbox_probe"
OUTBOX_ADMIN = "/admin/oms/outboxmessage/"

#: What the probe task did (one entry per run) and what its give-up hook was called with.
runs: list[str] = []
gave_up: list[dict[str, Any]] = []


def _probe_gave_up(kwargs: dict[str, Any], failure: str) -> None:
    gave_up.append({**kwargs, "reason": failure})


@oms_task(name=PROBE, max_retries=2, give_up=_probe_gave_up)
def probe(mode: str = "ok", retry_after: float | None = None, **_: Any) -> int:
    """A side effect that is counted; `mode` makes it fail the way a real one would."""
    runs.append(mode)
    if mode == "transient":
        raise TransientError("carrier timed out", retry_after=retry_after)
    if mode == "database":
        raise OperationalError("server closed the connection unexpectedly")
    if mode == "broken":
        raise ValueError("a bug")
    return len(runs)


def broker_messages(queue: str = "default") -> list[tuple[str, dict[str, Any]]]:
    """The tasks waiting in the in-memory broker's queue (taken off it), with their kwargs."""
    found = []
    with celery_app.connection_for_read() as connection:
        simple = connection.SimpleQueue(queue, no_ack=True)
        while True:
            try:
                message = simple.get(block=False)
            except simple.Empty:
                break
            _args, kwargs, _embed = message.decode()
            found.append((message.headers["task"], kwargs))
        simple.close()
    return found


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    """No runs recorded, an empty broker queue, and a fast path that is not paused by an
    earlier test's broker failure (nor leaves one behind)."""
    runs.clear()
    gave_up.clear()
    monkeypatch.setattr(outbox, "_paused_until", 0.0)
    broker_messages()
    yield
    runs.clear()
    gave_up.clear()


def deliver(message: OutboxMessage) -> Any:
    """What a worker does with a delivered message (OmsTask.__call__ with the message id)."""
    message.refresh_from_db()
    return probe(**message.kwargs, _outbox=message.pk)


def refreshed(message: OutboxMessage) -> OutboxMessage:
    message.refresh_from_db()
    return message


def running(message: OutboxMessage, *, holder: str, lease_seconds: float = 300) -> None:
    """Pretend a worker claimed the message (and maybe died with it)."""
    OutboxMessage.objects.filter(pk=message.pk).update(
        state=State.RUNNING,
        holder=holder,
        lease_until=timezone.now() + dt.timedelta(seconds=lease_seconds),
        attempts=1,
    )


def seconds_from_now(moment: dt.datetime) -> float:
    return (moment - timezone.now()).total_seconds()


# --- writing ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_enqueue_writes_in_the_callers_transaction_and_publishes_after_commit(settings):
    settings.OMS_OUTBOX_REDELIVER_SECONDS = 600
    with transaction.atomic():
        message = outbox_enqueue(probe, mode="ok")
        assert message is not None
        assert OutboxMessage.objects.filter(pk=message.pk, state=State.PENDING).exists()
        assert broker_messages() == []  # nothing leaves before the commit
    assert broker_messages() == [(PROBE, {"mode": "ok", "_outbox": message.pk})]
    message = refreshed(message)
    assert message.state == State.PENDING  # until a worker runs it
    assert (message.task, message.queue, message.max_attempts) == (PROBE, "default", 3)
    # The fast path published it: the sweep looks again only if it is still not done by then.
    assert 590 < seconds_from_now(message.publish_after) <= 600


@pytest.mark.django_db(transaction=True)
def test_nothing_survives_a_rollback():
    def change_that_fails() -> None:
        with transaction.atomic():
            outbox_enqueue(PROBE, mode="ok")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert not OutboxMessage.objects.exists()
    assert broker_messages() == []


@pytest.mark.django_db
def test_a_dedupe_key_with_a_pending_message_writes_nothing():
    first = outbox_enqueue(PROBE, mode="ok", dedupe_key="probe:1")
    assert first is not None
    assert outbox_enqueue(PROBE, mode="ok", dedupe_key="probe:1") is None
    assert outbox_enqueue(PROBE, mode="ok", dedupe_key="probe:2") is not None
    assert OutboxMessage.objects.filter(dedupe_key="probe:1").count() == 1
    # Once it is done, the same key may be asked for again.
    deliver(first)
    assert refreshed(first).state == State.DONE
    assert outbox_enqueue(PROBE, mode="ok", dedupe_key="probe:1") is not None
    assert OutboxMessage.objects.filter(dedupe_key="probe:1").count() == 2


@pytest.mark.django_db
def test_a_long_dedupe_key_still_deduplicates():
    key = "probe:" + "x" * 250
    assert outbox_enqueue(PROBE, mode="ok", dedupe_key=key) is not None
    assert outbox_enqueue(PROBE, mode="ok", dedupe_key=key) is None
    assert OutboxMessage.objects.count() == 1


@pytest.mark.django_db
def test_an_unknown_task_name_raises_lookup_error_and_writes_nothing():
    with pytest.raises(LookupError):
        outbox_enqueue("tests.no_such_task", x=1)
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_a_long_countdown_is_left_to_the_sweep():
    message = outbox_enqueue(PROBE, countdown=120, mode="ok")
    assert message.publish_after == message.run_after
    assert 115 < seconds_from_now(message.run_after) <= 120


# --- the fast path when the broker is away ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_commit_with_the_broker_down_neither_fails_nor_blocks_and_the_sweep_publishes_later(
    monkeypatch, tmp_path, settings
):
    settings.OMS_OUTBOX_REDELIVER_SECONDS = 600
    point_celery_at("redis://127.0.0.1:1/0", None, tmp_path, monkeypatch)  # nothing listens
    started = time.monotonic()
    with transaction.atomic():
        message = outbox_enqueue(PROBE, mode="ok")
    assert time.monotonic() - started < 2.0  # a sanity bound, not a benchmark
    message = refreshed(message)
    assert message.state == State.PENDING
    assert message.publish_after <= timezone.now()  # due for the next sweep
    assert message.published_at is None

    # Paused after the failure: the next commit does not even try, and is due at once too.
    started = time.monotonic()
    with transaction.atomic():
        second = outbox_enqueue(PROBE, mode="second")
    assert time.monotonic() - started < 2.0
    assert refreshed(second).publish_after <= timezone.now()

    assert outbox_sweep() == 0  # still down: nothing published, nothing raised
    assert refreshed(message).publish_count == 0

    point_celery_at("memory://", None, tmp_path, monkeypatch)  # the broker is back
    assert outbox_sweep() == 2
    assert sorted(broker_messages(), key=lambda m: m[1]["_outbox"]) == [
        (PROBE, {"mode": "ok", "_outbox": message.pk}),
        (PROBE, {"mode": "second", "_outbox": second.pk}),
    ]
    message = refreshed(message)
    assert message.publish_count == 1
    assert message.published_at is not None
    assert 590 < seconds_from_now(message.publish_after) <= 600
    assert outbox_sweep() == 0  # published: not again until the redelivery delay passed


# --- running a message --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_message_runs_once_and_a_second_delivery_runs_nothing():
    message = outbox_enqueue(PROBE, mode="ok")
    assert deliver(message) == 1
    message = refreshed(message)
    assert (message.state, message.attempts) == (State.DONE, 1)
    assert (message.holder, message.lease_until) == (holder_identity(), None)  # who ran it
    assert message.finished_at is not None
    assert deliver(message) is None  # redelivered by the broker
    assert runs == ["ok"]
    assert refreshed(message).attempts == 1


@pytest.mark.django_db
def test_a_message_not_due_yet_is_not_run():
    message = outbox_enqueue(PROBE, countdown=60, mode="ok")
    assert deliver(message) is None
    assert runs == []
    assert refreshed(message).state == State.PENDING


@pytest.mark.django_db
def test_a_message_running_under_a_live_holder_is_not_run_by_a_duplicate():
    message = outbox_enqueue(PROBE, mode="ok")
    running(message, holder=live_holder())
    assert deliver(message) is None
    assert runs == []
    message = refreshed(message)
    assert (message.state, message.holder, message.attempts) == (State.RUNNING, live_holder(), 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("holder", "lease_seconds"),
    [
        pytest.param(dead_holder(), 300, id="holder-process-gone"),
        pytest.param(live_holder(), -1, id="lease-expired"),
        pytest.param(f"{OTHER_HOST}:77:1@{OTHER_HOST}:70:1", 300, id="other-host-no-heartbeat"),
    ],
)
def test_a_message_whose_holder_died_or_whose_lease_expired_is_taken_over(holder, lease_seconds):
    message = outbox_enqueue(PROBE, mode="ok")
    running(message, holder=holder, lease_seconds=lease_seconds)
    assert deliver(message) == 1
    assert runs == ["ok"]
    message = refreshed(message)
    assert (message.state, message.attempts, message.holder) == (State.DONE, 2, holder_identity())


@pytest.mark.django_db
def test_a_message_held_by_a_worker_of_another_host_with_a_fresh_heartbeat_is_left_alone():
    worker = f"{OTHER_HOST}:70:1"
    WorkerHeartbeat.objects.create(identity=worker, hostname=OTHER_HOST, pid=70)
    message = outbox_enqueue(PROBE, mode="ok")
    running(message, holder=f"{OTHER_HOST}:77:1@{worker}")
    assert deliver(message) is None
    assert runs == []
    assert refreshed(message).state == State.RUNNING


@pytest.mark.django_db
def test_a_transient_error_puts_the_message_back_with_backoff_then_gives_up():
    message = outbox_enqueue(PROBE, mode="transient")
    assert deliver(message) is None  # contained: the outbox retries, not Celery
    message = refreshed(message)
    assert (message.state, message.attempts, message.holder) == (State.PENDING, 1, "")
    assert message.lease_until is None
    assert message.last_error == "TransientError: carrier timed out"
    assert 0.5 <= seconds_from_now(message.run_after) <= 2.0  # 2 s base, with jitter
    assert message.publish_after == message.run_after  # the sweep publishes it when due
    assert deliver(message) is None  # a delivery before its time runs nothing
    assert runs == ["transient"]
    assert gave_up == []

    assert run_outbox(PROBE) == 2  # attempts 2 and 3 (max_retries=2)
    message = refreshed(message)
    assert (message.state, message.attempts) == (State.FAILED, 3)
    assert message.last_error == "gave up after 3 attempts: TransientError: carrier timed out"
    assert message.finished_at is not None
    assert runs == ["transient"] * 3
    assert gave_up == [{"mode": "transient", "reason": "TransientError: carrier timed out"}]
    assert deliver(message) is None  # failed is final
    assert len(runs) == 3


@pytest.mark.django_db
def test_any_other_error_fails_the_message_at_once_calls_the_hook_and_reraises():
    message = outbox_enqueue(PROBE, mode="broken")
    with pytest.raises(ValueError, match="a bug"):
        deliver(message)
    message = refreshed(message)
    assert (message.state, message.attempts, message.lease_until) == (State.FAILED, 1, None)
    assert message.last_error == "ValueError: a bug"
    assert gave_up == [{"mode": "broken", "reason": "ValueError: a bug"}]
    assert deliver(message) is None
    assert runs == ["broken"]


@pytest.mark.django_db
def test_a_database_error_counts_as_transient():
    message = outbox_enqueue(PROBE, mode="database")
    assert deliver(message) is None
    message = refreshed(message)
    assert message.state == State.PENDING
    assert message.last_error.startswith("OperationalError: server closed")
    assert gave_up == []


def test_backoff_doubles_with_jitter_up_to_its_cap_and_honours_retry_after(settings):
    settings.OMS_OUTBOX_BACKOFF_SECONDS = 2
    settings.OMS_OUTBOX_BACKOFF_MAX_SECONDS = 600
    for attempts, low, high in [(1, 1, 2), (2, 2, 4), (3, 4, 8), (30, 300, 600)]:
        for _ in range(20):
            assert low <= backoff_seconds(attempts) <= high
    assert backoff_seconds(1, retry_after=120) == 120
    assert 300 <= backoff_seconds(30, retry_after=10) <= 600  # never sooner than asked
    assert backoff_seconds(1, retry_after=10**6) == 3600  # a callee cannot park it for days


@pytest.mark.django_db
def test_a_retry_after_on_the_transient_error_is_honoured():
    message = outbox_enqueue(PROBE, mode="transient", retry_after=120)
    deliver(message)
    message = refreshed(message)
    assert message.state == State.PENDING
    assert 115 < seconds_from_now(message.run_after) <= 120


@pytest.mark.django_db
def test_a_redelivered_message_whose_worker_died_on_its_last_attempt_calls_the_hook():
    message = outbox_enqueue(PROBE, mode="ok")
    running(message, holder=dead_holder())
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=3)  # max_attempts is 3
    assert deliver(message) is None  # the broker redelivers it (acks_late) before the sweep
    assert runs == []
    message = refreshed(message)
    assert message.state == State.FAILED
    assert "died" in message.last_error
    assert gave_up == [{"mode": "ok", "reason": message.last_error}]


@pytest.mark.django_db
def test_a_transient_error_puts_the_message_back_whatever_the_length_of_the_holder(monkeypatch):
    monkeypatch.setattr("oms.workers._worker_identity", "")
    worker_identity_set(f"{'w' * 290}:1:1")  # restored by monkeypatch
    message = outbox_enqueue(PROBE, mode="transient")
    deliver(message)
    assert refreshed(message).state == State.PENDING


# --- the sweep ----------------------------------------------------------------------------------


def row(state: str = State.PENDING, *, task: str = PROBE, **fields: Any) -> OutboxMessage:
    now = timezone.now()
    defaults = {
        "kwargs": {"mode": "ok"},
        "run_after": now,
        "publish_after": now,
        "max_attempts": 3,
    }
    return OutboxMessage.objects.create(task=task, state=state, **{**defaults, **fields})


@pytest.mark.django_db
def test_the_sweep_publishes_due_pending_messages_and_pushes_publish_after_forward(settings):
    settings.OMS_OUTBOX_REDELIVER_SECONDS = 600
    now = timezone.now()
    due = row(publish_after=now - dt.timedelta(seconds=5))
    lost = row(  # published long ago and still not done: a broker that lost it
        publish_after=now - dt.timedelta(seconds=1),
        published_at=now - dt.timedelta(minutes=11),
        publish_count=1,
    )
    later = row(publish_after=now + dt.timedelta(minutes=5))
    row(State.DONE, publish_after=now - dt.timedelta(minutes=1))
    row(State.FAILED, publish_after=now - dt.timedelta(minutes=1))

    assert outbox_sweep() == 2
    assert sorted(m[1]["_outbox"] for m in broker_messages()) == [due.pk, lost.pk]
    # Looked at again after the redelivery period, twice as long for each earlier publication.
    for message, count, wait in ((due, 1, 600), (lost, 2, 1200)):
        message = refreshed(message)
        assert message.state == State.PENDING
        assert message.publish_count == count
        assert wait - 10 < seconds_from_now(message.publish_after) <= wait
    assert refreshed(later).publish_count == 0
    assert outbox_sweep() == 0  # nothing is due again yet


@pytest.mark.django_db
def test_the_sweep_waits_at_most_a_day_before_publishing_a_lost_message_again(settings):
    settings.OMS_OUTBOX_REDELIVER_SECONDS = 600
    often = row(publish_count=30, published_at=timezone.now() - dt.timedelta(days=1))
    assert outbox_sweep() == 1
    broker_messages()
    wait = seconds_from_now(refreshed(often).publish_after)
    assert 86_400 - 10 < wait <= 86_400


@pytest.mark.django_db
def test_the_sweep_publishes_a_retry_with_the_time_left_as_countdown():
    message = row(
        kwargs={"mode": "ok"},
        run_after=timezone.now() + dt.timedelta(seconds=20),
        publish_after=timezone.now() - dt.timedelta(seconds=1),
    )
    assert outbox_sweep() == 1
    assert [m[1]["_outbox"] for m in broker_messages()] == [message.pk]


@pytest.mark.django_db
def test_the_sweep_reclaims_running_messages_whose_holder_died_and_leaves_live_ones():
    dead = row(
        State.RUNNING,
        holder=dead_holder(),
        lease_until=timezone.now() + dt.timedelta(minutes=5),
        attempts=1,
    )
    expired = row(
        State.RUNNING,
        holder=live_holder(),
        lease_until=timezone.now() - dt.timedelta(seconds=1),
        attempts=1,
    )
    alive = row(
        State.RUNNING,
        holder=live_holder(),
        lease_until=timezone.now() + dt.timedelta(minutes=5),
        attempts=1,
    )
    assert outbox_sweep() == 2
    assert sorted(m[1]["_outbox"] for m in broker_messages()) == [dead.pk, expired.pk]
    for message, holder in ((dead, dead.holder), (expired, expired.holder)):
        message = refreshed(message)
        assert (message.state, message.holder, message.attempts) == (State.PENDING, "", 1)
        assert message.lease_until is None
        assert holder in message.last_error
    assert refreshed(alive).state == State.RUNNING
    # The reclaimed message runs (its second attempt) when the broker delivers it.
    assert deliver(dead) == 1
    assert refreshed(dead).state == State.DONE


@pytest.mark.django_db
def test_the_sweep_fails_messages_whose_attempts_are_spent_and_calls_the_hook():
    spent = row(kwargs={"mode": "ok", "retry_after": None}, attempts=3)
    died_last = row(State.RUNNING, holder=dead_holder(), attempts=3)
    assert outbox_sweep() == 0
    assert broker_messages() == []
    for message in (spent, died_last):
        message = refreshed(message)
        assert message.state == State.FAILED
        assert message.finished_at is not None
        assert "no attempts left" in message.last_error
    assert sorted(gave_up, key=len) == [
        {"mode": "ok", "reason": "no attempts left"},
        {"mode": "ok", "retry_after": None, "reason": "no attempts left"},
    ]


@pytest.mark.django_db
def test_the_sweep_fails_a_message_of_a_task_that_no_longer_exists():
    gone = row(task="tests.outbox_renamed_since")
    fine = row()
    assert outbox_sweep() == 1
    assert [m[1]["_outbox"] for m in broker_messages()] == [fine.pk]
    gone = refreshed(gone)
    assert gone.state == State.FAILED
    assert "tests.outbox_renamed_since" in gone.last_error
    assert outbox_sweep() == 0  # failed: never republished


def test_every_beat_entry_names_a_registered_task_and_the_sweeps_are_scheduled():
    schedule = celery_app.conf.beat_schedule
    for entry in schedule.values():
        task_by_name(entry["task"])  # LookupError for a typo
    scheduled = {entry["task"] for entry in schedule.values()}
    assert {
        "oms.outbox_sweep",
        "oms.outbox_purge",
        "orders.route_stuck",
        "fulfilment.labels_recover",
        "returns.refunds_recover",
        "channels.sync_due",
        "oms.inbox_sweep",
    } <= scheduled


@pytest.mark.django_db
def test_the_sweep_task_publishes_what_is_due():
    due = row()
    assert celery_app.tasks["oms.outbox_sweep"]() == 1
    assert [m[1]["_outbox"] for m in broker_messages()] == [due.pk]


# --- staff actions, purge, figures ----------------------------------------------------------------


@pytest.mark.django_db
def test_retry_gives_failed_messages_fresh_attempts_and_makes_them_due():
    failed = row(
        State.FAILED,
        attempts=3,
        run_after=timezone.now() - dt.timedelta(hours=1),
        publish_after=timezone.now() + dt.timedelta(hours=1),
        finished_at=timezone.now(),
        last_error="gave up",
    )
    done = row(State.DONE, attempts=1, finished_at=timezone.now())
    busy = row(
        State.RUNNING,
        holder=live_holder(),
        lease_until=timezone.now() + dt.timedelta(minutes=5),
        attempts=1,
    )
    assert outbox_retry(ids=[failed.pk, done.pk, busy.pk]) == 1
    failed = refreshed(failed)
    assert (failed.state, failed.attempts, failed.finished_at) == (State.PENDING, 0, None)
    assert abs(seconds_from_now(failed.run_after)) < 5
    assert failed.publish_after <= timezone.now()
    assert refreshed(done).state == State.DONE
    assert refreshed(busy).state == State.RUNNING
    # The next sweep publishes it and a worker runs it.
    assert outbox_sweep() == 1
    assert deliver(failed) == 1
    assert refreshed(failed).state == State.DONE


@pytest.mark.django_db
def test_purge_deletes_only_done_messages_older_than_the_retention(settings):
    settings.OMS_OUTBOX_RETENTION_DAYS = 7
    old = timezone.now() - dt.timedelta(days=8)
    old_done = row(State.DONE, finished_at=old)
    recent_done = row(State.DONE, finished_at=timezone.now() - dt.timedelta(days=6))
    old_failed = row(State.FAILED, finished_at=old)
    old_pending = row(created_at=old, run_after=old)
    assert outbox_purge() == 1
    left = set(OutboxMessage.objects.values_list("pk", flat=True))
    assert left == {recent_done.pk, old_failed.pk, old_pending.pk}
    assert old_done.pk not in left
    assert outbox_purge(older_than=dt.timedelta(days=1)) == 1
    assert not OutboxMessage.objects.filter(pk=recent_done.pk).exists()


@pytest.mark.django_db
def test_open_keys_are_those_with_a_pending_or_running_message():
    row(dedupe_key="k:pending")
    row(State.RUNNING, dedupe_key="k:running", holder=live_holder())
    row(State.DONE, dedupe_key="k:done")
    row(State.FAILED, dedupe_key="k:failed")
    keys = ["k:pending", "k:running", "k:done", "k:failed", "k:none", ""]
    assert outbox_open_keys(keys) == {"k:pending", "k:running"}
    assert outbox_open_keys([]) == set()


@pytest.mark.django_db
def test_figures_count_the_states_and_how_late_the_oldest_due_message_is():
    assert outbox_figures() == outbox.OutboxFigures(0, 0, 0, None)
    now = timezone.now()
    row(run_after=now - dt.timedelta(seconds=100))
    row(run_after=now - dt.timedelta(seconds=10))
    row(run_after=now + dt.timedelta(minutes=5))  # waiting for its backoff: not late
    row(State.RUNNING, holder=live_holder(), run_after=now - dt.timedelta(hours=1))
    row(State.FAILED)
    row(State.FAILED)
    row(State.DONE, run_after=now - dt.timedelta(hours=2))
    figures = outbox_figures()
    assert (figures.pending, figures.running, figures.failed) == (3, 1, 2)
    assert 100 <= figures.oldest_pending_seconds < 110


# --- /healthz -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_reports_the_outbox_and_is_503_when_a_due_message_is_too_old(client, settings):
    settings.OMS_OUTBOX_MAX_AGE_SECONDS = 60
    row(State.FAILED)  # failed ones are counted, but do not make the outbox late
    late = row(run_after=timezone.now() - dt.timedelta(seconds=120))

    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert (body["database"]["status"], body["broker"]["status"]) == ("up", "up")
    assert body["outbox"]["status"] == "late"
    assert (body["outbox"]["pending"], body["outbox"]["failed"]) == (1, 1)
    assert body["outbox"]["oldest_due_seconds"] >= 120
    assert body["outbox"]["max_age_seconds"] == 60

    OutboxMessage.objects.filter(pk=late.pk).update(
        run_after=timezone.now() - dt.timedelta(seconds=10)
    )
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["outbox"]["status"]) == ("ok", "ok")
    assert body["outbox"]["oldest_due_seconds"] < 60


@pytest.mark.django_db
def test_healthz_is_200_with_an_empty_outbox(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    shown = response.json()["outbox"]
    assert shown["status"] == "ok"
    assert (shown["pending"], shown["running"], shown["failed"]) == (0, 0, 0)
    assert shown["oldest_due_seconds"] is None


# --- the admin ------------------------------------------------------------------------------------


def staff_client(*roles: str) -> Client:
    client = Client()
    client.force_login(UserFactory(roles=list(roles), is_staff=True))
    return client


@pytest.mark.django_db
def test_a_manager_sees_the_outbox_with_its_figures_and_retries_failed_messages():
    failed = row(State.FAILED, attempts=3, last_error="gave up after 3 attempts: boom")
    row(run_after=timezone.now() - dt.timedelta(seconds=30))
    client = staff_client(MANAGER)

    page = client.get(OUTBOX_ADMIN)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Pending: <strong>1</strong>" in html
    assert "failed: <strong>1</strong>" in html
    assert "oldest due: <strong>3" in html  # about 30 s
    assert "gave up after 3 attempts: boom" in html
    assert 'value="retry_now"' in html

    response = client.post(
        OUTBOX_ADMIN, {"action": "retry_now", "_selected_action": [failed.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "1 message(s) will be published by the next sweep." in response.content.decode()
    failed = refreshed(failed)
    assert (failed.state, failed.attempts) == (State.PENDING, 0)
    # The page of one message opens, read-only.
    detail = client.get(f"{OUTBOX_ADMIN}{failed.pk}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content


@pytest.mark.django_db
def test_warehouse_staff_see_the_outbox_but_cannot_retry():
    failed = row(State.FAILED, attempts=3)
    client = staff_client(WAREHOUSE)
    page = client.get(OUTBOX_ADMIN)
    assert page.status_code == 200
    assert 'value="retry_now"' not in page.content.decode()
    client.post(OUTBOX_ADMIN, {"action": "retry_now", "_selected_action": [failed.pk]})
    assert refreshed(failed).state == State.FAILED
