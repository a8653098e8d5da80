"""The transactional outbox: every side effect that leaves a transaction (a task to run: an
e-mail, a channel push, a carrier or 3PL call, a refund, a conversion) is a row written in that
transaction, published to the broker after commit, and run by a worker exactly once.

Invariants:
- `outbox_enqueue` writes its row in the caller's transaction, so the side effect exists if and
  only if the change that causes it committed; it never talks to the broker itself;
- right after commit the relay publishes the row (the fast path: its own broker connection that
  fails within milliseconds, paused for OMS_OUTBOX_FAST_PATH_PAUSE_SECONDS after a failure); it
  never blocks or fails the request. The sweep (beat, every few seconds) publishes what is due
  and not done: rows the fast path missed, retries whose time has come, rows whose worker died,
  and rows published OMS_OUTBOX_REDELIVER_SECONDS ago and still not done (a broker that lost
  them; again after twice as long each time);
- a worker runs a message only after claiming it (pending -> running with its identity and a
  lease), so a message published twice runs once, and runs it with the task and arguments its
  row holds (a stale message from a database that reused the id changes nothing); a claim
  whose holder died (oms.workers) or whose lease expired is taken over; done and failed are
  final (staff may retry a failed one);
- transient errors (TRANSIENT_ERRORS: TransientError, database disconnects, serialization
  failures and deadlocks, a soft time limit) put the message back with exponential backoff and
  jitter (or the error's retry_after when longer), up to its max_attempts; then, and at once
  for any other error, it is failed with the reason and the task's give-up hook marks its object
  as needing attention.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections, transaction
from django.db.models import F, Max, Min, Q

from oms.errors import TransientError
from oms.logs import CARRIED, log_bind, log_context
from oms.models import OutboxMessage
from oms.workers import holder_alive, holder_identity

logger = logging.getLogger(__name__)

#: The keyword argument that carries a message's id to its task.
OUTBOX_KWARG = "_outbox"
#: The key of a row's kwargs that holds the log context of what wrote it (oms.logs.CARRIED:
#: the request id, the order number), bound again while its task runs; never published, never
#: passed to the task. (Inside kwargs, not a column of its own: a bulk INSERT of messages keeps
#: SQLite's parameters per row, and so its number of statements.)
OUTBOX_CONTEXT = "_context"
#: Errors worth running again later: the same operation may well succeed.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    OperationalError,  # lost connections, psycopg's SerializationFailure and DeadlockDetected
    InterfaceError,
    SoftTimeLimitExceeded,
)
#: A message due later than this is left to the sweep instead of an ETA in the broker (Redis
#: would redeliver an ETA message held longer than its visibility timeout).
FAST_PATH_MAX_COUNTDOWN = 30.0
WORKERS_DIED = "gave up: its worker died on every attempt"
State = OutboxMessage.State
OPEN_STATES = (State.PENDING, State.RUNNING)

Task = Any  # a Celery task of oms.tasks.OmsTask


# --- writing ----------------------------------------------------------------------------------


def task_by_name(name: str) -> Task:
    """The registered task of that name (the apps' task modules are imported the first time).
    Raises LookupError: a name no task has is a programming error, never a message to lose."""
    from oms.taskapp import app

    found = app.tasks.get(name)
    if found is None:
        app.loader.import_default_modules()  # autodiscovery: every app's task modules
        found = app.tasks.get(name)
    if found is None:
        raise LookupError(f"No task is registered as {name!r}.")
    return found


def _task_of(task: str | Task) -> tuple[str, str, Task]:
    """(name, queue, task object) of a task given by object or by name."""
    found = task_by_name(task) if isinstance(task, str) else task
    return str(found.name), getattr(found, "oms_queue", "default"), found


def _now() -> dt.datetime:
    """The machine's time: deadlines of delivery are real, whatever story a demo replays on
    Django's clock (oms.demo.story_at)."""
    return dt.datetime.now(tz=dt.UTC)


_muted = threading.local()


@contextlib.contextmanager
def outbox_muted(*tasks: str) -> Iterator[None]:
    """Within the block (this thread), messages of `tasks` are not written: history being
    loaded (the demo's past orders) must not e-mail shoppers today."""
    before: frozenset[str] = getattr(_muted, "tasks", frozenset())
    _muted.tasks = before | frozenset(tasks)
    try:
        yield
    finally:
        _muted.tasks = before


@contextlib.contextmanager
def outbox_held() -> Iterator[None]:
    """Within the block (this thread), messages are written but not handed to the broker after
    commit: the caller runs them itself (outbox_drain), or the sweep publishes them later."""
    before = getattr(_muted, "held", False)
    _muted.held = True
    try:
        yield
    finally:
        _muted.held = before


def outbox_enqueue(
    task: str | Task,
    *,
    countdown: float = 0.0,
    dedupe_key: str = "",
    queue: str | None = None,
    **kwargs: Any,
) -> OutboxMessage | None:
    """Write a task to run after the current transaction commits (now, in autocommit).

    `kwargs` must be JSON (ids and primitives). With a `dedupe_key`, nothing is written when a
    pending message of that key exists (returns None), nor inside `outbox_muted` of its task.
    `countdown` delays the first run; `queue` overrides the task's own (one task serving
    several apps, such as the inbox's, keeps each app's work on its queue).
    """
    name, own_queue, found = _task_of(task)
    target = queue or own_queue
    if name in getattr(_muted, "tasks", ()):
        return None
    now = _now()
    dedupe_key = dedupe_key[:200]  # the column's length: looked up as it is stored
    batch: list[tuple[OutboxMessage, bool, float]] | None = getattr(_batch, "messages", None)
    if dedupe_key and (
        (batch and any(m.dedupe_key == dedupe_key for m, _, _ in batch))
        or OutboxMessage.objects.filter(dedupe_key=dedupe_key, state=State.PENDING).exists()
    ):
        return None
    run_after = now + dt.timedelta(seconds=max(countdown, 0.0))
    fast = countdown <= FAST_PATH_MAX_COUNTDOWN
    stored = dict(kwargs)
    context = log_context()
    if context:
        stored[OUTBOX_CONTEXT] = context
    message = OutboxMessage(
        task=name,
        queue=target,
        kwargs=stored,
        dedupe_key=dedupe_key,
        created_at=now,
        run_after=run_after,
        # The fast path publishes it now; the sweep only looks again if it is still not done.
        publish_after=(now + _redeliver_after()) if fast else run_after,
        max_attempts=_max_attempts(found),
    )
    relay = fast and not getattr(_muted, "held", False)
    if batch is not None:
        batch.append((message, relay, countdown))  # written when the batch ends
        return message
    message.save(force_insert=True)
    if relay:
        _after_commit(message.pk, name, target, kwargs, countdown)
    return message


_batch = threading.local()


@contextlib.contextmanager
def outbox_batch() -> Iterator[None]:
    """Within the block (this thread, inside a transaction), outbox_enqueue collects its
    messages and they are written in one INSERT when the block ends, in the same transaction
    (a hot path writing several, such as capture). Their ids are set then; an exception in
    the block writes none. A nested block joins the outer one; an exception leaving it takes
    back the messages it collected (a savepoint rolled back inside an outer block: open the
    block inside the `atomic` it belongs to)."""
    outer: list[tuple[OutboxMessage, bool, float]] | None = getattr(_batch, "messages", None)
    if outer is not None:
        mark = len(outer)
        try:
            yield
        except BaseException:
            del outer[mark:]
            raise
        return
    messages: list[tuple[OutboxMessage, bool, float]] = []
    _batch.messages = messages
    try:
        yield
    finally:
        _batch.messages = None
    if not messages:
        return
    OutboxMessage.objects.bulk_create([m for m, _, _ in messages])
    for message, relay, countdown in messages:
        if relay:
            _after_commit(message.pk, message.task, message.queue, message.kwargs, countdown)


def _redeliver_after() -> dt.timedelta:
    return dt.timedelta(seconds=settings.OMS_OUTBOX_REDELIVER_SECONDS)


def _max_attempts(task: Task | None) -> int:
    retries = getattr(task, "max_retries", None)
    return max(1, min(int(retries if retries is not None else 8) + 1, 30))


# --- publishing -------------------------------------------------------------------------------

_local = threading.local()
_paused_until = 0.0


def _connection() -> Any:
    """This thread's relay connection: it gives up at once when the broker is away."""
    from oms.taskapp import app

    # One per thread and process, for the broker configured now (tests switch brokers).
    key = (
        os.getpid(),
        str(app.conf.broker_url),
        str(app.conf.broker_transport),
        repr(app.conf.broker_transport_options),
    )
    conn = getattr(_local, "conn", None)
    if conn is None or getattr(_local, "key", None) != key:
        _drop_connection()
        conn = app.connection_for_write(
            connect_timeout=settings.OMS_OUTBOX_CONNECT_TIMEOUT_SECONDS,
            transport_options={
                "max_retries": 1,
                "interval_start": 0,
                "interval_step": 0,
                "interval_max": 0,
                "socket_connect_timeout": settings.OMS_OUTBOX_CONNECT_TIMEOUT_SECONDS,
                "socket_timeout": settings.OMS_OUTBOX_CONNECT_TIMEOUT_SECONDS * 2,
            },
        )
        _local.conn, _local.key = conn, key
    return conn


def _drop_connection() -> None:
    conn = getattr(_local, "conn", None)
    _local.conn = None
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.release()


def _publish(
    message_id: int, name: str, queue: str, kwargs: Mapping[str, Any], countdown: float
) -> None:
    """Hand one message to the broker. Raises what the broker raised."""
    from oms.taskapp import app

    payload = {key: value for key, value in kwargs.items() if key != OUTBOX_CONTEXT}
    payload[OUTBOX_KWARG] = message_id
    if app.conf.task_always_eager:
        # Tests and one-off scripts run the task here and now (send_task ignores eager mode).
        task_by_name(name).apply_async(kwargs=payload)
        return
    app.send_task(
        name,
        kwargs=payload,
        queue=queue,
        countdown=countdown if countdown > 0 else None,
        connection=_connection(),
        retry=False,
    )


def _broker_failed(exc: Exception, where: str) -> None:
    global _paused_until
    _drop_connection()
    already = _paused_until > time.monotonic()
    _paused_until = time.monotonic() + settings.OMS_OUTBOX_FAST_PATH_PAUSE_SECONDS
    if not already:
        logger.warning(
            "Broker unreachable (%s: %s): side effects wait in the outbox and are published "
            "when it is back.",
            where,
            exc,
        )


@dataclass(frozen=True)
class _Relay:
    """The fast path, run once the enqueuing transaction committed."""

    message_id: int
    name: str
    queue: str
    kwargs: dict[str, Any]
    countdown: float

    def __call__(self) -> None:
        from oms.taskapp import app

        if app.conf.task_always_eager:
            _publish(self.message_id, self.name, self.queue, self.kwargs, self.countdown)
            return
        if _paused_until > time.monotonic():
            _due_now([self.message_id])
            return
        try:
            _publish(self.message_id, self.name, self.queue, self.kwargs, self.countdown)
        except Exception as exc:
            _broker_failed(exc, "fast path")
            _due_now([self.message_id])


#: task name -> the task that runs its pending messages in bulk (outbox_drained_by).
_DRAINERS: dict[str, str] = {}


def outbox_drained_by(task: str, drainer: str) -> None:
    """Messages of `task` are run in bulk by `drainer` (a task calling `outbox_run_many`): after
    commit, one message to the broker asks it to drain them, however many the transaction
    wrote, instead of one per message. Each message stays a message of its own task: if the
    drainer never runs (the broker lost the nudge) or fails, the sweep publishes them one by
    one later, and a message the drainer ran is done when its own task comes."""
    _DRAINERS[task] = drainer


class _Nudge:
    """After commit: ask `drainer` to run the transaction's messages `ids` (one per
    transaction: outbox_enqueue adds to the one registered already)."""

    def __init__(self, drainer: str) -> None:
        self.drainer = drainer
        self.ids: list[int] = []

    def __call__(self) -> None:
        from oms.taskapp import app

        name, queue, _ = _task_of(self.drainer)
        if app.conf.task_always_eager:
            task_by_name(name).apply_async()
            return
        if _paused_until > time.monotonic():
            _due_now(self.ids)
            return
        try:
            app.send_task(name, kwargs={}, queue=queue, connection=_connection(), retry=False)
        except Exception as exc:
            _broker_failed(exc, "fast path")
            _due_now(self.ids)


def _after_commit(
    message_id: int, name: str, queue: str, kwargs: Mapping[str, Any], countdown: float
) -> None:
    """Publish a message once its transaction commits: itself (the relay), or the nudge of
    its drainer (one per transaction for all its messages) when it has one and is due now."""
    drainer = _DRAINERS.get(name)
    if drainer is None or countdown > 0:
        transaction.on_commit(_Relay(message_id, name, queue, dict(kwargs), countdown))
        return
    conn = transaction.get_connection()
    nudge = None
    if conn.in_atomic_block:
        nudge = next(
            (
                func
                for _, func, _ in conn.run_on_commit
                if isinstance(func, _Nudge) and func.drainer == drainer
            ),
            None,
        )
    if nudge is None:
        nudge = _Nudge(drainer)
        nudge.ids.append(message_id)
        transaction.on_commit(nudge)
        return
    nudge.ids.append(message_id)


def outbox_run_many(
    task_name: str, *, call: Callable[[list[tuple[int, dict[str, Any]]]], Any], limit: int = 500
) -> int:
    """Run pending due messages of `task_name` in bulk (the drainer's side of
    outbox_drained_by): in one transaction, take up to `limit` of them in id order (skipping
    those another drainer or worker holds), `call([(id, kwargs), ...])`, and mark them done; a
    failure rolls all of it back and leaves them to be run one by one (the sweep publishes them
    now). Returns how many ran."""
    now = _now()
    ids: list[int] = []
    try:
        with transaction.atomic():
            rows = list(
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(
                    task=task_name,
                    state=State.PENDING,
                    run_after__lte=now + dt.timedelta(seconds=1),
                    attempts__lt=F("max_attempts"),
                )
                .order_by("pk")
                .values_list("pk", "kwargs")[:limit]
            )
            if not rows:
                return 0
            ids = [pk for pk, _ in rows]
            call([(pk, dict(kwargs or {})) for pk, kwargs in rows])
            OutboxMessage.objects.filter(pk__in=ids).update(
                state=State.DONE,
                attempts=F("attempts") + 1,
                holder=holder_identity(),
                finished_at=_now(),
                lease_until=None,
                last_error="",
            )
    except Exception as exc:
        connections_reset()
        logger.warning(
            "%s: %d message(s) could not run in bulk (%s: %s); they run one by one.",
            task_name,
            len(ids),
            type(exc).__name__,
            exc,
        )
        _due_now(ids)
        return 0
    return len(rows)


def _due_now(ids: list[int]) -> None:
    """The fast path could not publish: the next sweep does (never raising into a request)."""
    try:
        OutboxMessage.objects.filter(pk__in=ids, state=State.PENDING).update(
            publish_after=F("run_after")
        )
    except Exception as exc:
        logger.warning("Outbox messages %s wait for the redelivery sweep: %s", ids, exc)


# --- running (called by oms.tasks.OmsTask) ----------------------------------------------------


class Claim(enum.Enum):
    TAKEN = "taken"
    #: Done, failed, not due yet, or running in a live process (a duplicate delivery).
    SKIPPED = "skipped"
    #: Its workers died on every attempt: it is failed now (the caller runs the give-up hook).
    EXHAUSTED = "exhausted"


def outbox_claim(message_id: int, *, task_name: str, holder: str, lease_seconds: float) -> Claim:
    """Take a message of `task_name` to run it (see Claim). A message naming another task (a
    stale one from another database that reused the id) is skipped and changes nothing."""
    now = _now()
    lease_until = now + dt.timedelta(seconds=lease_seconds)
    claim = {
        "state": State.RUNNING,
        "holder": holder,
        "lease_until": lease_until,
        "attempts": F("attempts") + 1,
    }
    due = Q(run_after__lte=now + dt.timedelta(seconds=1))
    if (
        OutboxMessage.objects.filter(
            due,
            pk=message_id,
            task=task_name,
            state=State.PENDING,
            attempts__lt=F("max_attempts"),
        ).update(**claim)
        == 1
    ):
        return Claim.TAKEN
    row = (
        OutboxMessage.objects.filter(pk=message_id, task=task_name)
        .values("state", "holder", "lease_until", "attempts", "max_attempts")
        .first()
    )
    if row is None or row["state"] not in OPEN_STATES:
        return Claim.SKIPPED
    dead_holder = row["state"] == State.RUNNING and not (
        row["lease_until"] and row["lease_until"] > now and holder_alive(row["holder"], now=now)
    )
    if row["attempts"] >= row["max_attempts"] and (dead_holder or row["state"] == State.PENDING):
        _fail(message_id, WORKERS_DIED)
        return Claim.EXHAUSTED
    if not dead_holder:
        return Claim.SKIPPED
    # Its worker died mid-run: take it over (only if nobody else did meanwhile).
    logger.warning("Outbox message %s: its worker %s is gone; running it again.", message_id, row)
    taken = OutboxMessage.objects.filter(
        pk=message_id, state=State.RUNNING, holder=row["holder"]
    ).update(**claim)
    return Claim.TAKEN if taken == 1 else Claim.SKIPPED


def _with_retries(action: Callable[[], Any]) -> Any:
    """Bookkeeping survives a connection that died under the task: reconnect and retry."""
    for attempt in range(3):
        try:
            return action()
        except (OperationalError, InterfaceError):
            if attempt == 2:
                raise
            connections_reset()
            time.sleep(0.2 * (attempt + 1))
    return None  # pragma: no cover


def connections_reset() -> None:
    """Close this thread's broken (or, outside a transaction, obsolete) connections."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()
        elif conn.errors_occurred and not conn.is_usable():
            conn.close()


def outbox_done(message_id: int, *, holder: str) -> None:
    _with_retries(
        lambda: OutboxMessage.objects.filter(
            pk=message_id, state=State.RUNNING, holder=holder
        ).update(state=State.DONE, finished_at=_now(), lease_until=None, last_error="")
    )


def backoff_seconds(attempts: int, *, retry_after: float | None = None) -> float:
    """2, 4, 8 ... seconds (capped), with jitter; never sooner than the callee asked."""
    base = settings.OMS_OUTBOX_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)
    delay = min(base, settings.OMS_OUTBOX_BACKOFF_MAX_SECONDS) * random.uniform(0.5, 1.0)
    return max(delay, min(retry_after or 0.0, 3600.0))


def outbox_retry_later(message_id: int, *, holder: str, error: BaseException) -> bool:
    """Put a message back after a transient error; False when it has no attempts left (then
    it is failed and the caller runs the give-up hook)."""

    def action() -> bool:
        row = (
            OutboxMessage.objects.filter(pk=message_id, state=State.RUNNING, holder=holder)
            .values("attempts", "max_attempts")
            .first()
        )
        if row is None:
            return True  # taken over meanwhile: not ours to judge
        text = _describe(error)
        if row["attempts"] >= row["max_attempts"]:
            _fail(message_id, f"gave up after {row['attempts']} attempts: {text}", expected=holder)
            return False
        delay = backoff_seconds(row["attempts"], retry_after=getattr(error, "retry_after", None))
        due = _now() + dt.timedelta(seconds=delay)
        OutboxMessage.objects.filter(pk=message_id, state=State.RUNNING, holder=holder).update(
            state=State.PENDING,
            holder="",
            lease_until=None,
            run_after=due,
            publish_after=due,
            last_error=text,
        )
        return True

    return bool(_with_retries(action))


def outbox_fail(message_id: int, *, holder: str, error: BaseException | str) -> None:
    text = error if isinstance(error, str) else _describe(error)
    _with_retries(lambda: _fail(message_id, text, expected=holder))


def _fail(message_id: int, reason: str, *, expected: str | None = None) -> None:
    rows = OutboxMessage.objects.filter(pk=message_id, state__in=OPEN_STATES)
    if expected is not None:
        rows = rows.filter(holder=expected)
    rows.update(state=State.FAILED, finished_at=_now(), lease_until=None, last_error=reason[:5000])


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:5000]


def outbox_run(*, message_id: int, task: Task, call: Callable[[dict[str, Any]], Any]) -> Any:
    """Run one published message in a worker: claim, run `call` with the arguments the row
    holds (the row is the truth, not the message), record (see the module docstring)."""
    holder = holder_identity()
    lease = float(getattr(task, "time_limit", None) or 600) + 60
    claimed = _with_retries(
        lambda: outbox_claim(
            message_id, task_name=str(task.name), holder=holder, lease_seconds=lease
        )
    )
    if claimed is Claim.EXHAUSTED:
        _give_up(task, message_id, WORKERS_DIED)
        return None
    if claimed is not Claim.TAKEN:
        logger.info("%s: message %s is done, not due or running elsewhere.", task.name, message_id)
        return None
    try:
        stored = OutboxMessage.objects.values_list("kwargs", flat=True).get(pk=message_id)
        kwargs = dict(stored or {})
        # The worker's lines of this task carry the request id (and order number) of its cause.
        context = kwargs.pop(OUTBOX_CONTEXT, None)
        if isinstance(context, dict):
            log_bind(**{key: value for key, value in context.items() if key in CARRIED and value})
        result = call(kwargs)
    except TRANSIENT_ERRORS as exc:
        connections_reset()
        if outbox_retry_later(message_id, holder=holder, error=exc):
            logger.info("%s: message %s will be retried: %s", task.name, message_id, exc)
            return None
        _give_up(task, message_id, exc)
        return None
    except Exception as exc:
        connections_reset()
        outbox_fail(message_id, holder=holder, error=exc)
        _give_up(task, message_id, exc)
        raise
    outbox_done(message_id, holder=holder)
    return result


def _give_up(task: Task, message_id: int, error: BaseException | str) -> None:
    """The task will not run again by itself: its object is flagged for staff."""
    reason = error if isinstance(error, str) else _describe(error)
    logger.error("%s: message %s failed for good: %s", task.name, message_id, reason)
    hook = getattr(task, "give_up", None)
    if hook is None:
        return
    kwargs = (
        OutboxMessage.objects.filter(pk=message_id).values_list("kwargs", flat=True).first() or {}
    )
    try:
        hook(dict(kwargs), reason)
    except Exception:
        logger.exception("%s: the give-up hook of message %s failed", task.name, message_id)


def outbox_last_id() -> int:
    return int(OutboxMessage.objects.aggregate(last=Max("pk"))["last"] or 0)


def outbox_drain(*, after_id: int, rounds: int = 10) -> int:
    """Run here, as a worker would (claim, run, record), the pending messages written after
    `after_id`, and those they write, up to `rounds` rounds; returns how many ran. For scripts
    that replay history (the demo): in service, workers do this."""
    ran = 0
    for _ in range(rounds):
        batch = list(
            OutboxMessage.objects.filter(pk__gt=after_id, state=State.PENDING)
            .order_by("pk")
            .values_list("pk", "task")
        )
        if not batch:
            break
        for pk, name in batch:
            OutboxMessage.objects.filter(pk=pk, state=State.PENDING).update(run_after=_now())
            task_by_name(name)(**{OUTBOX_KWARG: pk})
            ran += 1
    return ran


# --- the sweep, staff actions, figures --------------------------------------------------------


def _reclaim_dead(now: dt.datetime) -> int:
    """Running messages whose worker died or whose lease expired go back to pending."""
    reclaimed = 0
    alive: dict[str, bool] = {}
    for pk, holder, lease_until in OutboxMessage.objects.filter(state=State.RUNNING).values_list(
        "pk", "holder", "lease_until"
    ):
        if holder not in alive:
            alive[holder] = holder_alive(holder, now=now)
        if alive[holder] and lease_until and lease_until > now:
            continue
        reclaimed += OutboxMessage.objects.filter(pk=pk, state=State.RUNNING, holder=holder).update(
            state=State.PENDING,
            holder="",
            lease_until=None,
            run_after=now,
            publish_after=now,
            last_error=f"its worker ({holder}) was lost while running it",
        )
    return reclaimed


def _give_up_exhausted() -> int:
    """Pending messages without attempts left (their workers kept dying) fail for good."""
    exhausted = list(
        OutboxMessage.objects.filter(
            state=State.PENDING, attempts__gte=F("max_attempts")
        ).values_list("pk", "task")
    )
    for pk, name in exhausted:
        _fail(pk, "gave up: no attempts left")
        with contextlib.suppress(LookupError):
            _give_up(task_by_name(name), pk, "no attempts left")
    return len(exhausted)


def outbox_sweep(*, limit: int = 500) -> int:
    """Publish what is due (see the module docstring); returns how many were published."""
    now = _now()
    _reclaim_dead(now)
    _give_up_exhausted()
    due = list(
        OutboxMessage.objects.filter(state=State.PENDING, publish_after__lte=now)
        .order_by("publish_after", "pk")
        .values_list("pk", "task", "queue", "kwargs", "run_after")[:limit]
    )
    published: list[int] = []
    for pk, name, queue, kwargs, run_after in due:
        countdown = max((run_after - now).total_seconds(), 0.0)
        try:
            task_by_name(name)
        except LookupError as exc:  # a task renamed or removed since: nothing can run it
            _fail(pk, str(exc))
            continue
        try:
            _publish(pk, name, queue, kwargs or {}, countdown)
        except Exception as exc:
            _broker_failed(exc, "sweep")
            break
        published.append(pk)
    if published:
        # Published again after 1, 2, 4 ... redelivery periods (capped at a day) while not done.
        counts = dict(
            OutboxMessage.objects.filter(pk__in=published).values_list("pk", "publish_count")
        )
        by_count: dict[int, list[int]] = {}
        for pk in published:
            by_count.setdefault(min(counts.get(pk, 0), 10), []).append(pk)
        for count, ids in by_count.items():
            wait = min(_redeliver_after() * 2**count, dt.timedelta(days=1))
            OutboxMessage.objects.filter(pk__in=ids, state=State.PENDING).update(
                published_at=now,
                publish_count=F("publish_count") + 1,
                publish_after=now + wait,
            )
        logger.info("Outbox: %d due message(s) published.", len(published))
    return len(published)


def outbox_retry(*, ids: Iterable[int]) -> int:
    """Staff ask again: failed (or pending) messages get fresh attempts and are due now."""
    now = _now()
    return OutboxMessage.objects.filter(
        pk__in=list(ids), state__in=(State.FAILED, State.PENDING)
    ).update(
        state=State.PENDING,
        attempts=0,
        holder="",
        lease_until=None,
        run_after=now,
        publish_after=now,
        finished_at=None,
    )


def outbox_purge(*, older_than: dt.timedelta | None = None) -> int:
    """Delete messages done before the retention (failed ones stay until staff act)."""
    days = settings.OMS_OUTBOX_RETENTION_DAYS
    cutoff = _now() - (older_than or dt.timedelta(days=days))
    deleted, _ = OutboxMessage.objects.filter(state=State.DONE, finished_at__lt=cutoff).delete()
    return deleted


def outbox_open_keys(keys: Iterable[str]) -> set[str]:
    """The dedupe keys among `keys` that have a pending or running message."""
    wanted = [k[:200] for k in keys if k]
    if not wanted:
        return set()
    return set(
        OutboxMessage.objects.filter(dedupe_key__in=wanted, state__in=OPEN_STATES).values_list(
            "dedupe_key", flat=True
        )
    )


@dataclass(frozen=True)
class OutboxFigures:
    pending: int
    running: int
    failed: int
    #: How long the oldest message that is due has waited (None: nothing is due).
    oldest_pending_seconds: float | None


def outbox_figures() -> OutboxFigures:
    from django.db.models import Count

    counts = dict(
        OutboxMessage.objects.filter(state__in=(*OPEN_STATES, State.FAILED))
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    now = _now()
    # How late the oldest due message is (one waiting for its backoff is not late).
    oldest = OutboxMessage.objects.filter(state=State.PENDING, run_after__lte=now).aggregate(
        at=Min("run_after")
    )["at"]
    return OutboxFigures(
        pending=counts.get(State.PENDING, 0),
        running=counts.get(State.RUNNING, 0),
        failed=counts.get(State.FAILED, 0),
        oldest_pending_seconds=(
            None if oldest is None else round((now - oldest).total_seconds(), 1)
        ),
    )
