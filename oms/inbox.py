"""The inbound-webhook inbox: one place where the verified deliveries of sales channels,
carriers and 3PL partners are stored once and processed by a worker (oms.models.InboundWebhook).

Invariants:
- the sender's signature is checked by its app before `inbox_store` is called: nothing
  unverified is stored; a delivery is stored once per (kind, source, delivery id), so a
  redelivery stores nothing and enqueues nothing (it is answered as a duplicate); NUL
  characters are stripped from what is stored (`nul_stripped` says so);
- storing writes the processing task (`oms.inbox_process`) to the outbox in the same
  transaction, on the queue its kind's processor asked for;
- a delivery is processed by one worker at a time, after claiming it: `received`, and
  unclaimed, its claim expired, or its claimer's process dead (oms.workers); every claim counts
  an attempt. `received` moves once, to `processed` (what the processor could not apply is
  noted in `error`) or to `failed` (a PermanentError, or the task's retries spent), and only
  by the worker holding the claim (the give-up hook excepted: its task is over);
- each app registers the processor of its kind in its AppConfig.ready() (`register_processor`);
  a processor is safe to run twice (a delivery whose worker died after the processor's commit
  is processed again). An `atomic` processor runs in one transaction with the marking of the
  delivery: its work is kept only if the delivery is marked processed by the same claim;
- a kind may also register a processor of many (`process_many`, not atomic): the worker that
  claims a delivery then claims the other deliveries of the same source waiting unclaimed (up
  to `batch`; the UPDATE re-checks each row is unclaimed, so two workers never share one) and
  processes them together, in received order (a burst at peak: the channels store their orders
  as one page); those it did not process completely are processed one at a time; their own
  queued tasks later find them processed;
- a TransientError (oms.outbox.TRANSIENT_ERRORS) gives the claim back and is raised: the outbox
  retries the task with backoff; a PermanentError fails the delivery with the reason;
- deliveries still `received` after SWEEP_AFTER and not held by a live worker (their task was
  lost) are enqueued again by the sweep (`oms.inbox_sweep`, beat, every few minutes).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from oms import jsonsafe
from oms.errors import NotFound, PermanentError
from oms.models import InboundWebhook
from oms.outbox import TRANSIENT_ERRORS, outbox_enqueue
from oms.workers import holder_alive, holder_identity

logger = logging.getLogger(__name__)

Kind = InboundWebhook.Kind
Status = InboundWebhook.Status

#: The allowed moves of a delivery's status (the model's `status` column).
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.RECEIVED: frozenset({Status.PROCESSED, Status.FAILED}),
    Status.PROCESSED: frozenset(),
    Status.FAILED: frozenset(),
}
#: How long a worker holds a delivery it processes; deliveries older than SWEEP_AFTER and still
#: waiting are enqueued again by the sweep.
CLAIM = dt.timedelta(minutes=10)
SWEEP_AFTER = dt.timedelta(minutes=5)
PROCESS_TASK = "oms.inbox_process"
MAX_DELIVERY_ID = 128  # InboundWebhook.delivery_id
MAX_ERROR = 5000

#: Processes one claimed delivery; returns what it could not apply ("" when everything was).
ProcessorFn = Callable[[InboundWebhook], str]
#: Processes several claimed deliveries of one source at once (a burst drained in bulk);
#: returns the ids of those it processed completely, the others are processed one at a time.
ManyProcessorFn = Callable[[list[InboundWebhook]], set[int]]


@dataclass(frozen=True)
class Processor:
    process: ProcessorFn
    #: The queue of its task (channels' imports keep to the "channels" queue).
    queue: str = "default"
    #: Run in one transaction with the marking of the delivery.
    atomic: bool = False
    #: Drains a burst: the other deliveries of the same source waiting with it, up to `batch`.
    process_many: ManyProcessorFn | None = None
    batch: int = 1


_processors: dict[str, Processor] = {}


def register_processor(
    kind: str,
    process: ProcessorFn,
    *,
    queue: str = "default",
    atomic: bool = False,
    process_many: ManyProcessorFn | None = None,
    batch: int = 100,
) -> None:
    """Name the function that processes the deliveries of `kind` (an app's AppConfig.ready),
    and optionally the one that processes up to `batch` of one source at once (not atomic)."""
    if kind not in Kind.values:
        raise ValueError(f"Unknown inbox kind {kind!r}.")
    if process_many is not None and atomic:
        raise ValueError("A processor of many deliveries is not atomic.")
    _processors[kind] = Processor(
        process=process,
        queue=queue,
        atomic=atomic,
        process_many=process_many,
        batch=batch if process_many is not None else 1,
    )


def processor_for(kind: str) -> Processor:
    """Raises LookupError: a kind without a processor is a programming error."""
    found = _processors.get(kind)
    if found is None:
        raise LookupError(f"No inbox processor is registered for {kind!r}.")
    return found


# --- storing ----------------------------------------------------------------------------------


def inbox_store(
    *,
    kind: str,
    source: str,
    delivery_id: str,
    payload: Any,
    topic: str = "",
    channel_id: int | None = None,
) -> tuple[InboundWebhook, bool]:
    """Store a verified delivery once and enqueue its processing after commit. Returns it and
    whether it is new (False: a redelivery, the stored one is returned and nothing enqueued)."""
    queue = processor_for(kind).queue
    payload, stripped = jsonsafe.strip_nul(payload)
    key = {
        "kind": kind,
        "source": jsonsafe.without_nul(source)[:64],
        "delivery_id": jsonsafe.without_nul(delivery_id)[:MAX_DELIVERY_ID],
    }
    try:
        with transaction.atomic():
            delivery = InboundWebhook.objects.create(
                **key,
                channel_id=channel_id,
                topic=jsonsafe.without_nul(topic)[:128],
                payload=payload,
                nul_stripped=stripped,
            )
            _process_later(delivery.pk, queue)
    except IntegrityError:
        existing = InboundWebhook.objects.filter(**key).first()
        if existing is None:  # not the unique constraint: a real error
            raise
        return existing, False
    return delivery, True


def _process_later(pk: int, queue: str) -> None:
    outbox_enqueue(PROCESS_TASK, queue=queue, dedupe_key=f"{PROCESS_TASK}:{pk}", inbox_id=pk)


# --- processing -------------------------------------------------------------------------------


def inbox_claim(pk: int, *, now: dt.datetime | None = None, holder: str | None = None) -> bool:
    """Take a received delivery: unclaimed, its claim expired, or its claimer's process dead."""
    now = now or timezone.now()
    holder = holder or holder_identity()
    claim = {"claimed_until": now + CLAIM, "claimed_by": holder, "attempts": F("attempts") + 1}
    received = InboundWebhook.objects.filter(pk=pk, status=Status.RECEIVED)
    if received.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)).update(**claim):
        return True
    other = received.values_list("claimed_by", flat=True).first()
    if other is None or holder_alive(other, now=now):
        return False
    return bool(received.filter(claimed_by=other).update(**claim))


class _ClaimLost(Exception):
    """The claim was taken over meanwhile: an atomic processor's work is rolled back."""


def inbox_process(*, inbox_id: int) -> InboundWebhook:
    """Process a stored delivery with its kind's processor (see the module docstring); a
    delivery processed already, or held by another live worker, is returned as it is.

    Raises NotFound (no such delivery), TransientError and the other TRANSIENT_ERRORS (the
    claim is given back: retried), LookupError (no processor for its kind).
    """
    holder = holder_identity()
    claimed = inbox_claim(inbox_id, holder=holder)
    delivery = InboundWebhook.objects.filter(pk=inbox_id).first()
    if delivery is None:
        raise NotFound(f"No inbound webhook {inbox_id}.")
    if not claimed:
        return delivery  # processed already, or another live worker is at it
    processor = processor_for(delivery.kind)
    if processor.process_many is not None:
        _process_burst(delivery, holder, processor)
    else:
        _process_one(delivery, holder, processor)
    delivery.refresh_from_db()
    return delivery


def _process_one(delivery: InboundWebhook, holder: str, processor: Processor) -> None:
    """Run the processor on one delivery claimed by `holder` and mark it."""
    try:
        if processor.atomic:
            with transaction.atomic():
                note = processor.process(delivery)
                if not _finish(delivery, holder, Status.PROCESSED, note):
                    raise _ClaimLost
        else:
            note = processor.process(delivery)
            _finish(delivery, holder, Status.PROCESSED, note)
    except _ClaimLost:
        logger.warning("Inbound webhook %s was taken over while processed here.", delivery.pk)
    except TRANSIENT_ERRORS as exc:
        _release(delivery.pk, holder, exc)
        raise
    except PermanentError as exc:
        _finish(delivery, holder, Status.FAILED, str(exc))


def _process_burst(delivery: InboundWebhook, holder: str, processor: Processor) -> None:
    """Drain the deliveries of the same source waiting with this one (claimed here, up to the
    processor's batch) with its processor of many, in received order; what it did not process
    completely is processed one at a time. A transient error gives every claim back."""
    burst = [delivery, *_claim_more(delivery, holder, processor.batch - 1)]
    if len(burst) == 1:
        _process_one(delivery, holder, processor)
        return
    assert processor.process_many is not None
    burst.sort(key=lambda d: (d.received_at, d.pk))
    try:
        done = processor.process_many(burst)
    except TRANSIENT_ERRORS as exc:
        for one in burst:
            _release(one.pk, holder, exc)
        raise
    InboundWebhook.objects.filter(
        pk__in=[one.pk for one in burst if one.pk in done],
        status=Status.RECEIVED,
        claimed_by=holder,
    ).update(status=Status.PROCESSED, error="", processed_at=timezone.now(), claimed_until=None)
    rest = [one for one in burst if one.pk not in done]
    for index, one in enumerate(rest):
        try:
            _process_one(one, holder, processor)
        except TRANSIENT_ERRORS as exc:
            for other in rest[index + 1 :]:
                _release(other.pk, holder, exc)
            raise


def _claim_more(delivery: InboundWebhook, holder: str, limit: int) -> list[InboundWebhook]:
    """Claim up to `limit` other received, unclaimed deliveries of the delivery's kind and
    source, oldest first (each row is claimed by one worker only: the UPDATE re-checks that it
    is unclaimed). Their own queued tasks later find them processed and do nothing."""
    if limit <= 0:
        return []
    now = timezone.now()
    until = now + CLAIM
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
    waiting = InboundWebhook.objects.filter(
        kind=delivery.kind, source=delivery.source, status=Status.RECEIVED
    ).exclude(pk=delivery.pk)
    candidates = list(waiting.filter(free).order_by("pk").values_list("pk", flat=True)[:limit])
    if not candidates:
        return []
    waiting.filter(free, pk__in=candidates).update(
        claimed_until=until, claimed_by=holder, attempts=F("attempts") + 1
    )
    return list(
        InboundWebhook.objects.filter(
            pk__in=candidates, status=Status.RECEIVED, claimed_by=holder, claimed_until=until
        ).order_by("pk")
    )


def _finish(delivery: InboundWebhook, holder: str, status: str, error: str) -> bool:
    """Mark a claimed delivery processed or failed; False when the claim is no longer ours."""
    return bool(
        InboundWebhook.objects.filter(
            pk=delivery.pk, status=Status.RECEIVED, claimed_by=holder
        ).update(
            status=status,
            error=error[:MAX_ERROR],
            processed_at=timezone.now(),
            claimed_until=None,
        )
    )


def _release(pk: int, holder: str, error: BaseException) -> None:
    """Give the claim back after a transient error (best effort: the connection may be gone,
    then the claim expires)."""
    with contextlib.suppress(DatabaseError):
        InboundWebhook.objects.filter(pk=pk, status=Status.RECEIVED, claimed_by=holder).update(
            error=str(error)[:MAX_ERROR], claimed_until=None, claimed_by=""
        )


def inbox_gave_up(*, inbox_id: int, reason: str) -> None:
    """The task's retries are spent: the delivery is failed with the reason (staff see it in
    the inbox)."""
    InboundWebhook.objects.filter(pk=inbox_id, status=Status.RECEIVED).update(
        status=Status.FAILED,
        error=f"gave up: {reason}"[:MAX_ERROR],
        processed_at=timezone.now(),
        claimed_until=None,
        claimed_by="",
    )


# --- the sweep --------------------------------------------------------------------------------


def _waiting(older_than: dt.timedelta) -> list[tuple[int, str]]:
    """(id, kind) of the deliveries still waiting after `older_than`, not held by a live worker."""
    now = timezone.now()
    waiting = InboundWebhook.objects.filter(
        status=Status.RECEIVED, received_at__lte=now - older_than
    ).order_by("received_at", "pk")
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
    found = list(waiting.filter(free).values_list("pk", "kind")[:1000])
    for pk, kind, holder in waiting.exclude(free).values_list("pk", "kind", "claimed_by")[:1000]:
        if not holder_alive(holder, now=now):
            found.append((pk, kind))
    return found


def inbox_unprocessed(*, older_than: dt.timedelta = SWEEP_AFTER) -> list[int]:
    """Deliveries still waiting after `older_than` and not claimed by a live worker."""
    return [pk for pk, _ in _waiting(older_than)]


def inbox_requeue(*, older_than: dt.timedelta = SWEEP_AFTER) -> int:
    """Enqueue again the deliveries nobody processes (see inbox_unprocessed); a delivery whose
    task is still pending is not enqueued twice."""
    stale = _waiting(older_than)
    with transaction.atomic():
        for pk, kind in stale:
            try:
                queue = processor_for(kind).queue
            except LookupError:
                logger.error("Inbound webhook %s: no processor for %r.", pk, kind)
                continue
            _process_later(pk, queue)
    return len(stale)
