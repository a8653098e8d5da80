"""Kernel models: stored API idempotency keys, the transactional outbox, the inbound-webhook
inbox, worker heartbeats.

Invariants: one idempotency row per (user, key); a row in progress blocks a concurrent
duplicate, a finished row replays its response until it expires. The other models state theirs.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2048)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"


class OutboxMessage(models.Model):
    """A side effect (a task to run) written in the transaction of the change that causes it.

    Invariants: the row exists if and only if its transaction committed; it is published to the
    broker after commit and again by the sweep until a worker marks it done or failed; a worker
    runs it only after claiming it (state running, holder, lease), so a message delivered twice
    runs once.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    task = models.CharField(max_length=200)
    queue = models.CharField(max_length=32, default="default")
    kwargs = models.JSONField(default=dict, blank=True)
    #: Set for side effects of one object ("returns.refund_execute:12"): a pending message
    #: with the same key makes a new one unnecessary, and recovery sweeps look for it.
    dedupe_key = models.CharField(max_length=200, blank=True, default="")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    #: Not run before this (a countdown, or the backoff after a transient error).
    run_after = models.DateTimeField(default=timezone.now)
    #: When the sweep (re)publishes the message if it is still pending by then.
    publish_after = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    publish_count = models.PositiveIntegerField(default=0)
    #: Runs started (claims); the task gives up after max_attempts.
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=9)
    #: The process running it ("host:pid:start@host:pid:start" of the worker), while running.
    holder = models.CharField(max_length=300, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "publish_after"], name="outbox_state_due"),
            models.Index(
                fields=["dedupe_key"],
                name="outbox_dedupe_open",
                condition=~models.Q(dedupe_key=""),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=["pending", "running", "done", "failed"]),
                name="outbox_state_valid",
            )
        ]
        verbose_name = "outbox message"

    def __str__(self) -> str:
        return f"{self.task} #{self.pk} ({self.state})"


class WorkerHeartbeat(models.Model):
    """A Celery worker or beat process, alive while `seen_at` is fresh.

    Invariant: one row per process incarnation (host, pid and process start time); a process
    marks itself stopped when it shuts down cleanly, and a process found dead on its own host is
    marked stopped by the next worker that starts there.
    """

    identity = models.CharField(max_length=200, unique=True)
    role = models.CharField(max_length=16, default="worker")
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    nodename = models.CharField(max_length=255, blank=True, default="")
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return f"{self.role} {self.identity}"


class TaskMetrics(models.Model):
    """What the Celery tasks of one process did since it started (oms.metrics): per task name,
    runs by outcome and a histogram of their durations, written by the process itself every
    OMS_METRICS_FLUSH_SECONDS and summed over all processes by /metrics.

    Invariant: one row per process incarnation (the identity of oms.workers), written only by
    that process; forgotten with the heartbeats, a week after it was last written.
    """

    identity = models.CharField(max_length=200, unique=True)
    hostname = models.CharField(max_length=255)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)
    tasks = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "task metrics of a process"
        verbose_name_plural = "task metrics of processes"

    def __str__(self) -> str:
        return self.identity


class InboundWebhook(models.Model):
    """The inbox: every verified inbound webhook delivery, of a sales channel, a carrier or a
    3PL partner, stored once and processed by a worker (oms.inbox).

    Invariants: one row per (kind, source, delivery id), so a redelivery stores nothing new;
    `received` becomes `processed` or `failed` once, and only the worker holding the claim
    (claimed_by until claimed_until; a dead holder's or an expired claim is taken over) moves
    it. The kernel points at no app: `source` is the channel's code, the carrier's code or the
    3PL location's code, and `channel_id` is a plain integer (the channel's id, kind channel).
    """

    class Kind(models.TextChoices):
        CHANNEL = "channel", "Sales channel"
        CARRIER = "carrier", "Carrier"
        PARTNER = "partner", "3PL partner"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    #: Who sent it: the channel's code, the carrier's code, the 3PL location's code.
    source = models.CharField(max_length=64)
    #: The sales channel's id (kind channel): no foreign key, the kernel points at no app.
    channel_id = models.BigIntegerField(null=True, blank=True)
    delivery_id = models.CharField(max_length=128)
    topic = models.CharField(max_length=128, blank=True)
    payload = models.JSONField(default=dict)
    #: The sender's payload carried NUL characters, stripped before storing (jsonb refuses them).
    nul_stripped = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    #: Claims taken (runs started).
    attempts = models.PositiveIntegerField(default=0)
    #: Why it failed, or what a processed delivery could not apply (unknown tracking numbers).
    error = models.TextField(blank=True)
    #: A worker processing the delivery holds it until then (a dead worker's claim expires).
    claimed_until = models.DateTimeField(null=True, blank=True)
    #: The process processing it (oms.workers): a dead one's claim is taken over.
    claimed_by = models.CharField(max_length=300, blank=True, default="")
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "inbound webhook"
        indexes = [
            models.Index(fields=["status", "received_at"], name="inbox_status_received"),
            models.Index(fields=["received_at"], name="inbox_received"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "source", "delivery_id"], name="inbox_delivery_once"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["channel", "carrier", "partner"]),
                name="inbox_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["received", "processed", "failed"]),
                name="inbox_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.source} {self.delivery_id}"


class BackgroundJob(models.Model):
    """Long work a person started from the back office (a CSV import, a big export), run by a
    worker through the outbox, with its progress and its result.

    Invariants: the job row and the outbox message that runs it are written in one transaction
    (a job is never lost nor run without its row); a job is restartable: a worker that dies
    leaves the message to the outbox's sweep, and the task runs the job again from the start
    (an import is one transaction or idempotent per order, an export only reads and replaces
    its result parts); done, failed and cancelled are final (a cancelled job is never run
    again).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    #: What the job does ("orders_csv_preview", "orders_csv_import", "counts_csv", "export").
    kind = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="background_jobs"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    #: What the job needs besides its file (ids, a querystring): JSON.
    params = models.JSONField(default=dict, blank=True)
    #: The uploaded file the job reads (bounded by the uploading screen), if any.
    input_data = models.BinaryField(blank=True, default=b"", editable=False)
    input_name = models.CharField(max_length=255, blank=True, default="")
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    #: The outcome as JSON (counts, errors, links), shown on the job's page.
    result = models.JSONField(default=dict, blank=True)
    #: The name of the downloadable result, stored in parts (BackgroundJobPart), if any.
    result_name = models.CharField(max_length=255, blank=True, default="")
    error = models.TextField(blank=True, default="")
    #: Where the job's page sends the person back (the list, the channel).
    back_url = models.CharField(max_length=2048, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="job_user_recent")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["queued", "running", "succeeded", "failed", "cancelled"]
                ),
                name="job_status_valid",
            )
        ]
        verbose_name = "background job"

    def __str__(self) -> str:
        return f"{self.title} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED, self.Status.CANCELLED)


class BackgroundJobPart(models.Model):
    """One piece of a job's downloadable result, in order: a result of any size is written and
    read a part at a time (constant memory), and survives on any machine that reads the DB."""

    job = models.ForeignKey(BackgroundJob, on_delete=models.CASCADE, related_name="parts")
    seq = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        ordering = ["job", "seq"]
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="job_part_unique_seq")]

    def __str__(self) -> str:
        return f"part {self.seq} of job {self.job_id}"


class SavedFilter(models.Model):
    """A person's named view of an admin list: the list's path and its querystring."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters"
    )
    #: "app_label.model_name" of the list.
    list_key = models.CharField(max_length=100)
    name = models.CharField(max_length=80)
    querystring = models.CharField(max_length=2000, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "list_key", "name"], name="saved_filter_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name
