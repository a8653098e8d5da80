"""What the events feed holds of a shopper, for the privacy services (orders.ports.PersonalData).

Invariants: an event keeps its type, object, sequence and shape; the personal keys and the
person's values in its data go (oms.personal_data.Scrubber). An event belongs to the person
when it is about one of their orders, or about a shipment, return or refund of one, or carries
one of their e-mails; a shop's redaction scrubs the events of its channel's orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Q

from oms.personal_data import Scrubber
from orders.models import Order
from webhooks.models import Event


class WebhooksPersonalData:
    name = "webhooks"

    def blockers(self, *, order_ids: Sequence[int]) -> list[str]:
        return []

    def _events(self, order_ids: Sequence[int], emails: Sequence[str]) -> list[Event]:
        ids = list(order_ids)
        match = Q(object_type="order", object_id__in=ids) | Q(
            object_type__in=["shipment", "return", "refund"], data__order__in=ids
        )
        for email in emails:
            match |= Q(data__icontains=email)
        return list(Event.objects.filter(match).order_by("pk")) if ids or emails else []

    def export(self, *, order_ids: Sequence[int], emails: Sequence[str]) -> dict[str, Any]:
        return {
            "events": [
                {
                    "type": e.type,
                    "occurred_at": e.occurred_at.isoformat(),
                    "data": e.data,
                    "change": e.change,
                }
                for e in self._events(order_ids, emails)
            ]
        }

    def erase(
        self, *, order_ids: Sequence[int], emails: Sequence[str], scrubber: Scrubber
    ) -> dict[str, int]:
        events = self._events(order_ids, emails)
        for event in events:
            event.data = scrubber.json(event.data)
            event.change = scrubber.json(event.change)
        Event.objects.bulk_update(events, ["data", "change"], batch_size=200)
        return {"events": len(events)}

    def erase_channel(self, *, channel_code: str) -> dict[str, int]:
        keys_only = Scrubber([])
        ids = list(Order.objects.filter(channel__code=channel_code).values_list("pk", flat=True))
        events = self._events(ids, [])
        for event in events:
            event.data = keys_only.json(event.data)
            event.change = keys_only.json(event.change)
        Event.objects.bulk_update(events, ["data", "change"], batch_size=500)
        return {"events": len(events)}
