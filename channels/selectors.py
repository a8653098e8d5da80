"""Reads of the channels app shared by the API, the admin and tasks."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from channels.models import Channel
from inventory.models import Location


def channel_list() -> QuerySet[Channel]:
    return Channel.objects.prefetch_related(
        Prefetch("locations", queryset=Location.objects.only("id", "code").order_by("code"))
    )
