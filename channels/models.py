"""Sales channels: where orders come from and where stock is published.

Invariants: a channel's code is unique; its currency is an ISO 4217 code; its credentials are
stored encrypted and never leave the server (write-only in the admin and the API); the stock
buffer is never negative.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from inventory.models import Location, code_validator
from oms.crypto import decrypt_json
from oms.currencies import is_currency


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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ChannelKind.values), name="channel_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)

    def credentials(self) -> dict[str, Any]:
        """The decrypted credentials, for adapters only."""
        return decrypt_json(self.credentials_encrypted)


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
