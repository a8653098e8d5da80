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
