"""Endpoints, events and deliveries (see the package docstring)."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from oms.refdata import RefdataManager

#: Every event type, with what it tells (the README lists them too).
EVENT_TYPES: dict[str, str] = {
    "order.created": "An order was captured.",
    "order.status_changed": "An order's status changed.",
    "order.held": "A hold was placed on an order.",
    "order.released": "An order's last hold was released.",
    "order.cancelled": "An order, or some of its lines, was cancelled.",
    "shipment.created": "Routing created a shipment.",
    "shipment.shipped": "A shipment left its location.",
    "shipment.delivered": "A shipment was delivered.",
    "shipment.exception": "The carrier reported a problem with a shipment.",
    "stock.changed": "A stock level changed (coalesced within a second).",
    "return.created": "A return was requested.",
    "return.received": "Items of a return were received.",
    "refund.succeeded": "Money went back to the shopper.",
    "refund.failed": "A refund failed.",
}


STOCK_CHANGED = "stock.changed"
#: A stock.changed event younger than this, whose delivery has not started, takes a later change
#: of its level instead of a new event (webhooks.services.recording); the feed waits for it.
STOCK_COALESCE_SECONDS = 1.0


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookEndpoint(models.Model):
    """Where an integrator wants events pushed: an https URL, the event types it listens to
    (empty: all), and its signing secret (encrypted; the previous one stays valid until
    `previous_secret_expires_at` after a rotation)."""

    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list, blank=True, help_text="Event types; empty: all.")
    description = models.CharField(max_length=500, blank=True)
    secret_encrypted = models.TextField(editable=False)
    previous_secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    #: Since when every delivery has failed (None: the last one succeeded).
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # queryset writes invalidate the cache (oms.refdata)
    objects = RefdataManager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.url}"

    def listens_to(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class Event(models.Model):
    """Something that happened to an object, with the object's API representation when the
    worker recorded it (`data`) and what the change said (`change`).

    Recorded by the worker from the outbox message its change wrote (webhooks.services.recording):
    `sequence` is that message's id, increasing per object. The feed reads them by id (the
    cursor); `txid` (PostgreSQL's transaction id of the recording) lets it stop before an event
    whose transaction may still commit behind a later one."""

    type = models.CharField(max_length=40, db_index=True)
    occurred_at = models.DateTimeField()
    object_type = models.CharField(max_length=32)
    object_id = models.BigIntegerField()
    sequence = models.BigIntegerField()
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    #: What the change said: a status's from and to, a hold's reason ({} when nothing more).
    change = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    txid = models.BigIntegerField(default=0, editable=False)
    recorded_at = models.DateTimeField(db_index=True)
    #: A delivery attempt started: its data is final (a young stock.changed event that is not
    #: sealed takes a later change of the same level instead of a new event).
    sealed = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "object_id", "sequence"], name="webhooks_event_sequence"
            )
        ]
        indexes = [models.Index(fields=["txid", "id"], name="webhooks_event_feed")]

    def __str__(self) -> str:
        return f"{self.type} {self.object_type} {self.object_id} #{self.sequence}"

    def payload(self) -> dict[str, object]:
        """What a subscriber receives, and what the feed answers for it."""
        return {
            "id": self.pk,
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat().replace("+00:00", "Z"),
            "sequence": self.sequence,
            "data": self.data,
            "change": self.change,
        }


class WebhookDelivery(models.Model):
    """One event for one endpoint, with its latest attempt. `webhook_id` is what the receiver
    de-duplicates on: the same across retries and redeliveries."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    webhook_id = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    #: While an attempt is in flight (the endpoint's concurrency limit counts these).
    lease_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    response_body_head = models.TextField(blank=True, help_text="At most 1 KiB.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhooks_delivery_once")
        ]
        indexes = [
            models.Index(
                fields=["endpoint", "lease_until"],
                name="webhooks_delivery_in_flight",
                condition=Q(lease_until__isnull=False),
            ),
            models.Index(fields=["endpoint", "status"], name="webhooks_delivery_status"),
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.webhook_id} ({self.status})"
