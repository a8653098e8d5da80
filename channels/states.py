"""The statuses of channels' sync runs and stock and order pushes, and the transitions between
them (as orders/states.py and fulfilment/states.py; the models take their choices from here).
A webhook delivery's statuses are the kernel inbox's (oms.inbox.TRANSITIONS).

- A sync run (ChannelSyncRun: a pull, a webhook delivery's orders or a CSV file) starts
  `running` and finishes once: `succeeded`, `partial` (some records failed) or `failed`; a run
  whose worker was lost is closed as `failed`. A CSV file refused whole is stored `failed` at once.
- A push (ChannelPush) starts `pending`; a stock push finishes `succeeded`, `partial` (some SKUs
  refused) or `failed`; an order push (fulfilment, cancel, refund) that failed is tried again until
  it `succeeded`, or is `failed` for good when its retries are spent.
"""

from __future__ import annotations

from django.db import models


class SyncTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Sync now"
    WEBHOOK = "webhook", "Webhook"
    CSV = "csv", "CSV import"
    DEEP = "deep", "Daily re-read"


class SyncStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Succeeded with failed records"
    FAILED = "failed", "Failed"


class PushKind(models.TextChoices):
    STOCK = "stock", "Stock"
    RECONCILE = "reconcile", "Stock reconciliation"
    FULFILMENT = "fulfilment", "Fulfilment"
    CANCEL = "cancel", "Cancellation"
    REFUND = "refund", "Refund"


class PushStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partly failed"
    FAILED = "failed", "Failed"


R = SyncStatus
SYNC_TRANSITIONS: dict[str, frozenset[str]] = {
    R.RUNNING: frozenset({R.SUCCEEDED, R.PARTIAL, R.FAILED}),
    R.SUCCEEDED: frozenset(),
    R.PARTIAL: frozenset(),
    R.FAILED: frozenset(),
}

P = PushStatus
PUSH_TRANSITIONS: dict[str, frozenset[str]] = {
    P.PENDING: frozenset({P.SUCCEEDED, P.PARTIAL, P.FAILED}),
    P.FAILED: frozenset({P.SUCCEEDED, P.FAILED}),  # an order push tried again
    P.PARTIAL: frozenset(),  # stock pushes only: the next change is a new push
    P.SUCCEEDED: frozenset(),
}
