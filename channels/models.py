"""Sales channels: where orders come from and where stock is published.

Invariants: a channel's code is unique; its currency is an ISO 4217 code; its credentials are
stored encrypted and never leave the server (write-only in the admin and the API: pages and
answers say whether they are set and which keys they hold, never a value); the stock buffer is
never negative. Setting or clearing credentials, connecting or disconnecting a channel and
starting its syncs and stock pushes need "manage channel connections" (oms.roles).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from channels.states import PushKind, PushStatus, SyncStatus, SyncTrigger, WebhookStatus
from inventory.models import Location, code_validator
from oms.crypto import decrypt_json
from oms.money import is_currency
from oms.refdata import RefdataManager


def validate_currency(value: str) -> None:
    if not (is_currency(value) and value == value.upper()):
        raise ValidationError(f"{value!r} is not an ISO 4217 currency code.")


class ChannelKind(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    AMAZON = "amazon", "Amazon"
    EBAY = "ebay", "eBay"
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    POS = "pos", "Point of sale"
    API = "api", "Direct API"
    CSV = "csv", "CSV import"


#: Channel fields written by syncs, stock pushes and credential refreshes (leases, cursors,
#: secrets) and read by no cached reader: they never invalidate the reference data cache, and a
#: cached channel defers them (oms.refdata `uncached`).
CHANNEL_UNCACHED_FIELDS = (
    "credentials_encrypted",
    "sync_cursor",
    "sync_next_at",
    "sync_lease_until",
    "sync_lease_holder",
    "stock_push_lease_until",
)


class Channel(models.Model):
    code = models.CharField(max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    locations = models.ManyToManyField(
        Location,
        related_name="channels",
        blank=True,
        help_text="Locations whose stock this channel sells and from which its orders ship.",
    )
    stock_buffer = models.PositiveIntegerField(
        default=0, help_text="Units per SKU held back from what the channel is told it can sell."
    )
    is_active = models.BooleanField(default=True)
    send_emails = models.BooleanField(
        default=True,
        help_text="Send the shopper our e-mails (off for marketplaces that send their own).",
    )
    credentials_encrypted = models.TextField(blank=True, editable=False)
    location_map = models.JSONField(
        default=dict,
        blank=True,
        help_text='Channel-side location id -> our location code, e.g. {"L7Q3": "STORE-1"}.',
    )
    # Order sync (channels with a connector).
    sync_interval_minutes = models.PositiveIntegerField(
        default=5, help_text="Minutes between two scheduled order pulls (0 = never scheduled)."
    )
    sync_overlap_minutes = models.PositiveIntegerField(
        default=10,
        help_text="Each pull starts this far before the last change seen, so that a change "
        "written late on the channel's side is never skipped.",
    )
    sync_cursor = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Last channel-side change stored."
    )
    sync_next_at = models.DateTimeField(null=True, blank=True, editable=False)
    sync_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    #: The process running the sync (oms.workers): a dead holder's lease is taken over.
    sync_lease_holder = models.CharField(max_length=300, blank=True, default="", editable=False)
    stock_push_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Return policy (read by the returns app through order.channel).
    return_window_days = models.PositiveIntegerField(
        default=30, help_text="Days after delivery within which shoppers may return items."
    )
    returns_auto_authorise = models.BooleanField(
        default=True,
        help_text="Authorise shoppers' returns within the window at once (else staff review).",
    )
    refund_basis = models.CharField(
        max_length=12,
        choices=[("received", "Received lines"), ("authorised", "Authorised lines")],
        default="received",
        help_text="Which lines the suggested refund counts.",
    )
    exchange_timing = models.CharField(
        max_length=12,
        choices=[("on_receipt", "When the return is received"), ("immediate", "At once")],
        default="on_receipt",
        help_text="When an exchange's replacement order is created.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RefdataManager()  # queryset writes invalidate the cache (oms.refdata)

    class Meta:
        ordering = ["code"]
        permissions = [
            (
                "manage_channel_connections",
                "Can manage channel credentials and connections (syncs, stock pushes)",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ChannelKind.values), name="channel_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(refund_basis__in=["received", "authorised"]),
                name="channel_refund_basis_valid",
            ),
            models.CheckConstraint(
                condition=Q(exchange_timing__in=["on_receipt", "immediate"]),
                name="channel_exchange_timing_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)

    def credentials(self) -> dict[str, Any]:
        """The decrypted credentials, for adapters only: never shown, logged or returned."""
        return decrypt_json(self.credentials_encrypted)

    def credential_keys(self) -> list[str]:
        """The names of the stored credentials (e.g. access_token), never their values."""
        return sorted(self.credentials())


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


class ChannelWebhookDelivery(models.Model):
    """The inbox: each verified delivery once (unique per channel and delivery id)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="webhooks")
    delivery_id = models.CharField(max_length=128)
    topic = models.CharField(max_length=128, blank=True)
    payload = models.JSONField(default=dict)
    #: The vendor's payload carried NUL characters, stripped before storing (jsonb refuses them).
    nul_stripped = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=WebhookStatus.choices, default=WebhookStatus.RECEIVED
    )
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    #: A worker processing the delivery holds it until then (a dead worker's claim expires).
    claimed_until = models.DateTimeField(null=True, blank=True)
    #: The process processing it (oms.workers): a dead one's claim is taken over.
    claimed_by = models.CharField(max_length=300, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "channel webhook"
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "delivery_id"], name="channel_webhook_delivery_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}/{self.delivery_id} {self.topic}"


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
