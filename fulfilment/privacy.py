"""What fulfilment holds of a shopper, for the privacy services (orders.ports.PersonalData).

Invariants: the shipments, their lines, parcels, tracking numbers and statuses stay (they are
the business record); what goes on erasure is the copies of the shopper's address: the labels
(their PDF and ZPL print the address: a shipped order needs them no more), the destination
coordinates of routing decisions, the personal values in carrier and 3PL payloads (the kernel
inbox's deliveries of kinds carrier and partner), tracking event places and attention
messages. Shipments never block an erasure: the order's status already says whether it is
still in fulfilment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Q

from fulfilment.models import RoutingDecision, Shipment, ShippingLabel, TrackingEvent
from oms.models import InboundWebhook
from oms.personal_data import Scrubber


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


class FulfilmentPersonalData:
    name = "fulfilment"

    def blockers(self, *, order_ids: Sequence[int]) -> list[str]:
        return []

    def export(self, *, order_ids: Sequence[int], emails: Sequence[str]) -> dict[str, Any]:
        shipments = (
            Shipment.objects.filter(order_id__in=order_ids)
            .select_related("order", "location")
            .prefetch_related("lines__order_line", "tracking_events")
            .order_by("pk")
        )
        return {
            "shipments": [
                {
                    "order": s.order.number,
                    "status": s.status,
                    "ships_from": s.location.name,
                    "carrier": s.carrier,
                    "service": s.service,
                    "tracking_number": s.tracking_number,
                    "tracking_url": s.tracking_url,
                    "shipped_at": _iso(s.shipped_at),
                    "delivered_at": _iso(s.delivered_at),
                    "lines": [
                        {"sku": ln.order_line.sku_code, "quantity": ln.quantity}
                        for ln in s.lines.all()
                    ],
                    "tracking_events": [
                        {
                            "status": e.status,
                            "description": e.description,
                            "place": e.place,
                            "at": _iso(e.occurred_at),
                        }
                        for e in s.tracking_events.all()
                    ],
                }
                for s in shipments
            ]
        }

    def erase(
        self, *, order_ids: Sequence[int], emails: Sequence[str], scrubber: Scrubber
    ) -> dict[str, int]:
        shipment_ids = list(
            Shipment.objects.filter(order_id__in=order_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        shipments = list(Shipment.objects.filter(pk__in=shipment_ids).exclude(attention_message=""))
        for shipment in shipments:
            shipment.attention_message = scrubber.text(shipment.attention_message)
        Shipment.objects.bulk_update(shipments, ["attention_message"])
        labels = ShippingLabel.objects.filter(shipment_id__in=shipment_ids).update(pdf=b"", zpl="")
        decisions = list(RoutingDecision.objects.filter(order_id__in=order_ids))
        for decision in decisions:
            explanation = dict(decision.explanation or {})
            destination = explanation.get("destination")
            if isinstance(destination, dict):
                explanation["destination"] = {
                    **destination,
                    "latitude": None,
                    "longitude": None,
                }
            decision.explanation = scrubber.json(explanation)
        RoutingDecision.objects.bulk_update(decisions, ["explanation"], batch_size=200)
        events = list(TrackingEvent.objects.filter(shipment_id__in=shipment_ids))
        for event in events:
            event.raw = scrubber.json(event.raw)
            event.place = scrubber.text(event.place)
            event.description = scrubber.text(event.description)
        TrackingEvent.objects.bulk_update(events, ["raw", "place", "description"], batch_size=500)
        hooks = self._hooks(emails, scrubber)
        return {
            "shipments": len(shipments),
            "labels": labels,
            "routing_decisions": len(decisions),
            "tracking_events": len(events),
            "inbound_webhooks": hooks,
        }

    @staticmethod
    def _hooks(emails: Sequence[str], scrubber: Scrubber) -> int:
        if not emails:
            return 0
        match = Q(pk__in=[])
        for email in emails:
            match |= Q(payload__icontains=email)
        # Carriers' and 3PLs' deliveries only: the channels' are the channels app's.
        kinds = (InboundWebhook.Kind.CARRIER, InboundWebhook.Kind.PARTNER)
        hooks = list(InboundWebhook.objects.filter(match, kind__in=kinds))
        for hook in hooks:
            hook.payload = scrubber.json(hook.payload)
        InboundWebhook.objects.bulk_update(hooks, ["payload"], batch_size=200)
        return len(hooks)

    def erase_channel(self, *, channel_code: str) -> dict[str, int]:
        return {}  # everything of fulfilment belongs to an order, erased order by order
