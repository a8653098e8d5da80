"""The rollup tables the reports read: one row per day x channel (x location where it applies).

They hold what was counted, never ratios: a week or a month is the sum of its days, and every
rate, average or percentile is computed when the report is read (reports.selectors). Only
reports.services.refresh writes them (every minute from beat, `reports_refresh` for any range);
each day is recomputed whole from the source tables, so a refresh is idempotent.

Days are local dates in settings.TIME_ZONE. Which day a figure belongs to:

- sales, split and backorder counts: the day the order was placed;
- fulfilment: the day the shipment shipped (lead time order -> ship) or was delivered (lead time
  order -> delivery), short picks the day they happened;
- inventory: the day's closing stock from the ledger, the units shipped that day;
- returns: the day the order was placed (a cohort, so a return rate never exceeds 100 %);
  refunds the day they were requested;
- channels: the day a sync run started, a push was made, an order arrived.

Every relation is `related_name="+"`: the apps below never see the reports.
"""

from __future__ import annotations

from django.db import models

from fulfilment.models import RuleKind, ShortagePolicy
from inventory.models import Channel, Location
from subscriptions.models import Subscription


def _channel() -> models.ForeignKey[Channel, Channel]:
    return models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")


def _location() -> models.ForeignKey[Location, Location]:
    return models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+")


def _money() -> models.DecimalField[object, object]:
    return models.DecimalField(max_digits=18, decimal_places=4, default=0)


class RefreshState(models.Model):
    """Where the incremental refresh stands (one row, name "rollups")."""

    name = models.CharField(max_length=32, unique=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    days = models.PositiveIntegerField(default=0, help_text="Days recomputed by the last run.")

    def __str__(self) -> str:
        return f"{self.name} {self.finished_at}"


class SalesDay(models.Model):
    """Orders placed on a day through a channel (cancelled ones left out)."""

    day = models.DateField()
    channel = _channel()
    orders = models.PositiveIntegerField(default=0)
    units = models.PositiveIntegerField(default=0)
    #: The total of the orders in the base currency (orders still waiting for a rate: none).
    revenue = _money()
    unconverted = models.PositiveIntegerField(
        default=0, help_text="Orders without a base-currency total yet (not in revenue)."
    )
    orders_split = models.PositiveIntegerField(default=0, help_text="More than one shipment.")
    orders_backordered = models.PositiveIntegerField(
        default=0, help_text="Routing found not enough stock at least once."
    )
    backorders_open = models.PositiveIntegerField(default=0, help_text="Backordered still now.")

    class Meta:
        verbose_name = "sales report"
        verbose_name_plural = "sales"
        constraints = [
            models.UniqueConstraint(fields=["day", "channel"], name="report_sales_day_unique")
        ]

    def __str__(self) -> str:
        return f"sales {self.day} {self.channel_id}"


class FulfilmentDay(models.Model):
    day = models.DateField()
    channel = _channel()
    location = _location()
    shipped = models.PositiveIntegerField(default=0)
    shipped_promised = models.PositiveIntegerField(default=0, help_text="With a promised date.")
    shipped_on_time = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    delivered_promised = models.PositiveIntegerField(default=0)
    delivered_on_time = models.PositiveIntegerField(default=0)
    units_short = models.PositiveIntegerField(default=0, help_text="Units not found at picking.")

    class Meta:
        verbose_name = "fulfilment report"
        verbose_name_plural = "fulfilment"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "channel", "location"], name="report_fulfilment_day_unique"
            )
        ]

    def __str__(self) -> str:
        return f"fulfilment {self.day} {self.channel_id} {self.location_id}"


class LeadKind(models.TextChoices):
    SHIP = "ship", "Order to ship"
    DELIVER = "deliver", "Order to delivery"


class LeadTimeBucket(models.Model):
    """How many shipments took `hours` whole hours (rounded down) from order to ship or
    delivery: a histogram from which any period's percentiles are read."""

    day = models.DateField()
    channel = _channel()
    location = _location()
    kind = models.CharField(max_length=8, choices=LeadKind.choices)
    hours = models.PositiveIntegerField()
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "channel", "location", "kind", "hours"],
                name="report_lead_time_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.day} {self.hours}h x{self.count}"


class InventoryDay(models.Model):
    """A location's stock at the end of a day (from the ledger) and what shipped from it."""

    day = models.DateField()
    location = _location()
    skus = models.PositiveIntegerField(default=0, help_text="SKUs stocked here (in the ledger).")
    skus_out = models.PositiveIntegerField(default=0, help_text="Of which none on hand.")
    skus_dead = models.PositiveIntegerField(
        default=0, help_text="On hand, yet nothing shipped in the 90 days to this one."
    )
    on_hand = models.IntegerField(default=0)
    units_sold = models.PositiveIntegerField(default=0)
    #: The day's forecast (the forecast method's velocity from the days before) and its error.
    forecast = models.DecimalField(max_digits=16, decimal_places=3, default=0)
    forecast_error = models.DecimalField(max_digits=16, decimal_places=3, default=0)

    class Meta:
        verbose_name = "inventory report"
        verbose_name_plural = "inventory"
        constraints = [
            models.UniqueConstraint(fields=["day", "location"], name="report_inventory_day_unique")
        ]

    def __str__(self) -> str:
        return f"inventory {self.day} {self.location_id}"


class ReturnSkuDay(models.Model):
    """Per SKU, of the orders placed on a day: units shipped, returned, restocked, written off."""

    day = models.DateField()
    channel = _channel()
    sku_code = models.CharField(max_length=64)
    units_shipped = models.PositiveIntegerField(default=0)
    units_returned = models.PositiveIntegerField(default=0)
    units_restocked = models.PositiveIntegerField(default=0)
    units_written_off = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "returns report"
        verbose_name_plural = "returns"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "channel", "sku_code"], name="report_return_sku_day_unique"
            )
        ]

    def __str__(self) -> str:
        return f"returns {self.day} {self.channel_id} {self.sku_code}"


class ReturnReasonDay(models.Model):
    day = models.DateField()
    channel = _channel()
    reason = models.CharField(max_length=32)
    returns = models.PositiveIntegerField(default=0)
    units = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "channel", "reason"], name="report_return_reason_day_unique"
            )
        ]

    def __str__(self) -> str:
        return f"reasons {self.day} {self.channel_id} {self.reason}"


class RefundDay(models.Model):
    """Refunds that succeeded, by the day they were requested, in the base currency."""

    day = models.DateField()
    channel = _channel()
    refunds = models.PositiveIntegerField(default=0)
    amount = _money()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "channel"], name="report_refund_day_unique")
        ]

    def __str__(self) -> str:
        return f"refunds {self.day} {self.channel_id}"


class ChannelDay(models.Model):
    day = models.DateField()
    channel = _channel()
    sync_runs = models.PositiveIntegerField(default=0)
    sync_runs_failed = models.PositiveIntegerField(default=0)
    failed_records = models.PositiveIntegerField(default=0)
    pushes = models.PositiveIntegerField(default=0)
    pushes_failed = models.PositiveIntegerField(default=0, help_text="Failed or partly failed.")
    #: Sync lag: from an order's placing on the channel to its arrival in the OMS.
    lag_orders = models.PositiveIntegerField(default=0)
    lag_seconds = models.BigIntegerField(default=0, help_text="Sum over the orders.")
    lag_seconds_max = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "channels report"
        verbose_name_plural = "channels"
        constraints = [
            models.UniqueConstraint(fields=["day", "channel"], name="report_channel_day_unique")
        ]

    def __str__(self) -> str:
        return f"channel {self.day} {self.channel_id}"


# --- what-if routing (reports.whatif) --------------------------------------------------------


class DraftStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class RoutingDraft(models.Model):
    """A routing configuration being tried: rules and location settings copied from the live
    ones, changed by staff, replayed on past orders (WhatIfRun) and maybe published.
    `based_on` is the fingerprint of the live configuration it was copied from
    (fulfilment.services.routing_config): publishing is refused once that changed."""

    name = models.CharField(max_length=100)
    status = models.CharField(
        max_length=16, choices=DraftStatus.choices, default=DraftStatus.DRAFT, editable=False
    )
    based_on = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True, editable=False)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    published_by = models.CharField(max_length=150, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        verbose_name = "what-if routing draft"
        permissions = [
            (
                "manage_routing_drafts",
                "Can make routing drafts, replay them on past orders and publish them",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DraftStatus.values), name="routing_draft_status"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class DraftRule(models.Model):
    """A routing rule of a draft: the fields of fulfilment.RoutingRule, read by routing the
    same way (fulfilment.services.routing.Rule)."""

    draft = models.ForeignKey(RoutingDraft, on_delete=models.CASCADE, related_name="rules")
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
    locations = models.ManyToManyField(Location, blank=True, related_name="+")
    priority = models.SmallIntegerField(null=True, blank=True)
    allow_split = models.BooleanField(null=True, blank=True)
    max_splits = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Most shipments per order (1 = never split)."
    )
    on_shortage = models.CharField(max_length=16, choices=ShortagePolicy.choices, blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def country_list(self) -> list[str]:
        return [c.strip().upper() for c in self.countries.split(",") if c.strip()]


class DraftLocation(models.Model):
    """A location's routing settings in a draft: off (no online orders) or on, its capacity."""

    draft = models.ForeignKey(RoutingDraft, on_delete=models.CASCADE, related_name="locations")
    location = _location()
    ships_online = models.BooleanField(default=True)
    daily_capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Shipments a day; empty = unlimited."
    )

    class Meta:
        ordering = ["location__code"]
        constraints = [
            models.UniqueConstraint(fields=["draft", "location"], name="draft_location_unique")
        ]

    def __str__(self) -> str:
        return f"{self.draft_id} {self.location_id}"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WhatIfRun(models.Model):
    """A replay of the orders of [start, end] with the live rules and with a draft's: the
    progress while it runs, the comparison (`result`) when done. Writes nothing else."""

    draft = models.ForeignKey(RoutingDraft, on_delete=models.CASCADE, related_name="runs")
    start = models.DateField()
    end = models.DateField()
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    orders_total = models.PositiveIntegerField(default=0)
    orders_done = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "what-if run"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=RunStatus.values), name="whatif_run_status"
            ),
            models.CheckConstraint(
                condition=models.Q(start__lte=models.F("end")), name="whatif_run_range"
            ),
        ]

    def __str__(self) -> str:
        return f"what-if {self.pk} {self.start}..{self.end} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == RunStatus.SUCCEEDED:
            return 100
        return self.orders_done * 100 // self.orders_total if self.orders_total else 0


class SubscriptionReport(Subscription):
    """The subscriptions report's page in the back office (no table of its own: the report
    reads the subscriptions, reports.selectors.subscriptions)."""

    class Meta:
        proxy = True
        verbose_name = "subscriptions report"
        verbose_name_plural = "subscriptions"
