"""The channels' connectors: syncs, listings and pushes of each sales channel (their webhook
deliveries are in the kernel's inbox, oms.models.InboundWebhook of kind "channel").

The Channel itself lives in inventory (inventory.models.Channel, table channels_channel): the
apps below point at it. Its connector fields (credentials, sync cursor, leases) are written only
by this app's services. Setting or clearing credentials, connecting or disconnecting a channel
and starting its syncs and stock pushes need "manage channel connections" (oms.roles), declared
here on ChannelConnection.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from channels.states import PushKind, PushStatus, SyncStatus, SyncTrigger
from inventory.models import Channel


class ChannelConnection(models.Model):
    """No table: it only holds the permission "channels.manage_channel_connections" (a
    channel's secrets, its connector, whether it is connected, its syncs and stock pushes),
    which belongs to this app while the Channel row lives in inventory."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            (
                "manage_channel_connections",
                "Can manage channel credentials and connections (syncs, stock pushes)",
            )
        ]

    def __str__(self) -> str:
        return "channel connections"


class ChannelStockChange(models.Model):
    """A pending stock push: the channel's available quantity of this SKU may have changed.

    One row per (channel, sku), refreshed (new token) at every change in the same transaction
    as the stock movement; the pusher sends the current figure and deletes the row only if the
    token is still the one it read, so a change made meanwhile is never lost.
    """

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="stock_changes")
    sku = models.ForeignKey("inventory.Sku", on_delete=models.CASCADE, related_name="+")
    token = models.UUIDField()
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "sku"], name="channel_stock_change_unique")
        ]
        indexes = [models.Index(fields=["channel", "changed_at"], name="channel_change_time")]

    def __str__(self) -> str:
        return f"{self.channel_id}/{self.sku_id} changed {self.changed_at:%Y-%m-%d %H:%M:%S}"


class ChannelSyncRun(models.Model):
    """One pull of a channel's orders (or one webhook delivery or CSV file): what it did."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="sync_runs")
    trigger = models.CharField(max_length=10, choices=SyncTrigger.choices)
    status = models.CharField(
        max_length=10, choices=SyncStatus.choices, default=SyncStatus.RUNNING, db_index=True
    )
    since = models.DateTimeField(null=True, blank=True)
    cursor_after = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "sync run"
        indexes = [models.Index(fields=["channel", "-started_at"], name="sync_run_channel_time")]

    def __str__(self) -> str:
        return f"{self.channel_id} {self.trigger} {self.started_at:%Y-%m-%d %H:%M} {self.status}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class ChannelSyncFailure(models.Model):
    """A channel record that could not be imported, with the reason and the payload."""

    run = models.ForeignKey(ChannelSyncRun, on_delete=models.CASCADE, related_name="failures")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=128, blank=True)
    reason = models.TextField()
    raw = models.JSONField(default=dict, blank=True)
    resolved = models.BooleanField(default=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "failed channel record"
        indexes = [models.Index(fields=["channel", "external_id"], name="sync_failure_ext")]

    def __str__(self) -> str:
        return f"{self.external_id or '?'}: {self.reason[:60]}"


class ChannelOrderState(models.Model):
    """The channel's side of an order as last stored: to tell a change from a replay."""

    order = models.OneToOneField(
        "orders.Order", on_delete=models.CASCADE, related_name="channel_state"
    )
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    external_updated_at = models.DateTimeField(null=True, blank=True)
    fingerprint = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.order_id} @ {self.external_updated_at}"


class ChannelListing(models.Model):
    """A SKU as the channel knows it: its channel-side id and the quantity last sent."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="listings")
    sku = models.ForeignKey("inventory.Sku", on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=128, blank=True)
    last_quantity = models.IntegerField(null=True, blank=True)
    last_pushed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "sku"], name="channel_listing_unique"),
            models.CheckConstraint(
                condition=Q(last_quantity__isnull=True) | Q(last_quantity__gte=0),
                name="channel_listing_quantity_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}/{self.sku_id}"


class ChannelPush(models.Model):
    """One call (or batch) sent to a channel: stock, tracking, a cancellation or a refund.

    `reference` is unique per channel: a fulfilment push is keyed by the shipment, a refund by
    the refund's idempotency key, so a retried task never sends the same thing twice.
    """

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="pushes")
    kind = models.CharField(max_length=10, choices=PushKind.choices)
    reference = models.CharField(max_length=128)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=PushStatus.choices, default=PushStatus.PENDING, db_index=True
    )
    items = models.PositiveIntegerField(default=0)
    failed_items = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    external_id = models.CharField(max_length=128, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    #: A worker sending the push holds it until then (a dead worker's claim expires).
    claimed_until = models.DateTimeField(null=True, blank=True)
    #: The process processing it (oms.workers): a dead one's claim is taken over.
    claimed_by = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "push to a channel"
        verbose_name_plural = "pushes to channels"
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "kind", "reference"], name="channel_push_reference_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel_id} {self.kind} {self.reference} {self.status}"
