"""Recording events in the transaction of the change that raised them, and their deliveries.

Invariants:
- one `events_record` call costs a constant number of statements whatever the number of
  events: one read per object type (the API's own selector, so the data is the API
  representation), one numbering statement (an upsert of the objects' EventSequence rows,
  which stay locked until commit: gap-free, increasing numbers under concurrency), one INSERT
  of the events, and for subscribed endpoints one INSERT of deliveries and one of their outbox
  messages; each object is serialised once, whatever the number of endpoints;
- a `stock.changed` event younger than STOCK_COALESCE_SECONDS (webhooks.models) whose delivery
  has not started (`sealed` false) takes a later change of the same level in place (its data
  and occurred_at), so a burst of movements is one event; its deliveries wait that long
  before their first attempt.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.db.models import Case, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone
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
from webhooks.models import STOCK_CHANGED, Event, EventSequence, WebhookDelivery, WebhookEndpoint

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
    """An event to record: its type and the object it is about."""

    type: str
    object_type: str
    object_id: int


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


def _number(keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """Reserve sequence numbers: for each (object type, object id) of `keys` (repeated as many
    times as it has events), the first number it gets. One statement; the counter rows stay
    locked until the transaction ends."""
    counts: dict[tuple[str, int], int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    ordered = sorted(counts.items())  # one lock order for every transaction
    table = EventSequence._meta.db_table
    values = ", ".join(["(%s, %s, %s)"] * len(ordered))
    params: list[Any] = [v for (kind, pk), n in ordered for v in (kind, pk, n)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (object_type, object_id, last) VALUES {values} "
            f"ON CONFLICT (object_type, object_id) DO UPDATE SET last = {table}.last + "
            "excluded.last RETURNING object_type, object_id, last",
            params,
        )
        rows = cursor.fetchall()
    return {(kind, int(pk)): int(last) - counts[(kind, int(pk))] + 1 for kind, pk, last in rows}


def _txid() -> Any:
    """The recording transaction's id on PostgreSQL (the feed's order), 0 elsewhere (SQLite
    commits one writer at a time: ids are in commit order)."""
    return RawSQL("txid_current()", []) if connection.vendor == "postgresql" else 0


def _coalesced(
    raised: list[Raised], data: Mapping[tuple[str, int], dict[str, Any]], now: dt.datetime
) -> list[Raised]:
    """Fold young, unsealed stock.changed events; returns what still needs an event."""
    stock = [r for r in raised if r.type == STOCK_CHANGED]
    if not stock:
        return raised
    young: dict[int, int] = {}
    for pk, object_id in (
        Event.objects.filter(
            type=STOCK_CHANGED,
            object_type="stock_level",
            object_id__in={r.object_id for r in stock},
            recorded_at__gte=now - dt.timedelta(seconds=webhook_models.STOCK_COALESCE_SECONDS),
            sealed=False,
        )
        .order_by("object_id", "-sequence")
        .values_list("pk", "object_id")
    ):
        young.setdefault(object_id, pk)
    folded = {object_id for object_id in young if ("stock_level", object_id) in data}
    if folded:
        ids = [young[object_id] for object_id in folded]
        json = models.JSONField(encoder=DjangoJSONEncoder)
        changed = Event.objects.filter(pk__in=ids, sealed=False).update(
            data=Case(
                *[
                    When(pk=young[object_id], then=Value(data[("stock_level", object_id)], json))
                    for object_id in folded
                ],
                output_field=json,
            ),
            occurred_at=now,
        )
        if changed < len(ids):  # sealed meanwhile (the rows updated stay locked: not those)
            folded -= set(
                Event.objects.filter(pk__in=ids, sealed=True).values_list("object_id", flat=True)
            )
    return [r for r in raised if not (r.type == STOCK_CHANGED and r.object_id in folded)]


def events_record(
    raised: Iterable[Raised], *, represented: Mapping[tuple[str, int], dict[str, Any]] | None = None
) -> list[Event]:
    """Record events in the caller's transaction, with a delivery (through the outbox) for
    each active endpoint listening to its type. An object that no longer exists is skipped.
    `represented`: the objects' representations when the caller has them already."""
    items = list(dict.fromkeys(raised))  # the same fact twice in one call is one event
    if not items:
        return []
    now = timezone.now()
    data = dict(represented) if represented is not None else _represent(items)
    items = [r for r in items if (r.object_type, r.object_id) in data]
    items = _coalesced(items, data, now)
    if not items:
        return []
    first = _number([(r.object_type, r.object_id) for r in items])
    taken: dict[tuple[str, int], int] = {}
    txid = _txid()
    events = []
    for r in items:
        key = (r.object_type, r.object_id)
        sequence = first[key] + taken.get(key, 0)
        taken[key] = taken.get(key, 0) + 1
        events.append(
            Event(
                type=r.type,
                occurred_at=now,
                recorded_at=now,
                object_type=r.object_type,
                object_id=r.object_id,
                sequence=sequence,
                data=data[key],
                txid=txid,
            )
        )
    Event.objects.bulk_create(events)
    deliveries_create(events)
    return events


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
