"""Back-office screens of fulfilment: tracking (imported by fulfilment/admin.py).

Invariants:
- the shipment page gets the carrier's events as a read-only inline (added to the registered
  Shipment admin instance, as fulfilment/admin.py adds its inlines to the order page);
- "Poll tracking now" asks the carrier through fulfilment.services.tracking, one call per
  shipment (at most POLL_NOW_MAX), outside any transaction, and reports per shipment; a
  carrier's or a domain error is reported for that shipment, never a 500; it needs
  fulfilment.change_shipment.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from fulfilment.models import Shipment, TrackingEvent, TrackingStatus
from fulfilment.services.tracking import shipment_tracking_poll
from oms.admin.readonly import ReadOnlyInline
from oms.errors import DomainError, ExternalError

POLL_NOW_MAX = 50
STATUS_LABELS = dict(TrackingStatus.choices)


class TrackingEventInline(ReadOnlyInline):
    """The carrier's scans of the shipment, newest first."""

    model = TrackingEvent
    # The same wrapper as the other fulfilment inlines (styles, no row titles).
    template = "admin/fulfilment/edit_inline/tabular.html"
    classes = ["fulfilment-inline"]
    verbose_name = "tracking event"
    verbose_name_plural = "Tracking events (newest first)"
    fields = ["occurred_at", "status", "description", "place", "external_id", "received_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[TrackingEvent]:
        return super().get_queryset(request).order_by("-occurred_at", "-id")


def _label(shipment: Shipment) -> str:
    return f"SH-{shipment.pk}"


@admin.action(description="Poll tracking now", permissions=["transition"])
def poll_tracking_now(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Shipment]
) -> None:
    shipments = list(queryset.order_by("pk")[: POLL_NOW_MAX + 1])
    if len(shipments) > POLL_NOW_MAX:
        modeladmin.message_user(
            request,
            f"Only the first {POLL_NOW_MAX} selected shipments were polled; the others are "
            "polled by the scheduled run every 30 minutes.",
            messages.WARNING,
        )
        shipments = shipments[:POLL_NOW_MAX]
    for shipment in shipments:
        label = _label(shipment)
        before = TrackingEvent.objects.filter(shipment=shipment).count()
        try:
            polled = shipment_tracking_poll(shipment=shipment.pk, actor=request.user.get_username())
        except DomainError as exc:
            modeladmin.message_user(request, f"{label} not polled: {exc}", messages.ERROR)
            continue
        except ExternalError as exc:
            modeladmin.message_user(
                request, f"{label}: the carrier did not answer ({exc}).", messages.ERROR
            )
            continue
        new = TrackingEvent.objects.filter(shipment=shipment).count() - before
        status = STATUS_LABELS.get(polled.tracking_status, polled.tracking_status or "no status")
        modeladmin.message_user(
            request,
            f"{label}: {new} new tracking event{'' if new == 1 else 's'}; {status}"
            f"{', needs attention' if polled.needs_attention else ''}.",
            messages.SUCCESS if new else messages.INFO,
        )


def _attach_to_shipment_page() -> None:
    """Add the events inline and the poll action to the Shipment admin fulfilment registered."""
    shipment_admin = admin.site._registry.get(Shipment)
    if shipment_admin is None:
        return
    target = cast(Any, shipment_admin)  # this instance only: the class stays as defined
    if TrackingEventInline not in shipment_admin.inlines:
        target.inlines = [*shipment_admin.inlines, TrackingEventInline]
    actions = list(shipment_admin.actions or [])
    if poll_tracking_now not in actions:
        target.actions = [*actions, poll_tracking_now]


_attach_to_shipment_page()
