"""Catalogue, locations and sales channels: what is stocked (Sku), where (Location) and who
sells it (Channel, with the locations whose stock it sells).

Invariants: codes are unique and immutable identifiers used by the API and the channels; a
barcode belongs to one SKU; a location's coordinates are both set or both empty, and in range.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import (
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
    URLValidator,
)
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_countries.fields import CountryField

from oms.crypto import decrypt_json
from oms.money import is_currency
from oms.refdata import RefdataManager

code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
    "Use letters, digits, '.', '_', '/' and '-', starting with a letter or digit.",
)


class Sku(models.Model):
    code = models.CharField(max_length=64, unique=True, validators=[code_validator])
    name = models.CharField(max_length=255)
    barcode = models.CharField(
        max_length=64,
        blank=True,
        validators=[RegexValidator(r"^[0-9A-Za-z-]+$", "A barcode has letters, digits and '-'.")],
        help_text="GTIN/EAN/UPC or an internal barcode; unique when set.",
    )
    weight_grams = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    allow_backorder = models.BooleanField(
        default=False, help_text="Orders may reserve more than is on hand."
    )
    track_inventory = models.BooleanField(
        default=True, help_text="Off for services and digital goods: no stock is kept."
    )
    lead_time_days = models.PositiveSmallIntegerField(
        default=14, help_text="Days from ordering more to having it on hand (for reorder advice)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RefdataManager()  # queryset writes invalidate the cache (oms.refdata)

    class Meta:
        verbose_name = "SKU"
        verbose_name_plural = "SKUs"
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["barcode"],
                condition=~Q(barcode=""),
                name="sku_barcode_unique",
                violation_error_code="unique",
                violation_error_message="A SKU with this barcode already exists.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        # Django reports a conditional unique constraint as a form-wide error; name the field.
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict({})
            barcode_errors = [e for e in errors.get(NON_FIELD_ERRORS, []) if e.code == "unique"]
            if barcode_errors:
                errors[NON_FIELD_ERRORS] = [
                    e for e in errors[NON_FIELD_ERRORS] if e not in barcode_errors
                ]
                errors.setdefault("barcode", []).extend(barcode_errors)
                errors = {k: v for k, v in errors.items() if v}
            raise ValidationError(errors) from None


class LocationKind(models.TextChoices):
    WAREHOUSE = "warehouse", "Warehouse"
    STORE = "store", "Store"
    THIRD_PARTY = "3pl", "3PL partner"


class Location(models.Model):
    code = models.CharField(max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=LocationKind.choices)
    line1 = models.CharField("address line 1", max_length=255, blank=True)
    line2 = models.CharField("address line 2", max_length=255, blank=True)
    city = models.CharField(max_length=128, blank=True)
    region = models.CharField(max_length=128, blank=True)
    postal_code = models.CharField(max_length=32, blank=True)
    country = CountryField()
    latitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    is_active = models.BooleanField(default=True)
    ships_online = models.BooleanField(default=True, help_text="Online orders may be routed here.")
    priority = models.PositiveSmallIntegerField(
        default=100, help_text="Lower numbers are preferred when routing ties."
    )
    daily_capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Shipments per day; empty means unlimited."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RefdataManager()  # queryset writes invalidate the cache (oms.refdata)

    class Meta:
        ordering = ["priority", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
                name="location_coordinates_both_or_neither",
                violation_error_message="Latitude and longitude are both set or both empty.",
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="location_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="location_longitude_range",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=LocationKind.values), name="location_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


def validate_currency(value: str) -> None:
    if not (is_currency(value) and value == value.upper()):
        raise ValidationError(f"{value!r} is not an ISO 4217 currency code.")


class PaymentProvider(models.TextChoices):
    """Who took the shopper's money, and so who pays refunds back (returns.payments)."""

    CHANNEL = "channel", "The channel (its connector, or a task for staff)"
    STRIPE = "stripe", "Stripe"
    MANUAL = "manual", "Manual (cash or bank transfer, confirmed by staff)"


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


#: The languages shopper pages and e-mails are written in (settings.LANGUAGES, oms.i18n).
SHOPPER_LANGUAGES = [
    ("en", "English"),
    ("de", "German"),
    ("fr", "French"),
    ("nl", "Dutch"),
    ("es", "Spanish"),
]


class Channel(models.Model):
    """A sales channel: where orders come from and where stock is published.

    Invariants: a channel's code is unique; its currency is an ISO 4217 code; its credentials
    are stored encrypted and never leave the server (write-only in the admin and the API: pages
    and answers say whether they are set and which keys they hold, never a value); the stock
    buffer is never negative.

    It lives here, in the lowest pillar app, so that orders and fulfilment can point at it; its
    table is still `channels_channel` (the channels app created it and held the model until
    issue 15). The fields split in two:
    - the channel's identity and policy (code, name, kind, currency, locations, stock_buffer,
      is_active, send_emails, location_map, the return policy): reference data, read by every
      app and cached per process (oms.refdata);
    - the connector's data (credentials_encrypted, sync_interval_minutes, sync_overlap_minutes,
      sync_cursor, sync_next_at, sync_lease_until, sync_lease_holder, stock_push_lease_until):
      they belong to the channels app (its syncs, webhooks and stock pushes); only channels'
      services write them, and the cache defers them (CHANNEL_UNCACHED_FIELDS). Changing the
      credentials or the connection needs "channels.manage_channel_connections" (oms.roles).
    """

    code = models.CharField(max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    locations = models.ManyToManyField(
        Location,
        related_name="channels",
        blank=True,
        db_table="channels_channel_locations",
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
    payment_provider = models.CharField(
        max_length=12,
        choices=PaymentProvider.choices,
        default=PaymentProvider.CHANNEL,
        # A database default too: rows written by code older than the column (a rolling
        # deploy, a migration test's historical models) still get a valid provider.
        db_default=PaymentProvider.CHANNEL,
        help_text="Who took the money of this channel's orders and pays their refunds back.",
    )
    capture_on_shipment = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Orders arrive authorised; the OMS captures what ships when it ships and "
        "voids what is cancelled (payment service providers only).",
    )
    shipped_elsewhere_stock = models.CharField(
        "Stock of orders already shipped on the channel",
        max_length=8,
        choices=[
            ("none", "Take none of our stock"),
            ("take", "Take the units from the location they left"),
        ],
        default="none",
        db_default="none",
        help_text="An order already shipped on the channel when first imported is recorded as "
        "fulfilled outside the OMS, never shipped again. Its units come out of our stock only "
        "with “take”: from the location the channel names (through the location map), else "
        "the channel's only location.",
    )
    refund_restock = models.CharField(
        "Units of the channel's refunds",
        max_length=8,
        choices=[
            ("none", "Do not restock"),
            ("restock", "Put them back in stock"),
        ],
        default="none",
        db_default="none",
        help_text="For channels whose refunds do not say whether the refunded units came "
        "back (WooCommerce, eBay): with “Put them back in stock”, shipped units a refund "
        "names return on hand where they left from, once per refund. Shopify's refunds say "
        "it themselves (restock type) and are followed whatever this says.",
    )
    # Branding of what the shopper sees: the packing slip, the e-mails, the tracking page.
    merchant_name = models.CharField(
        max_length=255,
        blank=True,
        default="",
        db_default="",
        help_text="The shop name shoppers see on packing slips, e-mails and the tracking page "
        "(empty: the channel's name).",
    )
    logo_url = models.URLField(
        "Logo URL",
        max_length=500,
        blank=True,
        default="",
        db_default="",
        # Its own code: the field's "invalid" message would replace this one.
        validators=[
            URLValidator(schemes=["https"], message="Enter an https:// URL.", code="not_https")
        ],
        help_text="An https:// image shown on the e-mails and the tracking page (never fetched "
        "by the OMS: the shopper's browser or mail client loads it).",
    )
    language = models.CharField(
        "Shoppers' language",
        max_length=5,
        choices=SHOPPER_LANGUAGES,
        default="en",
        db_default="en",
        help_text="The language of the tracking page, return pages and e-mails of this channel's "
        "orders, unless an order names its own (Shopify's customer locale).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RefdataManager()  # queryset writes invalidate the cache (oms.refdata)

    class Meta:
        db_table = "channels_channel"  # created by the channels app, which held the model
        ordering = ["code"]
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
            models.CheckConstraint(
                condition=Q(payment_provider__in=PaymentProvider.values),
                name="channel_payment_provider_valid",
            ),
            models.CheckConstraint(
                condition=Q(shipped_elsewhere_stock__in=["none", "take"]),
                name="channel_shipped_elsewhere_stock_valid",
            ),
            models.CheckConstraint(
                condition=Q(refund_restock__in=["none", "restock"]),
                name="channel_refund_restock_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def display_name(self) -> str:
        """The name shoppers see: the merchant name, else the channel's name."""
        return self.merchant_name.strip() or self.name

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)

    def credentials(self) -> dict[str, Any]:
        """The decrypted credentials, for adapters only: never shown, logged or returned."""
        return decrypt_json(self.credentials_encrypted)

    def credential_keys(self) -> list[str]:
        """The names of the stored credentials (e.g. access_token), never their values."""
        return sorted(self.credentials())


class SkuPrice(models.Model):
    """A SKU's current selling price in a currency: on one channel (its price list), or its
    default price (no channel). Read when an order is priced from the catalogue (a
    subscription line on "current price"): the channel's price first, then the default."""

    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="prices")
    channel = models.ForeignKey(
        "Channel",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sku_prices",
        help_text="Empty: the SKU's default price on every channel without a price of its own.",
    )
    currency = models.CharField(max_length=3, help_text="ISO 4217")
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "SKU price"
        ordering = ["sku_id", "channel_id", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["sku", "channel", "currency"],
                condition=Q(channel__isnull=False),
                name="sku_price_once_per_channel",
            ),
            models.UniqueConstraint(
                fields=["sku", "currency"],
                condition=Q(channel__isnull=True),
                name="sku_price_default_once",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="sku_price_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.sku_id} {self.amount} {self.currency}"


class StockLevel(models.Model):
    """The quantities of one SKU at one location; changed only together with a StockMovement.

    available = max(0, on_hand - reserved - safety_stock). `allow_backorder` mirrors the SKU's
    flag so that the database itself can check `reserved <= on_hand` for everything else.
    `quarantined` units are at the location but not sellable (returns awaiting inspection).
    """

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="stock_levels")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="stock_levels")
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    quarantined = models.IntegerField(default=0)
    safety_stock = models.PositiveIntegerField(default=0)
    reorder_point = models.PositiveIntegerField(default=0)
    allow_backorder = models.BooleanField(default=False, editable=False)
    needs_count = models.BooleanField(
        default=False, help_text="Flagged for a cycle count (e.g. after a short pick)."
    )
    bin = models.CharField(
        max_length=32,
        blank=True,
        help_text="Where it sits in the location (aisle-rack-shelf); pick lists walk in bin order.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku__code", "location__code"]
        constraints = [
            models.UniqueConstraint(fields=["sku", "location"], name="stock_level_unique_pair"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_not_negative"),
            models.CheckConstraint(
                condition=Q(reserved__gte=0), name="stock_reserved_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(quarantined__gte=0), name="stock_quarantined_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(allow_backorder=True) | Q(reserved__lte=models.F("on_hand")),
                name="stock_reserved_within_on_hand",
            ),
        ]
        indexes = [models.Index(fields=["location", "sku"], name="stock_level_location_sku")]

    def __str__(self) -> str:
        return f"{self.sku_id}@{self.location_id}: {self.on_hand}/{self.reserved}"

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    COUNT = "count", "Cycle count"
    DAMAGE = "damage", "Damage / write-off"
    CORRECTION = "correction", "Correction"
    RESERVATION = "reservation", "Reservation"
    RELEASE = "release", "Release"
    SHIPMENT = "shipment", "Shipment"
    RETURN_RESTOCK = "return_restock", "Return restocked"
    QUARANTINE = "quarantine", "Quarantine"
    TRANSFER_OUT = "transfer_out", "Transfer out"
    TRANSFER_IN = "transfer_in", "Transfer in"


class StockMovement(models.Model):
    """The immutable ledger: every change of a StockLevel quantity is one row here.

    The sum of the deltas of a (sku, location) equals its level at every moment; `created_at`
    orders history (it may be set in the past only when history is imported).
    References to orders, lines, shipments and returns are ids, not foreign keys, because those
    apps sit above inventory.
    """

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="movements")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=20, choices=MovementKind.choices)
    on_hand_delta = models.IntegerField(default=0)
    reserved_delta = models.IntegerField(default=0)
    quarantined_delta = models.IntegerField(default=0)
    order_id = models.BigIntegerField(null=True, blank=True)
    order_line_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    shipment_id = models.BigIntegerField(null=True, blank=True)
    return_id = models.BigIntegerField(null=True, blank=True)
    transfer = models.ForeignKey(
        "Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="movements"
    )
    actor = models.CharField(max_length=150, default="system")
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=MovementKind.values), name="stock_movement_kind_valid"
            ),
            # Only a count may change nothing: it records that the figure was confirmed.
            models.CheckConstraint(
                condition=Q(kind="count")
                | ~Q(on_hand_delta=0, reserved_delta=0, quarantined_delta=0),
                name="stock_movement_changes_something",
            ),
        ]
        indexes = [
            models.Index(fields=["sku", "location", "created_at"], name="movement_pair_time"),
            models.Index(fields=["created_at"], name="movement_time"),
            models.Index(fields=["kind", "created_at"], name="movement_kind_time"),
        ]

    def __str__(self) -> str:
        deltas = f"{self.on_hand_delta:+}/{self.reserved_delta:+}/{self.quarantined_delta:+}"
        return f"{self.kind} {self.sku_id}@{self.location_id} {deltas}"


class Reservation(models.Model):
    """Stock of one order line held at one location (Saleor's Allocation).

    `quantity` is what is still held: it goes down on release and when the units ship.
    """

    order_id = models.BigIntegerField(db_index=True)
    order_line_id = models.BigIntegerField()
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="reservations")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="reservations")
    quantity = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order_line_id", "location"], name="reservation_unique_line_location"
            ),
        ]

    def __str__(self) -> str:
        return f"line {self.order_line_id} @ {self.location_id}: {self.quantity}"


class TransferStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_TRANSIT = "in_transit", "In transit"
    RECEIVED = "received", "Received"
    CANCELLED = "cancelled", "Cancelled"


class Transfer(models.Model):
    """Stock moved between two locations; in transit it is at neither."""

    from_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="transfers_out"
    )
    to_location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="transfers_in")
    status = models.CharField(
        max_length=16, choices=TransferStatus.choices, default=TransferStatus.DRAFT
    )
    reference = models.CharField(max_length=64, blank=True)
    created_by = models.CharField(max_length=150, default="system")
    created_at = models.DateTimeField(auto_now_add=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    expected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_location=models.F("to_location")),
                name="transfer_between_two_locations",
                violation_error_message="A transfer goes between two different locations.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=TransferStatus.values), name="transfer_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"TR-{self.pk} {self.from_location_id}->{self.to_location_id} ({self.status})"


class TransferLine(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="lines")
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="transfer_lines")
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["transfer", "sku"], name="transfer_line_unique_sku"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transfer_line_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.sku_id} x {self.quantity}"


class StockForecast(models.Model):
    """The latest demand forecast of a SKU at a location, or across the network (location empty).

    Demand is the units that left stock for customers (shipment movements). Recomputed nightly;
    `wape` is the weighted absolute percentage error of this method, backtested on past weeks.
    """

    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="forecasts")
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="forecasts"
    )
    computed_at = models.DateTimeField()
    velocity_7 = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    velocity_28 = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    velocity_90 = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    velocity = models.DecimalField(
        max_digits=12, decimal_places=3, default=0, help_text="Units per day used for the forecast."
    )
    on_hand = models.IntegerField(default=0)
    available = models.IntegerField(default=0)
    incoming = models.IntegerField(default=0)
    days_of_cover = models.DecimalField(max_digits=10, decimal_places=1, null=True, blank=True)
    stockout_date = models.DateField(null=True, blank=True)
    reorder_quantity = models.PositiveIntegerField(default=0)
    wape = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    backtest_weeks = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sku", "location"],
                condition=Q(location__isnull=False),
                name="forecast_unique_sku_location",
            ),
            models.UniqueConstraint(
                fields=["sku"], condition=Q(location__isnull=True), name="forecast_unique_network"
            ),
        ]

    def __str__(self) -> str:
        return f"forecast {self.sku_id}@{self.location_id or 'network'}"
