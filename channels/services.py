"""Every write of the channels app.

Invariants: credentials are encrypted before they are stored and are never returned; the
locations feeding a channel are set in the same transaction as the channel itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from channels.models import Channel
from inventory.models import Location
from oms.crypto import encrypt_json
from oms.services import model_create, model_update

CHANNEL_UPDATABLE = ("name", "kind", "currency", "stock_buffer", "is_active")


@transaction.atomic
def channel_create(
    *,
    code: str,
    name: str,
    kind: str,
    currency: str,
    locations: Iterable[Location] = (),
    stock_buffer: int = 0,
    is_active: bool = True,
    credentials: Mapping[str, Any] | None = None,
) -> Channel:
    """Create a channel with the locations feeding it. Raises ValidationFailed, Conflict."""
    channel = model_create(
        Channel,
        data={
            "code": code,
            "name": name,
            "kind": kind,
            "currency": currency.upper(),
            "stock_buffer": stock_buffer,
            "is_active": is_active,
            "credentials_encrypted": encrypt_json(dict(credentials or {})),
        },
    )
    channel.locations.set(list(locations))
    return channel


@transaction.atomic
def channel_update(*, channel: Channel, data: Mapping[str, Any]) -> Channel:
    """Change a channel; `locations` replaces the set, `credentials` replaces the secret.

    Raises ValidationFailed.
    """
    data = dict(data)
    if "currency" in data:
        data["currency"] = str(data["currency"]).upper()
    channel, _ = model_update(instance=channel, fields=CHANNEL_UPDATABLE, data=data)
    if "credentials" in data:
        channel_set_credentials(channel=channel, credentials=data["credentials"] or {})
    if "locations" in data:
        channel.locations.set(list(data["locations"]))
    return channel


def channel_set_credentials(*, channel: Channel, credentials: Mapping[str, Any]) -> Channel:
    """Replace the channel's stored credentials (an empty mapping clears them)."""
    channel.credentials_encrypted = encrypt_json(dict(credentials))
    channel.save(update_fields=["credentials_encrypted", "updated_at"])
    return channel
