"""Every write of the channels app.

Invariants: credentials are encrypted before they are stored and are never returned; the
locations feeding a channel are set in the same transaction as the channel itself; every stock
change at a location marks the SKU as pending for each channel that location feeds, in the same
transaction, so no availability change escapes the stock push.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from channels.models import ChannelStockChange
from inventory.events import StockChanged
from inventory.models import Channel, Location
from oms.crypto import encrypt_json
from oms.errors import ValidationFailed
from oms.services import model_create, model_update

CHANNEL_UPDATABLE = (
    "name",
    "kind",
    "currency",
    "stock_buffer",
    "is_active",
    "send_emails",
    "location_map",
    "sync_interval_minutes",
    "sync_overlap_minutes",
    "return_window_days",
    "returns_auto_authorise",
    "refund_basis",
    "exchange_timing",
    "payment_provider",
    "capture_on_shipment",
    "shipped_elsewhere_stock",
    "refund_restock",
    "merchant_name",
    "logo_url",
    "language",
)
#: Settings a channel may be created with besides its identity (all have defaults).
CHANNEL_SETTINGS = CHANNEL_UPDATABLE[5:]


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
    **settings: Any,
) -> Channel:
    """Create a channel with the locations feeding it. Raises ValidationFailed, Conflict."""
    unknown = set(settings) - set(CHANNEL_SETTINGS)
    if unknown:
        raise TypeError(f"Unknown channel settings: {', '.join(sorted(unknown))}")
    channel = model_create(
        Channel,
        data={
            **settings,
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
    Its `kind` never changes (its connector, credentials and orders depend on it).

    Raises ValidationFailed.
    """
    data = dict(data)
    if "kind" in data and data["kind"] != channel.kind:
        raise ValidationFailed(
            "A channel's kind cannot be changed after creation.",
            errors={"kind": [f"It stays {channel.kind!r}: create a new channel for another kind."]},
        )
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


def channel_stock_mark_changed(event: StockChanged) -> None:
    """Mark (channel, sku) pending for every channel fed by a changed location.

    Subscribed to inventory's StockChanged; runs inside the stock transaction, as one
    INSERT ... SELECT ... ON CONFLICT statement (it sits on the reservation hot path). An event
    marked `written` was marked already, by channel_stock_mark_sql inside the statement that
    changed the stock (inventory.stock_marks).
    """
    if event.written or not event.pairs:
        return
    sql, params = channel_stock_mark_sql(event.pairs)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def channel_stock_mark_sql(
    pairs: Collection[tuple[int, int]], after: str = ""
) -> tuple[str, list[Any]]:
    """The INSERT ... ON CONFLICT that marks the (sku_id, location_id) pairs pending for every
    channel their location feeds, and its parameters; with `after`, it marks nothing before the
    CTE of that name returned a row (inventory.stock_marks: the level rows are locked first)."""
    ordered = sorted(pairs)
    change = ChannelStockChange._meta
    token = change.get_field("token").get_db_prep_value(uuid.uuid4(), connection)
    now = change.get_field("changed_at").get_db_prep_value(timezone.now(), connection)
    quote = connection.ops.quote_name
    through = quote(Channel.locations.through._meta.db_table)
    values = ", ".join(["(%s, %s)"] * len(ordered))
    # SQLite needs a WHERE before ON CONFLICT in an INSERT ... SELECT.
    where = f"EXISTS (SELECT 1 FROM {after})" if after else "1 = 1"
    sql = (
        f"INSERT INTO {quote(change.db_table)} (channel_id, sku_id, token, changed_at) "
        f"SELECT DISTINCT cl.channel_id, p.column1, %s, %s "
        f"FROM {through} cl JOIN (VALUES {values}) AS p ON cl.location_id = p.column2 "
        f"WHERE {where} "
        f"ON CONFLICT (channel_id, sku_id) DO UPDATE SET "
        f"token = excluded.token, changed_at = excluded.changed_at"
    )
    params: list[Any] = [token, now]
    for sku_id, location_id in ordered:
        params += [sku_id, location_id]
    return sql, params


def channel_stock_changes_ack(*, channel: Channel, seen: Iterable[tuple[int, uuid.UUID]]) -> int:
    """Forget the pending marks that were pushed, unless they changed since they were read.

    `seen` holds (sku_id, token) pairs as read. Returns how many marks were removed.
    """
    match = Q()
    for sku_id, token in seen:
        match |= Q(sku_id=sku_id, token=token)
    if not match:
        return 0
    deleted, _ = ChannelStockChange.objects.filter(match, channel=channel).delete()
    return deleted
