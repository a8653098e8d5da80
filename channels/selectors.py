"""Reads of the channels app shared by the API, the admin and tasks.

Invariant: a channel's available quantity of a SKU is the sum over its active locations of
max(0, on_hand - reserved - safety_stock), less the channel's buffer, never below zero; it is
computed for any number of SKUs in a constant number of queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch, QuerySet

from channels.models import ChannelStockChange
from inventory.models import Channel, Location, Sku, StockLevel
from inventory.selectors import available_expression


def channel_list() -> QuerySet[Channel]:
    return Channel.objects.prefetch_related(
        Prefetch("locations", queryset=Location.objects.only("id", "code").order_by("code"))
    )


@dataclass
class SkuAvailability:
    sku_id: int
    sku: str
    available: int = 0
    locations: list[tuple[str, int]] = field(default_factory=list)


def channel_availability(*, channel: Channel, skus: Sequence[Sku]) -> list[SkuAvailability]:
    """What the channel may sell of each SKU, with the per-location figures (2 queries)."""
    locations = list(channel.locations.filter(is_active=True).order_by("code"))
    codes = {loc.pk: loc.code for loc in locations}
    result = {sku.pk: SkuAvailability(sku_id=sku.pk, sku=sku.code) for sku in skus}
    per_location: dict[int, dict[int, int]] = {pk: {} for pk in result}
    levels = (
        StockLevel.objects.filter(sku_id__in=list(result), location_id__in=list(codes))
        .annotate(free=available_expression())
        .values_list("sku_id", "location_id", "free")
        .order_by()  # no join or sort for the model's default ordering
    )
    for sku_id, location_id, free in levels:
        per_location[sku_id][location_id] = int(free)
    for sku_id, row in result.items():
        figures = per_location[sku_id]
        row.locations = [(codes[pk], figures.get(pk, 0)) for pk in codes]
        row.available = max(0, sum(figures.values()) - channel.stock_buffer)
    return [result[sku.pk] for sku in skus]


def channel_stock_changes(
    *, channel: Channel, since: datetime | None = None, limit: int = 1000
) -> list[ChannelStockChange]:
    """The pending (changed, not yet pushed) SKUs of a channel, oldest first."""
    pending = ChannelStockChange.objects.filter(channel=channel).select_related("sku")
    if since is not None:
        pending = pending.filter(changed_at__gt=since)
    return list(pending.order_by("changed_at", "sku_id")[:limit])


# --- lags for /metrics (oms.metrics) ----------------------------------------------------------


def channel_sync_lags() -> list[tuple[tuple[str], float]]:
    """Per active channel with scheduled syncs: seconds since the start of its last successful
    sync (what it has of the channel's orders is at least that old; a channel never synced
    counts from its creation)."""
    from django.db.models import Max, Q
    from django.utils import timezone

    from channels.states import SyncStatus

    now = timezone.now()
    rows = (
        Channel.objects.filter(is_active=True, sync_interval_minutes__gt=0)
        .annotate(
            synced=Max(
                "sync_runs__started_at",
                filter=Q(sync_runs__status__in=(SyncStatus.SUCCEEDED, SyncStatus.PARTIAL)),
            )
        )
        .values_list("code", "synced", "created_at")
        .order_by("code")
    )
    return [
        ((code,), max((now - (synced or created)).total_seconds(), 0.0))
        for code, synced, created in rows
    ]


def channel_stock_push_lags() -> list[tuple[tuple[str], float]]:
    """Per active channel: seconds the oldest stock change not yet pushed has waited (0: the
    channel has every figure)."""
    from django.db.models import Min
    from django.utils import timezone

    now = timezone.now()
    oldest = dict(
        ChannelStockChange.objects.values_list("channel_id")
        .annotate(at=Min("changed_at"))
        .values_list("channel_id", "at")
    )
    return [
        ((code,), max((now - oldest[pk]).total_seconds(), 0.0) if pk in oldest else 0.0)
        for pk, code in Channel.objects.filter(is_active=True)
        .order_by("code")
        .values_list("pk", "code")
    ]
