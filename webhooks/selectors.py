"""Reads shared by the API, the admin and the tasks.

The feed (`event_feed`) is durable and replayable: events come in the order their transactions
made them final, so a cursor never steps over one that commits later. On PostgreSQL they are
ordered by (transaction id, id) and only those of transactions finished before the oldest
still running (or of the reader's own) are served; SQLite commits one writer at a time, so
the id is that order. A stock.changed event still in its coalescing second (it may change)
stops the page before it. Events appear once the worker recorded them from their outbox
messages (seconds after their change): the feed's order is the recording's, an object's own
events are ordered by `sequence`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import connection
from django.db.models import BigIntegerField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from webhooks import models as webhook_models
from webhooks.models import STOCK_CHANGED, Event, WebhookDelivery, WebhookEndpoint


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.order_by("id")


def delivery_list() -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.select_related("event").order_by("-id")


def _after(txid: int, pk: int) -> Q:
    return Q(txid__gt=txid) | Q(txid=txid, pk__gt=pk)


def _before(txid: int, pk: int) -> Q:
    return Q(txid__lt=txid) | Q(txid=txid, pk__lt=pk)


def event_feed(*, after: int = 0, types: Sequence[str] = (), limit: int = 100) -> list[Event]:
    """Up to `limit` events after the event `after` (0: from the oldest kept), of `types`
    (all if empty), in feed order."""
    events = Event.objects.all()
    if connection.vendor == "postgresql":
        final = RawSQL(
            "txid_snapshot_xmin(txid_current_snapshot())", [], output_field=BigIntegerField()
        )
        own = RawSQL("txid_current_if_assigned()", [], output_field=BigIntegerField())
        events = events.filter(Q(txid__lt=final) | Q(txid=own))
    if after:
        found = Event.objects.filter(pk=after).values_list("txid", flat=True).first()
        events = events.filter(Q(pk__gt=after) if found is None else _after(found, after))
    window = dt.timedelta(seconds=webhook_models.STOCK_COALESCE_SECONDS)
    settling = (
        Event.objects.filter(
            type=STOCK_CHANGED,
            sealed=False,
            recorded_at__gt=timezone.now() - window,
        )
        .order_by("txid", "pk")
        .values_list("txid", "pk")
        .first()
    )
    if settling is not None:
        events = events.filter(_before(*settling))
    if types:
        events = events.filter(type__in=list(types))
    return list(events.order_by("txid", "pk")[:limit])
