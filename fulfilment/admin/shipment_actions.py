"""The actions of the shipment list: print a pick list, mark picked, cancel, re-route the orders.
One service call per shipment; a DomainError is that shipment's message, the others go on.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from fulfilment import services
from fulfilment.admin.shared import plural
from fulfilment.models import Shipment
from fulfilment.picklists import pick_list, shipment_code
from fulfilment.services.holds import held_problem
from fulfilment.states import OPEN, ShipmentStatus
from inventory.models import LocationKind
from oms.admin.tools import ToolAdmin, each_object
from oms.errors import DomainError

REROUTE_TRIGGER = "manual_reroute"


class ShipmentActions(ToolAdmin):
    """The list actions of ShipmentAdmin (they need fulfilment.change_shipment)."""

    def _selected(self, queryset: QuerySet[Shipment]) -> list[Shipment]:
        return list(queryset.select_related("order", "location").order_by("pk"))

    @admin.action(description="Print pick list (PDF)", permissions=["view"])
    def print_pick_list(
        self, request: HttpRequest, queryset: QuerySet[Shipment]
    ) -> HttpResponse | None:
        pickable: list[Shipment] = []
        for shipment in self._selected(queryset):
            label = shipment_code(shipment.pk)
            if shipment.location.kind == LocationKind.THIRD_PARTY:
                self.message_user(
                    request,
                    f"{label} is left off the pick list: {shipment.location.code} is a 3PL "
                    "partner, it picks its own.",
                    messages.WARNING,
                )
            elif shipment.status not in (ShipmentStatus.PENDING, ShipmentStatus.PICKING):
                self.message_user(
                    request,
                    f"{label} is left off the pick list: it is "
                    f"{shipment.get_status_display().lower()}.",
                    messages.WARNING,
                )
            elif shipment.order.is_on_hold:
                self.message_user(
                    request,
                    f"{label} is left off the pick list: {held_problem(shipment)}.",
                    messages.WARNING,
                )
            else:
                pickable.append(shipment)
        if not pickable:
            self.message_user(
                request,
                "No pick list: none of the selected shipments is waiting to be picked.",
                messages.ERROR,
            )
            return None
        locations = sorted({s.location.code for s in pickable})
        if len(locations) > 1:
            self.message_user(
                request,
                f"No pick list: a pick list is one walk through one location, and the selected "
                f"shipments are at {', '.join(locations)}. Filter the list by location and "
                "print one list per location.",
                messages.ERROR,
            )
            return None
        from fulfilment.documents import pick_list_pdf  # reportlab: not at start-up

        location = pickable[0].location
        try:
            data = pick_list_pdf(pick_list(location=location, shipments=pickable))
        except DomainError as exc:
            self.message_user(request, f"No pick list: {exc}", messages.ERROR)
            return None
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response = HttpResponse(data, content_type="application/pdf")
        response["Content-Disposition"] = (
            f'inline; filename="pick-list-{location.code}-{stamp}.pdf"'
        )
        return response

    @admin.action(description="Mark picked (everything found)", permissions=["transition"])
    def mark_picked(self, request: HttpRequest, queryset: QuerySet[Shipment]) -> None:
        actor = self.actor(request)

        def pick(shipment: Shipment) -> str | tuple[str, int]:
            label = shipment_code(shipment.pk)
            if shipment.status == ShipmentStatus.PICKING:
                return f"{label} was already picked.", messages.INFO
            lines = [(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()]
            services.shipment_pick(shipment=shipment.pk, lines=lines, actor=actor)
            units = sum(q for _, q in lines)
            return f"{label} picked: {plural(units, 'unit')}. Pack it at the pack station."

        each_object(
            self,
            request,
            list(queryset.prefetch_related("lines").order_by("pk")),
            pick,
            failed=lambda shipment, exc: f"{shipment_code(shipment.pk)} not marked picked: {exc}",
        )

    @admin.action(description="Cancel selected shipments", permissions=["transition"])
    def cancel_shipments(self, request: HttpRequest, queryset: QuerySet[Shipment]) -> None:
        actor = self.actor(request)

        def cancel(shipment: Shipment) -> str | tuple[str, int]:
            label = shipment_code(shipment.pk)
            if shipment.status == ShipmentStatus.CANCELLED:
                return f"{label} was already cancelled.", messages.INFO
            before = set(
                Shipment.objects.filter(order_id=shipment.order_id).values_list("pk", flat=True)
            )
            services.shipment_cancel(
                shipment=shipment.pk, reason="cancelled in the back office", actor=actor
            )
            return (
                f"{label} cancelled; its stock is released. Order {shipment.order}: "
                f"{self._routed_to(shipment.order_id, before)}."
            )

        each_object(
            self,
            request,
            self._selected(queryset),
            cancel,
            failed=lambda shipment, exc: f"{shipment_code(shipment.pk)} not cancelled: {exc}",
        )

    @admin.action(
        description="Re-route the orders of selected shipments", permissions=["transition"]
    )
    def reroute_orders(self, request: HttpRequest, queryset: QuerySet[Shipment]) -> None:
        actor = self.actor(request)
        by_order: dict[int, list[Shipment]] = {}
        for shipment in self._selected(queryset):
            by_order.setdefault(shipment.order_id, []).append(shipment)
        for order_id, shipments in by_order.items():
            order = shipments[0].order
            labels = ", ".join(shipment_code(s.pk) for s in shipments)
            pending = [s for s in shipments if s.status == ShipmentStatus.PENDING]
            before = set(Shipment.objects.filter(order_id=order_id).values_list("pk", flat=True))
            try:
                # Cancelling and routing again are one step: both happen or neither.
                with transaction.atomic():
                    for shipment in pending:
                        services.shipment_cancel(
                            shipment=shipment.pk,
                            reason="re-routed from the back office",
                            actor=actor,
                            reroute=False,
                        )
                    decision = services.order_route(
                        order_id=order_id, trigger=REROUTE_TRIGGER, actor=actor
                    )
            except DomainError as exc:
                self.message_user(
                    request, f"{labels}: order {order} not re-routed: {exc}", messages.ERROR
                )
                continue
            kept = [s for s in shipments if s not in pending]
            parts = []
            if pending:
                parts.append(f"{', '.join(shipment_code(s.pk) for s in pending)} cancelled")
            if kept:
                parts.append(
                    ", ".join(
                        f"{shipment_code(s.pk)} kept ({s.get_status_display().lower()})"
                        for s in kept
                    )
                )
            if decision is None:
                outcome = "nothing left to route (allocated, shipped, cancelled or on hold)"
            else:
                reason = (decision.explanation.get("choice") or {}).get("reason", "")
                outcome = f"{decision.outcome}: {reason}; {self._routed_to(order_id, before)}"
            self.message_user(
                request,
                f"{'; '.join(parts)}. Order {order} re-routed: {outcome}.",
                messages.SUCCESS if decision is not None or not pending else messages.WARNING,
            )

    def _routed_to(self, order_id: int, before: set[int]) -> str:
        created = list(
            Shipment.objects.filter(order_id=order_id, status__in=OPEN)
            .exclude(pk__in=before)
            .select_related("location")
            .order_by("pk")
        )
        if not created:
            return "no new shipment (the order waits for stock, or is on hold)"
        return "now " + ", ".join(f"{shipment_code(s.pk)} at {s.location.code}" for s in created)
