"""Recording events: the worker's side of `webhooks.event_record`, and their deliveries.

The changing transaction only writes an outbox message per event (webhooks.subscribers); a
worker records the `Event` here, in its own transaction, moments later: the drainer
(`webhooks.events_drain`, nudged once per committed transaction) records many messages' events
in one go (`events_record_messages`), and a message the sweep publishes by itself is recorded
alone (`event_record`).

Invariants:
- an event exists if and only if its change committed (its message was written in that
  change's transaction, oms.outbox) and is recorded at least once whatever the broker does
  (the outbox publishes it again until it ran);
- its `sequence` is its outbox message's id: increasing per object in the order the changes
  committed (the changes of one object write their messages under that object's row lock, and
  the ids of later INSERTs are higher), not gap-free; a message run twice records one event
  (the object's event of that sequence exists already);
- `data` is the object's API representation when the worker records it (the API's own selector
  and serializer), `change` what the change said (a status's from and to, a hold's reason);
- a `stock.changed` event younger than STOCK_COALESCE_SECONDS (webhooks.models) whose delivery
  has not started (`sealed` false) takes a later change of the same level in place (its data,
  occurred_at and the later sequence), so a burst of movements is one event; its deliveries
  wait that long before their first attempt; a stock message whose level has an event of a
  later sequence already is done (that event shows the level after it);
- one `events_record` call costs a constant number of statements whatever the number of
  events: one read for those recorded already, one per object type for the representations,
  one INSERT of the events, and for subscribed endpoints one INSERT of deliveries and one of
  their outbox messages (plus a locked read and an UPDATE per young stock event folded).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from fulfilment.api.serializers import ShipmentOutputSerializer
from fulfilment.selectors import shipment_list
from inventory.api.serializers import StockLevelOutputSerializer
from inventory.selectors import stock_level_list
from oms import refdata
from oms.outbox import outbox_batch, outbox_enqueue
from orders.api.serializers import OrderOutputSerializer
from orders.selectors import order_list
from returns.api.serializers import RefundOutputSerializer, ReturnOutputSerializer
from returns.selectors import refund_list, return_list
from webhooks import models as webhook_models
from webhooks.models import STOCK_CHANGED, Event, WebhookDelivery, WebhookEndpoint

#: The outbox task that records an event (webhooks.tasks).
RECORD_TASK = "webhooks.event_record"

DELIVER_TASK = "webhooks.deliver"


@dataclass(frozen=True)
class Source:
    """How an object type is read and represented: the API's selector and serializer."""

    queryset: Callable[[], QuerySet[Any]]
    serializer: type[serializers.BaseSerializer[Any]]


SOURCES: dict[str, Source] = {
    "order": Source(order_list, OrderOutputSerializer),
    "shipment": Source(shipment_list, ShipmentOutputSerializer),
    "stock_level": Source(stock_level_list, StockLevelOutputSerializer),
    "return": Source(return_list, ReturnOutputSerializer),
    "refund": Source(refund_list, RefundOutputSerializer),
}


@dataclass(frozen=True)
class Raised:
    """An event to record: its type, the object it is about, its sequence (the id of the outbox
    message that noted it), when it happened and what changed."""

    type: str
    object_type: str
    object_id: int
    sequence: int
    occurred_at: dt.datetime | None = None
    change: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


def subscriptions() -> list[tuple[int, frozenset[str]]]:
    """The active endpoints, (id, event types: empty for all), cached per process."""

    def load() -> list[tuple[int, frozenset[str]]]:
        return [
            (pk, frozenset(types or ()))
            for pk, types in WebhookEndpoint.objects.filter(is_active=True)
            .order_by("pk")
            .values_list("pk", "events")
        ]

    return refdata.cached("webhooks:subscriptions", load)


def represent(object_type: str, objects: Sequence[Any]) -> dict[tuple[str, int], dict[str, Any]]:
    """The API representation of `objects` (read with the type's selector), by key."""
    serializer = SOURCES[object_type].serializer
    return {
        (object_type, obj.pk): dict(data)
        for obj, data in zip(objects, serializer(objects, many=True).data, strict=True)
    }


def _represent(raised: Sequence[Raised]) -> dict[tuple[str, int], dict[str, Any]]:
    """The API representation of every object named, one read per object type."""
    wanted: dict[str, set[int]] = {}
    for item in raised:
        wanted.setdefault(item.object_type, set()).add(item.object_id)
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for object_type, ids in wanted.items():
        found.update(
            represent(object_type, list(SOURCES[object_type].queryset().filter(pk__in=ids)))
        )
    return found


def _txid() -> Any:
    """The recording transaction's id on PostgreSQL (the feed's order), 0 elsewhere (SQLite
    commits one writer at a time: ids are in commit order)."""
    return RawSQL("txid_current()", []) if connection.vendor == "postgresql" else 0


def _unrecorded(items: list[Raised]) -> list[Raised]:
    """The items not recorded yet (one read): no event of their object has their sequence, and
    for stock, none of a later sequence either (it shows the level after this change)."""
    first: dict[tuple[str, int], int] = {}
    for r in items:
        key = (r.object_type, r.object_id)
        first[key] = min(first.get(key, r.sequence), r.sequence)
    match = Q()
    for (object_type, object_id), sequence in first.items():
        match |= Q(object_type=object_type, object_id=object_id, sequence__gte=sequence)
    seen: dict[tuple[str, int], list[tuple[int, str]]] = {}
    for object_type, object_id, sequence, kind in Event.objects.filter(match).values_list(
        "object_type", "object_id", "sequence", "type"
    ):
        seen.setdefault((object_type, object_id), []).append((sequence, kind))

    def recorded(r: Raised) -> bool:
        found = seen.get((r.object_type, r.object_id), [])
        if r.type == STOCK_CHANGED:
            return any(kind == STOCK_CHANGED and s >= r.sequence for s, kind in found)
        return any(s == r.sequence for s, _ in found)

    return [r for r in items if not recorded(r)]


def _young_stock_events(items: list[Raised], now: dt.datetime) -> dict[int, Event]:
    """The young, unsealed stock.changed event of each level among the items, locked (a later
    change waits here, then reads the level after this one's change)."""
    levels = {r.object_id for r in items if r.type == STOCK_CHANGED}
    if not levels:
        return {}
    young: dict[int, Event] = {}
    for event in (
        Event.objects.select_for_update()
        .filter(
            type=STOCK_CHANGED,
            object_type="stock_level",
            object_id__in=levels,
            recorded_at__gte=now - dt.timedelta(seconds=webhook_models.STOCK_COALESCE_SECONDS),
            sealed=False,
        )
        .order_by("object_id", "-sequence")
        .only("pk", "object_id", "sequence")
    ):
        young.setdefault(event.object_id, event)
    return young


def events_record(
    raised: Iterable[Raised], *, represented: Mapping[tuple[str, int], dict[str, Any]] | None = None
) -> list[Event]:
    """Record events in the caller's transaction (the worker's), with a delivery (through the
    outbox) for each active endpoint listening to its type. An object that no longer exists is
    skipped, and so is an event recorded already (see the module docstring).
    `represented`: the objects' representations when the caller has them already."""
    items = sorted(
        {(r.object_type, r.object_id, r.sequence): r for r in raised}.values(),
        key=lambda r: r.sequence,
    )
    if not items:
        return []
    now = timezone.now()
    young = _young_stock_events(items, now)
    items = _unrecorded(items)
    if not items:
        return []
    data = dict(represented) if represented is not None else _represent(items)
    items = [r for r in items if (r.object_type, r.object_id) in data]
    events: list[Event] = []
    for r in items:
        key = (r.object_type, r.object_id)
        folded = young.get(r.object_id) if r.type == STOCK_CHANGED else None
        if folded is not None:
            Event.objects.filter(pk=folded.pk).update(
                data=data[key],
                occurred_at=r.occurred_at or now,
                sequence=Greatest("sequence", r.sequence),
            )
            continue
        events.append(
            Event(
                type=r.type,
                occurred_at=r.occurred_at or now,
                recorded_at=now,
                object_type=r.object_type,
                object_id=r.object_id,
                sequence=r.sequence,
                data=data[key],
                change=dict(r.change),
                txid=_txid(),
            )
        )
    if events:
        Event.objects.bulk_create(events)
        deliveries_create(events)
    return events


def event_record(
    *,
    message_id: int,
    event_type: str,
    object_type: str,
    object_id: int = 0,
    occurred_at: str = "",
    change: Mapping[str, Any] | None = None,
    sku_id: int | None = None,
    location_id: int | None = None,
) -> str:
    """Record the event an outbox message noted (webhooks.subscribers); `message_id` is its
    sequence. A stock level is named by its SKU and location (the change did not read it)."""
    with transaction.atomic():
        if object_type == "stock_level" and not object_id:
            found = (
                stock_level_list()
                .filter(sku_id=int(sku_id or 0), location_id=int(location_id or 0))
                .values_list("pk", flat=True)
                .first()
            )
            if found is None:
                return "gone"
            object_id = int(found)
        recorded = events_record(
            [
                Raised(
                    event_type,
                    object_type,
                    int(object_id),
                    int(message_id),
                    parse_datetime(occurred_at) if occurred_at else None,
                    dict(change or {}),
                )
            ]
        )
    return "recorded" if recorded else "done"


def events_record_messages(messages: Sequence[tuple[int, Mapping[str, Any]]]) -> list[Event]:
    """Record, in the caller's transaction, the events of many `webhooks.event_record` outbox
    messages at once, (message id, its kwargs): what `event_record` does for one, with one read
    of the stock levels they name and one `events_record` call (the drainer's side:
    oms.outbox.outbox_run_many)."""
    pairs = {
        (int(kw.get("sku_id") or 0), int(kw.get("location_id") or 0))
        for _, kw in messages
        if kw.get("object_type") == "stock_level" and not kw.get("object_id")
    }
    levels: dict[tuple[int, int], int] = {}
    if pairs:
        match = Q()
        for sku_id, location_id in pairs:
            match |= Q(sku_id=sku_id, location_id=location_id)
        levels = {
            (sku_id, location_id): pk
            for pk, sku_id, location_id in stock_level_list()
            .filter(match)
            .values_list("pk", "sku_id", "location_id")
        }
    raised: list[Raised] = []
    for message_id, kw in messages:
        object_id = int(kw.get("object_id") or 0)
        if kw.get("object_type") == "stock_level" and not object_id:
            found = levels.get((int(kw.get("sku_id") or 0), int(kw.get("location_id") or 0)))
            if found is None:
                continue  # the level is gone
            object_id = found
        occurred_at = kw.get("occurred_at") or ""
        raised.append(
            Raised(
                str(kw["event_type"]),
                str(kw["object_type"]),
                object_id,
                int(message_id),
                parse_datetime(occurred_at) if occurred_at else None,
                dict(kw.get("change") or {}),
            )
        )
    return events_record(raised)


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def deliveries_create(
    events: Sequence[Event], endpoints: Sequence[tuple[int, frozenset[str]]] | None = None
) -> list[WebhookDelivery]:
    """A pending delivery of each event to each endpoint listening to it, sent after commit."""
    listening = subscriptions() if endpoints is None else endpoints
    rows = [
        WebhookDelivery(endpoint_id=endpoint_id, event=event, webhook_id=new_webhook_id())
        for event in events
        for endpoint_id, types in listening
        if not types or event.type in types
    ]
    if not rows:
        return []
    WebhookDelivery.objects.bulk_create(rows)
    with outbox_batch():
        for row in rows:
            # A stock event waits for the changes that follow it within the second.
            wait = webhook_models.STOCK_COALESCE_SECONDS if row.event.type == STOCK_CHANGED else 0.0
            outbox_enqueue(DELIVER_TASK, countdown=wait, delivery_id=row.pk)
    return rows
