"""The channels' figures on the operations home (oms.admin.home)."""

from __future__ import annotations

from django.urls import reverse

from channels.models import ChannelPush, ChannelSyncFailure
from channels.states import PushStatus
from oms.admin.home import Tile, home_tile

home_tile(
    Tile(
        "Channels",
        "Records not imported",
        lambda: ChannelSyncFailure.objects.filter(resolved=False).count(),
        lambda: reverse("admin:channels_channelsyncfailure_changelist") + "?resolved__exact=0",
        "channels.view_channelsyncfailure",
        help="Orders a channel sent that failed",
    )
)
home_tile(
    Tile(
        "Channels",
        "Pushes failed",
        lambda: ChannelPush.objects.filter(
            status__in=(PushStatus.FAILED, PushStatus.PARTIAL)
        ).count(),
        lambda: reverse("admin:channels_channelpush_changelist") + "?status__exact=failed",
        "channels.view_channelpush",
        help="Stock, tracking or refunds the channel refused",
    )
)
