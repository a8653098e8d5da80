"""Asking the workers to sync or push a channel: the one place that writes those tasks.

Invariants: every request goes through the outbox (oms.outbox), so it survives a broker that is
down and is published once the caller's transaction commits; one pending request per channel
and kind of work (a dedupe key): asking twice before a worker starts is one run; only channels
with a connector are asked (ValidationFailed `no_connector` otherwise), and only active ones
(an inactive channel is never synced: ChannelInactive, 409 `channel_inactive`, rather than a
run that silently does nothing).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from channels.adapters import ADAPTERS
from channels.states import SyncTrigger
from inventory.models import Channel
from oms.errors import ChannelInactive, ValidationFailed
from oms.outbox import outbox_enqueue

SYNC_TASK = "channels.sync"
PUSH_TASK = "channels.stock_push"


def _connector_required(channel: Channel) -> None:
    if channel.kind not in ADAPTERS:
        raise ValidationFailed(
            f"A {channel.get_kind_display()} channel has no connector.", code="no_connector"
        )


def channel_sync_request(*, channel: Channel, trigger: str = SyncTrigger.MANUAL) -> None:
    """Queue a sync of the channel's orders. Raises ValidationFailed (no connector),
    ChannelInactive."""
    _connector_required(channel)
    if not channel.is_active:
        raise ChannelInactive(f"Channel {channel.code!r} is inactive: it is not synced.")
    outbox_enqueue(
        SYNC_TASK, channel_id=channel.pk, trigger=trigger, dedupe_key=f"{SYNC_TASK}:{channel.pk}"
    )


def channels_sync_request(
    *, channel_ids: Iterable[int], trigger: str = SyncTrigger.SCHEDULE, deep: bool = False
) -> int:
    """Queue a sync of each channel (the beat fan-out); returns how many were queued."""
    queued = 0
    kind = "deep" if deep else "sync"
    with transaction.atomic():
        for channel_id in channel_ids:
            queued += (
                outbox_enqueue(
                    SYNC_TASK,
                    channel_id=channel_id,
                    trigger=trigger,
                    deep=deep,
                    dedupe_key=f"channels.{kind}:{channel_id}",
                )
                is not None
            )
    return queued


def channel_stock_push_request(*, channel: Channel) -> None:
    """Queue a push of the channel's pending availability. Raises ValidationFailed."""
    _connector_required(channel)
    outbox_enqueue(PUSH_TASK, channel_id=channel.pk, dedupe_key=f"{PUSH_TASK}:{channel.pk}")


def channels_stock_push_request(*, channel_ids: Iterable[int]) -> int:
    queued = 0
    with transaction.atomic():
        for channel_id in channel_ids:
            queued += (
                outbox_enqueue(
                    PUSH_TASK, channel_id=channel_id, dedupe_key=f"{PUSH_TASK}:{channel_id}"
                )
                is not None
            )
    return queued


def channel_stock_reconcile_request(*, channel: Channel) -> int:
    """Mark every SKU pending for the channel and queue the push; returns how many SKUs."""
    from channels.services.push import channel_stock_reconcile

    _connector_required(channel)
    with transaction.atomic():
        marked = channel_stock_reconcile(channel=channel)
        channel_stock_push_request(channel=channel)
    return marked


def channels_stock_reconcile_all() -> int:
    """Nightly: every connected channel is sent every SKU."""
    from channels.services.push import channel_stock_reconcile

    marked = 0
    connected = Channel.objects.filter(is_active=True, kind__in=list(ADAPTERS)).exclude(
        credentials_encrypted=""
    )
    for channel in connected:
        with transaction.atomic():
            marked += channel_stock_reconcile(channel=channel)
            channel_stock_push_request(channel=channel)
    return marked
