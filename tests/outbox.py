"""Test helpers for the outbox: what the code under test asked the workers to do, and running
it here as a worker would (claim, run, record), without a broker."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from oms.models import OutboxMessage
from oms.outbox import OUTBOX_CONTEXT, OUTBOX_KWARG, task_by_name


def queued(*tasks: str) -> list[tuple[str, dict[str, Any]]]:
    """Pending outbox messages, oldest first, as (task name, the kwargs its task will get: not
    the log context the row carries); only `tasks` if given."""
    rows = OutboxMessage.objects.filter(state=OutboxMessage.State.PENDING).order_by("pk")
    if tasks:
        rows = rows.filter(task__in=tasks)
    return [
        (row.task, {k: v for k, v in row.kwargs.items() if k != OUTBOX_CONTEXT}) for row in rows
    ]


def run_outbox(*tasks: str, rounds: int = 20, due_now: bool = True) -> int:
    """Run the pending messages (those of `tasks` if given) like a worker, including the ones
    they write, for up to `rounds` rounds; `due_now` ignores countdowns and backoffs. Returns
    how many ran."""
    ran = 0
    for _ in range(rounds):
        pending = OutboxMessage.objects.filter(state=OutboxMessage.State.PENDING).order_by("pk")
        if tasks:
            pending = pending.filter(task__in=tasks)
        if due_now:
            pending.update(run_after=timezone.now())
        batch = list(pending.values_list("pk", "task", "kwargs"))
        if not batch:
            break
        for pk, name, kwargs in batch:
            task_by_name(name)(**kwargs, **{OUTBOX_KWARG: pk})
            ran += 1
    return ran
