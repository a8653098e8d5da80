"""Background jobs: long work a person starts from the back office (a CSV import, a big export)
run by a worker, with a progress the person's page polls and a result to read or download.

Invariants:
- `job_start` writes the job and the outbox message that runs it in one transaction: the job
  exists if and only if its work is queued, and the outbox delivers it even if the broker or a
  worker dies (oms.outbox);
- a job runs from the start each time its message runs (`job_run`): a worker that died or a
  transient error leaves the message to the outbox, which runs it again; the work itself is
  restartable (an import is one transaction, or idempotent per order; an export only reads and
  replaces its result parts), so nothing is lost or done twice;
- done, failed and cancelled are final: a message delivered again for a finished job does
  nothing, so a cancelled job is never resumed;
- a queued or running job may be cancelled (`job_cancel`, by its owner): it is marked
  cancelled at once with the progress it had reached; a running one stops at its next
  progress report (between batches: `job_progress` raises JobCancelled, its transaction rolls
  back) and keeps that status and progress;
- progress is written where other connections see it at once: to the cache (the work may run
  inside one transaction, whose writes nobody sees before it commits) and, outside a
  transaction, to the job's row; `job_progress_of` reads the larger of the two;
- a downloadable result is stored in parts of at most PART_BYTES in the database
  (BackgroundJobPart), written and read a part at a time: constant memory, any machine;
- finished jobs are kept KEEP_DAYS days (with their files), then purged by the nightly
  `oms.outbox_purge`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from oms.errors import DomainError
from oms.models import BackgroundJob, BackgroundJobPart
from oms.outbox import outbox_enqueue

Status = BackgroundJob.Status
PART_BYTES = 512 * 1024
#: How long a progress figure stays in the cache (a job longer than this reads the row's).
PROGRESS_TTL = 6 * 60 * 60
#: Days a finished job (its upload, its result) is kept.
KEEP_DAYS = 7


def job_start(
    *,
    kind: str,
    title: str,
    user: Any,
    task: str,
    params: dict[str, Any] | None = None,
    input_data: bytes = b"",
    input_name: str = "",
    back_url: str = "",
    total: int = 0,
) -> BackgroundJob:
    """Record a job and queue its task (`task(job_id=...)`) in the same transaction."""
    with transaction.atomic():
        job = BackgroundJob.objects.create(
            kind=kind,
            title=title[:200],
            user=user,
            params=params or {},
            input_data=input_data,
            input_name=input_name[:255],
            back_url=back_url[:2048],
            total=total,
        )
        outbox_enqueue(task, job_id=job.pk)
    return job


def _progress_key(job_id: int) -> str:
    return f"oms.job.{job_id}.progress"


def _cancel_key(job_id: int) -> str:
    return f"oms.job.{job_id}.cancelled"


class JobCancelled(Exception):
    """Raised in the job's work by `job_progress` once the job was cancelled: the work stops."""


def job_cancel(job: BackgroundJob) -> bool:
    """Cancel a queued or running job, keeping the progress it reached; False when it had
    finished already (nothing changes). A running job stops between two batches."""
    with transaction.atomic():
        row = BackgroundJob.objects.select_for_update().defer("input_data").get(pk=job.pk)
        if row.is_finished:
            return False
        done, total = job_progress_of(row)
        BackgroundJob.objects.filter(pk=job.pk).update(
            status=Status.CANCELLED, done=done, total=total, finished_at=timezone.now()
        )
    # The flag names the job by its id and creation time: an id used again (SQLite reuses the
    # highest id once its row is purged) is another job, which this flag does not stop.
    cache.set(_cancel_key(job.pk), _identity(row), PROGRESS_TTL)
    job.refresh_from_db(fields=["status", "done", "total", "finished_at"])
    return True


def _identity(job: BackgroundJob) -> str:
    return f"{job.pk}@{job.created_at.isoformat()}"


def _cancelled(job: BackgroundJob) -> bool:
    if cache.get(_cancel_key(job.pk)) == _identity(job):
        return True
    return BackgroundJob.objects.filter(pk=job.pk, status=Status.CANCELLED).exists()


def job_progress(job: BackgroundJob, done: int, total: int | None = None) -> None:
    """Tell how far the job is: seen at once by the polling page, even from inside the job's
    transaction (the cache), and on the row when not in a transaction. Raises JobCancelled when
    the job was cancelled meanwhile: the work stops there."""
    if _cancelled(job):
        raise JobCancelled
    job.done = done
    if total is not None:
        job.total = total
    cache.set(_progress_key(job.pk), (job.done, job.total, job.attempts), PROGRESS_TTL)
    if not connection.in_atomic_block:
        BackgroundJob.objects.filter(pk=job.pk).update(done=job.done, total=job.total)


def job_progress_of(job: BackgroundJob) -> tuple[int, int]:
    """(done, total) of a job as far as anybody can see it now."""
    if job.is_finished:
        return job.done, job.total
    cached = cache.get(_progress_key(job.pk))
    if isinstance(cached, tuple | list) and len(cached) == 3 and cached[2] == job.attempts:
        return max(job.done, int(cached[0])), max(job.total, int(cached[1]))
    return job.done, job.total


def _begin(job_id: int) -> BackgroundJob | None:
    """Mark the job running (again, from the start); None if it is finished or gone."""
    with transaction.atomic():
        job = BackgroundJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None
        job.status = Status.RUNNING
        job.attempts = F("attempts") + 1
        job.done = 0
        job.started_at = timezone.now()
        job.save(update_fields=["status", "attempts", "done", "started_at"])
        job.refresh_from_db(fields=["attempts"])
    cache.delete_many([_progress_key(job.pk), _cancel_key(job.pk)])  # none is this run's
    return job


def _finish(job: BackgroundJob, status: str, *, result: dict[str, Any], error: str = "") -> None:
    if BackgroundJob.objects.filter(pk=job.pk, status=Status.CANCELLED).update(result=result):
        return  # cancelled after its last progress report: it stays so, with what it did
    job.status = status
    job.result = result
    job.error = error[:5000]
    job.finished_at = timezone.now()
    if status == Status.SUCCEEDED and job.total and job.done < job.total:
        job.done = job.total
    job.save(update_fields=["status", "result", "error", "finished_at", "done", "total"])
    cache.delete(_progress_key(job.pk))


def job_run(job_id: int, work: Callable[[BackgroundJob], dict[str, Any]]) -> str:
    """Run `work(job)` for the job's task and record its outcome: its returned dict is the
    result; a DomainError fails the job with its detail (and `errors` in the result); any
    other exception goes to the outbox (retried if transient, else the task's give-up hook,
    `job_gave_up`, fails the job)."""
    job = _begin(job_id)
    if job is None:
        return "finished already"
    try:
        result = work(job)
    except JobCancelled:
        # Marked cancelled already; again here in case the work's transaction held that mark.
        BackgroundJob.objects.filter(pk=job.pk, status__in=[Status.QUEUED, Status.RUNNING]).update(
            status=Status.CANCELLED, done=job.done, finished_at=timezone.now()
        )
        cache.delete(_progress_key(job.pk))
        return Status.CANCELLED
    except DomainError as exc:
        _finish(
            job,
            Status.FAILED,
            result={"errors": {k: [str(m) for m in v] for k, v in exc.errors.items()}},
            error=exc.detail,
        )
        return Status.FAILED
    _finish(job, Status.SUCCEEDED, result=result)
    return Status.SUCCEEDED


def job_gave_up(kwargs: dict[str, Any], failure: str) -> None:
    """The outbox gave up on a job's message: the job failed (the page says why)."""
    job = BackgroundJob.objects.filter(pk=int(kwargs.get("job_id") or 0)).first()
    if job is not None and not job.is_finished:
        _finish(job, Status.FAILED, result={}, error=f"The work stopped: {failure}")


def job_result_write(job: BackgroundJob, chunks: Iterable[bytes], *, name: str) -> int:
    """Store the job's downloadable result from `chunks`, replacing what an earlier attempt
    wrote, a part of PART_BYTES at a time. Returns the bytes written."""
    BackgroundJobPart.objects.filter(job=job).delete()
    seq = 0
    size = 0
    pending: list[bytes] = []
    pending_size = 0

    def flush() -> None:
        nonlocal seq, pending, pending_size
        if pending:
            BackgroundJobPart.objects.create(job=job, seq=seq, data=b"".join(pending))
            seq += 1
            pending, pending_size = [], 0

    for chunk in chunks:
        pending.append(chunk)
        pending_size += len(chunk)
        size += len(chunk)
        if pending_size >= PART_BYTES:
            flush()
    flush()
    job.result_name = name[:255]
    BackgroundJob.objects.filter(pk=job.pk).update(result_name=job.result_name)
    return size


def job_result_read(job: BackgroundJob) -> Iterator[bytes]:
    """The job's downloadable result, a part at a time (one query per part)."""
    for part_id in (
        BackgroundJobPart.objects.filter(job=job).order_by("seq").values_list("pk", flat=True)
    ):
        data = BackgroundJobPart.objects.filter(pk=part_id).values_list("data", flat=True).get()
        yield bytes(data)


def jobs_of(user: Any, *, limit: int = 20) -> list[BackgroundJob]:
    """The person's latest jobs, newest first (without their files)."""
    return list(
        BackgroundJob.objects.filter(user=user)
        .defer("input_data")
        .order_by("-created_at", "-pk")[:limit]
    )


def jobs_purge(*, older_than: dt.timedelta | None = None) -> int:
    """Delete the jobs finished more than KEEP_DAYS ago, with their files; returns how many."""
    cutoff = timezone.now() - (older_than or dt.timedelta(days=KEEP_DAYS))
    finished = BackgroundJob.objects.filter(
        status__in=[Status.SUCCEEDED, Status.FAILED, Status.CANCELLED], finished_at__lt=cutoff
    )
    BackgroundJobPart.objects.filter(job__in=finished).delete()
    deleted, _ = finished.delete()
    return deleted
