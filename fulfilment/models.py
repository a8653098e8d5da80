"""Routing rules, shipments and their lines, parcels, routing decisions, geocoding centroids
and the delivery-promise tables.

Invariants: a shipment line never holds more than its order line has allocated, picked never
exceeds the line's quantity and packed never exceeds picked; every routing decision is stored
with its explanation.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import F, Q

from fulfilment.states import ShipmentStatus
from inventory.models import Channel, Location
from oms.refdata import RefdataManager
from orders.models import Order, OrderLine


class RuleKind(models.TextChoices):
    EXCLUDE = "exclude", "Exclude these locations"
    ONLY = "only", "Only these locations"
    PRIORITY = "priority", "Override the priority of these locations"
    SPLITS = "splits", "Split policy"
    SERVES = "serves", "3PL location serves only these countries"


class ShortagePolicy(models.TextChoices):
    BACKORDER = "backorder", "Allocate what can be, backorder the rest"
    HOLD = "hold", "Hold the order for customer care"


class RoutingRule(models.Model):
    """One ordered rule; it applies when its channel and country match (empty matches all)."""

    position = models.PositiveSmallIntegerField(default=100)
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    countries = models.CharField(
        max_length=500, blank=True, help_text="ISO codes separated by commas; empty = any."
    )
    kind = models.CharField(max_length=16, choices=RuleKind.choices)
    locations = models.ManyToManyField(Location, blank=True, related_name="routing_rules")
    priority = models.SmallIntegerField(null=True, blank=True)
    allow_split = models.BooleanField(null=True, blank=True)
    max_splits = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Most shipments per order (1 = never split)."
    )
    on_shortage = models.CharField(max_length=16, choices=ShortagePolicy.choices, blank=True)

    objects = RefdataManager()  # queryset writes invalidate the cache (oms.refdata)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def country_list(self) -> list[str]:
        return [c.strip().upper() for c in self.countries.split(",") if c.strip()]


class Shipment(models.Model):
    """What one location sends for one order (a fulfilment order)."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="shipments")
    status = models.CharField(
        max_length=16, choices=ShipmentStatus.choices, default=ShipmentStatus.PENDING
    )
    carrier = models.CharField(max_length=32, blank=True)
    service = models.CharField(max_length=64, blank=True)
    tracking_number = models.CharField(max_length=64, blank=True, db_index=True)
    tracking_url = models.URLField(blank=True)
    expected_ship_date = models.DateField(null=True, blank=True)
    expected_delivery_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    picked_at = models.DateTimeField(null=True, blank=True)
    packed_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    decision = models.ForeignKey(
        "RoutingDecision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    needs_attention = models.BooleanField(default=False, db_index=True)
    attention_message = models.CharField(
        max_length=500, blank=True, help_text="Why staff must look (a carrier's refusal, ...)."
    )
    tracking_status = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ShipmentStatus.values), name="shipment_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["location", "status", "created_at"], name="shipment_queue"),
        ]

    def __str__(self) -> str:
        return f"SH-{self.pk} ({self.get_status_display().lower()})"


class PackProgress(models.Model):
    """What the pack station has scanned of a shipment so far, per SKU code: kept on the server
    so that a reload, another browser or the next shift resumes where the packer stopped. Only
    counts; nothing is recorded on the shipment until it is packed (which deletes this row)."""

    shipment = models.OneToOneField(
        Shipment, on_delete=models.CASCADE, primary_key=True, related_name="pack_progress"
    )
    scanned = models.JSONField(default=dict, blank=True)
    updated_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Pack progress of SH-{self.pk}"


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        OrderLine, on_delete=models.PROTECT, related_name="shipment_lines"
    )
    quantity = models.PositiveIntegerField()
    quantity_picked = models.PositiveIntegerField(default=0)
    quantity_packed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["shipment_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "order_line"], name="shipment_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="shipment_line_positive"),
            models.CheckConstraint(
                condition=Q(quantity_picked__lte=F("quantity")), name="shipment_picked_le_qty"
            ),
            models.CheckConstraint(
                condition=Q(quantity_packed__lte=F("quantity_picked")),
                name="shipment_packed_le_picked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id} x {self.quantity}"

    @property
    def bought_name(self) -> str:
        """The name the shopper bought (the order line's, as the channel sent it), the
        catalogue's only where the line has none: the shipment page and the packing slip say
        what the shopper ordered, not what the catalogue calls the SKU today."""
        line = self.order_line
        return line.name or (line.sku.name if line.sku else "")


class Parcel(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="parcels")
    weight_grams = models.PositiveIntegerField()
    length_mm = models.PositiveIntegerField(null=True, blank=True)
    width_mm = models.PositiveIntegerField(null=True, blank=True)
    height_mm = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"parcel {self.pk} {self.weight_grams} g"


class RoutingDecision(models.Model):
    """Why an order went where it went: candidates, distances, availability and the choice."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="routing_decisions")
    trigger = models.CharField(max_length=32)
    outcome = models.CharField(max_length=32)
    explanation = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.outcome} ({self.trigger})"


class GeoCentroid(models.Model):
    """An admin-maintained centre for a postal prefix, city or region of a country."""

    country = models.CharField(max_length=2)
    postal_prefix = models.CharField(max_length=16, blank=True)
    city = models.CharField(max_length=128, blank=True)
    region = models.CharField(max_length=128, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6)
    longitude = models.DecimalField(max_digits=9, decimal_places=6)

    objects = RefdataManager()  # queryset writes invalidate the cache (oms.refdata)

    class Meta:
        indexes = [models.Index(fields=["country", "postal_prefix"], name="geo_country_prefix")]

    def __str__(self) -> str:
        key = self.postal_prefix or self.city or self.region
        return f"{self.country} {key}"


class LocationSchedule(models.Model):
    """When a location ships: handling days and the daily cut-off (orders after it ship later)."""

    location = models.OneToOneField(Location, on_delete=models.CASCADE, related_name="schedule")
    handling_days = models.PositiveSmallIntegerField(default=0)
    cutoff = models.TimeField(default=dt.time(14, 0))
    timezone = models.CharField(max_length=64, default="UTC")
    works_saturday = models.BooleanField(default=False)

    objects = RefdataManager()  # queryset writes invalidate the cache (oms.refdata)

    def __str__(self) -> str:
        return f"{self.location_id}: +{self.handling_days}d, cut-off {self.cutoff}"


class TransitTime(models.Model):
    """Business days in transit for a carrier service, by distance band (km)."""

    carrier = models.CharField(max_length=32)
    service = models.CharField(max_length=64)
    max_km = models.PositiveIntegerField(help_text="Applies up to this distance.")
    days = models.PositiveSmallIntegerField()
    is_default = models.BooleanField(default=False, help_text="Used for promises.")

    objects = RefdataManager()  # queryset writes invalidate the cache (oms.refdata)

    class Meta:
        ordering = ["carrier", "service", "max_km"]
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "service", "max_km"], name="transit_time_unique_band"
            )
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.service} <= {self.max_km} km: {self.days} d"


class Holiday(models.Model):
    """A day a country's carriers and warehouses do not work."""

    country = models.CharField(max_length=2)
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    objects = RefdataManager()  # queryset writes invalidate the cache (oms.refdata)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["country", "date"], name="holiday_unique")]

    def __str__(self) -> str:
        return f"{self.country} {self.date} {self.name}"


class TrackingStatus(models.TextChoices):
    PRE_TRANSIT = "pre_transit", "Label created"
    IN_TRANSIT = "in_transit", "In transit"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    EXCEPTION = "exception", "Exception"
    RETURNED = "returned", "Returned to sender"


class ShippingLabel(models.Model):
    """The carrier's label of one parcel: bought once (unique per parcel), kept as PDF and ZPL."""

    parcel = models.OneToOneField(Parcel, on_delete=models.PROTECT, related_name="label")
    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="labels")
    carrier = models.CharField(max_length=32)
    service = models.CharField(max_length=64)
    tracking_number = models.CharField(max_length=64, db_index=True)
    carrier_reference = models.CharField(max_length=128, blank=True)
    sscc = models.CharField(max_length=18, blank=True)
    pdf = models.BinaryField()
    zpl = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}"


class TrackingEvent(models.Model):
    """One carrier scan of a shipment, normalised; the same carrier event is stored once."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="tracking_events")
    external_id = models.CharField(max_length=128, help_text="The carrier's id of the event.")
    status = models.CharField(max_length=20, choices=TrackingStatus.choices)
    description = models.CharField(max_length=255, blank=True)
    place = models.CharField(max_length=128, blank=True)
    occurred_at = models.DateTimeField()
    raw = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "external_id"], name="tracking_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id} {self.status} {self.occurred_at:%Y-%m-%d %H:%M}"


class ThirdPartyPartner(models.Model):
    """How a 3PL location receives its shipments: a signed JSON webhook (Standard Webhooks)."""

    location = models.OneToOneField(Location, on_delete=models.CASCADE, related_name="partner")
    name = models.CharField(max_length=100)
    endpoint = models.URLField()
    secret_encrypted = models.TextField(blank=True, editable=False)
    countries = models.CharField(max_length=500, blank=True, help_text="ISO codes it serves.")
    is_active = models.BooleanField(default=True)

    objects = RefdataManager()  # queryset writes invalidate the cache (oms.refdata)

    def __str__(self) -> str:
        return self.name
