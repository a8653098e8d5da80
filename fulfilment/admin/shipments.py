"""The shipment queue and a shipment's page (read-only); the commands are in shipment_actions
and pack_station.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from fulfilment import services
from fulfilment.admin.explanation import explanation_html
from fulfilment.admin.inlines import ParcelInline, ShipmentLineInline
from fulfilment.admin.pack_station import PackStation
from fulfilment.admin.shared import plural, with_line_totals
from fulfilment.admin.shipment_actions import ShipmentActions
from fulfilment.models import Shipment
from fulfilment.picklists import pick_list, shipment_code
from fulfilment.services.packing import SHIPMENT_REF
from fulfilment.states import OPEN, ShipmentStatus
from inventory.models import LocationKind
from oms.admin.export import CsvExportMixin
from oms.admin.readonly import ReadOnlyModelAdmin
from oms.errors import DomainError


class OrderOnHoldFilter(admin.SimpleListFilter):
    title = "order on hold"
    parameter_name = "order_on_hold"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Shipment]) -> QuerySet[Shipment]:
        if self.value() in ("yes", "no"):
            return queryset.filter(order__is_on_hold=self.value() == "yes")
        return queryset


@admin.register(Shipment)
class ShipmentAdmin(CsvExportMixin, ShipmentActions, PackStation, ReadOnlyModelAdmin):
    """The shipment queue: read-only records; pick lists, picking, packing through commands."""

    csv_columns = [
        ("id", "pk"),
        ("order", "order__number"),
        ("location", "location__code"),
        ("status", "status"),
        ("carrier", "carrier"),
        ("service", "service"),
        ("tracking_number", "tracking_number"),
        ("tracking_status", "tracking_status"),
        ("expected_ship_date", "expected_ship_date"),
        ("expected_delivery_date", "expected_delivery_date"),
        ("needs_attention", "needs_attention"),
        ("created_at", "created_at"),
        ("picked_at", "picked_at"),
        ("packed_at", "packed_at"),
        ("shipped_at", "shipped_at"),
        ("delivered_at", "delivered_at"),
    ]

    list_display = [
        "number",
        "order_link",
        "location_code",
        "status",
        # Units, not lines too; the carrier with its tracking number; the day to ship by, not
        # the moment the shipment was made (the filters still go by it): the list fits a
        # laptop's screen (the page of a shipment has the lines, the service and the dates).
        "unit_count",
        "ship_by",
        "deliver_by",
        "tracking",
    ]
    list_display_links = ["number"]
    list_select_related = ["order", "location"]
    list_filter = ["location", "status", OrderOnHoldFilter, "created_at"]
    # Only makes the search box appear: get_search_results matches exactly (see below).
    search_fields = ["tracking_number"]
    search_help_text = "Shipment (SH-123), order number or tracking number."
    list_per_page = 100
    show_full_result_count = False
    actions = ["print_pick_list", "mark_picked", "cancel_shipments", "reroute_orders"]
    inlines = [ShipmentLineInline, ParcelInline]
    fieldsets = [
        (
            "Shipment",
            {"fields": ["number", "order_link", "location", "status", "line_count", "unit_count"]},
        ),
        ("Carrier", {"fields": ["carrier", "service", "tracking_number", "tracking_url"]}),
        (
            "Dates",
            {
                "fields": [
                    "expected_ship_date",
                    "expected_delivery_date",
                    "created_at",
                    "picked_at",
                    "packed_at",
                    "shipped_at",
                    "delivered_at",
                    "cancelled_at",
                ]
            },
        ),
        ("Routing", {"fields": ["decision_link", "routing_explanation"]}),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)

    # --- permissions: a record to look at, commands for the warehouse ---------------------------
    # Shipments come from routing and the page is read-only (ReadOnlyModelAdmin); the actions
    # and the pack station change shipments, with the transition permission.

    def get_queryset(self, request: HttpRequest) -> QuerySet[Shipment]:
        return with_line_totals(super().get_queryset(request).select_related("order", "location"))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Shipment], search_term: str
    ) -> tuple[QuerySet[Shipment], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        match = SHIPMENT_REF.match(term)
        if match and term.upper().startswith("SH"):
            return queryset.filter(pk=int(match[1])), False
        found = Q(order__number=term) | Q(tracking_number__iexact=term)
        if match:  # plain digits: an order number or a shipment id
            found |= Q(pk=int(match[1]))
        return queryset.filter(found), False

    # --- columns and fields ---------------------------------------------------------------------

    @admin.display(description="Shipment", ordering="pk")
    def number(self, obj: Shipment) -> str:
        return shipment_code(obj.pk)

    @admin.display(description="Order", ordering="order__number")
    def order_link(self, obj: Shipment) -> str:
        url = reverse("admin:orders_order_change", args=[obj.order_id])
        return format_html('<a href="{}">{}</a>', url, obj.order)

    @admin.display(description="Location", ordering="location__code")
    def location_code(self, obj: Shipment) -> str:
        return obj.location.code

    @admin.display(description="Lines", ordering="line_total")
    def line_count(self, obj: Shipment) -> int:
        return int(getattr(obj, "line_total", 0) or 0)

    @admin.display(description="Units", ordering="unit_total")
    def unit_count(self, obj: Shipment) -> int:
        return int(getattr(obj, "unit_total", 0) or 0)

    @admin.display(description="Ship by", ordering="expected_ship_date")
    def ship_by(self, obj: Shipment) -> str:
        return str(obj.expected_ship_date or "-")

    @admin.display(description="Delivery by", ordering="expected_delivery_date")
    def deliver_by(self, obj: Shipment) -> str:
        return str(obj.expected_delivery_date or "-")

    @admin.display(description="Carrier, tracking", ordering="tracking_number")
    def tracking(self, obj: Shipment) -> str:
        return " ".join(part for part in (obj.carrier, obj.tracking_number) if part) or "-"

    @admin.display(description="Routing decision")
    def decision_link(self, obj: Shipment) -> str:
        if obj.decision_id is None:
            return "-"
        url = reverse("admin:fulfilment_routingdecision_change", args=[obj.decision_id])
        decision = obj.decision
        label = f"#{obj.decision_id}"
        if decision is not None:
            label += f" ({decision.outcome}, {decision.trigger})"
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="Why here")
    def routing_explanation(self, obj: Shipment) -> SafeString:
        if obj.decision is None:
            return format_html("<p>{}</p>", "No routing decision is linked to this shipment.")
        return explanation_html(obj.decision.explanation)

    # --- pages ----------------------------------------------------------------------------------

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        can_pack = self.has_transition_permission(request)
        extra_context = {
            **(extra_context or {}),
            "pack_url": reverse("admin:fulfilment_shipment_pack") if can_pack else None,
            "queue": self._queue(),
        }
        return super().changelist_view(request, extra_context)

    def _queue(self) -> dict[str, Any]:
        """Open shipments per location and status (one query), linking to the filtered list."""
        statuses = [s for s in ShipmentStatus if s in OPEN]
        counts = (
            Shipment.objects.filter(status__in=OPEN)
            .values_list("location_id", "location__code", "status")
            .annotate(n=Count("id"))
            .order_by("location__code")
        )
        rows: dict[int, dict[str, Any]] = {}
        for location_id, code, status, n in counts:
            row = rows.setdefault(location_id, {"code": code, "cells": dict.fromkeys(statuses, 0)})
            row["cells"][status] = n
        base = reverse("admin:fulfilment_shipment_changelist")
        table = [
            {
                "code": row["code"],
                "url": f"{base}?{urlencode({'location__id__exact': pk})}",
                "cells": [
                    (
                        n,
                        f"{base}?{urlencode({'location__id__exact': pk, 'status__exact': s})}",
                    )
                    for s, n in row["cells"].items()
                ],
            }
            for pk, row in rows.items()
        ]
        return {"statuses": [s.label for s in statuses], "rows": table}

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        shipment = (
            Shipment.objects.select_related("order", "location").filter(pk=object_id).first()
            if object_id.isdigit()
            else None
        )
        buttons = self._buttons(request, shipment) if shipment is not None else []
        extra_context = {**(extra_context or {}), "shipment_buttons": buttons}
        return super().change_view(request, object_id, form_url, extra_context)

    def _buttons(self, request: HttpRequest, shipment: Shipment) -> list[dict[str, Any]]:
        """Pick, pack, ship and print, each enabled by the shipment's state (a disabled one says
        why). Pick and ship are POST forms; the others open a page or a PDF."""
        may = self.has_transition_permission(request)
        status = shipment.status
        third_party = shipment.location.kind == LocationKind.THIRD_PARTY
        held = shipment.order.is_on_hold
        label = shipment_code(shipment.pk)

        def url(name: str) -> str:
            return reverse(f"admin:fulfilment_shipment_{name}", args=[shipment.pk])

        def why(wanted: set[str], verb: str) -> str:
            if third_party and verb in ("picked", "packed"):
                return f"{shipment.location.code} is a 3PL partner: it picks and packs its own."
            if status not in wanted:
                return f"{label} is {shipment.get_status_display().lower()}."
            if held and status in OPEN:
                return f"Order {shipment.order} is on hold: release it first."
            if not may:
                return f"You may not mark shipments {verb}."
            return ""

        pending: set[str] = {ShipmentStatus.PENDING}
        picked: set[str] = {ShipmentStatus.PICKING}
        pack = reverse("admin:fulfilment_shipment_pack")
        slip = url("packing_slip")
        buttons: list[dict[str, Any]] = [
            {
                "label": "Mark picked",
                "url": url("pick"),
                "post": True,
                "why": why(pending, "picked"),
            },
            {
                "label": "Pack at the pack station",
                "url": f"{pack}?{urlencode({'shipment': shipment.pk})}",
                "why": why(picked, "packed"),
            },
            {
                "label": "Ship (in-house carrier)",
                "url": url("ship"),
                "why": why({str(ShipmentStatus.PACKED)}, "shipped"),
            },
            {
                "label": "Pick list (PDF)",
                "url": url("pick_list"),
                "why": ""
                if status in pending | picked and not third_party
                else f"{label} is {shipment.get_status_display().lower()}: nothing to pick.",
            },
            {"label": "Packing slip (PDF)", "url": slip, "why": ""},
            {
                "label": "Label (PDF)",
                "url": url("labels"),
                "why": "" if shipment.tracking_number else f"{label} has no label yet.",
            },
        ]
        return buttons

    def pick_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Mark one shipment picked, everything found (POST; the page's "Mark picked")."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_transition_permission(request):
            raise PermissionDenied
        shipment = Shipment.objects.filter(pk=object_id).prefetch_related("lines").first()
        if shipment is None:
            raise Http404(f"No shipment {object_id}.")
        label = shipment_code(shipment.pk)
        back = HttpResponseRedirect(reverse("admin:fulfilment_shipment_change", args=[object_id]))
        if shipment.status == ShipmentStatus.PICKING:  # a second click: nothing to do
            self.message_user(request, f"{label} was already picked.", messages.INFO)
            return back
        lines = [(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()]
        try:
            after = services.shipment_pick(
                shipment=shipment.pk, lines=lines, actor=self.actor(request)
            )
        except DomainError as exc:
            self.message_user(request, f"{label} not marked picked: {exc}", messages.ERROR)
        else:
            units = sum(q for _, q in lines)
            self.message_user(
                request,
                f"{label} picked: {plural(units, 'unit')}; it is now "
                f"{after.get_status_display().lower()}. Pack it at the pack station.",
                messages.SUCCESS,
            )
        return back

    def pick_list_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The pick list of one shipment (PDF); printing changes nothing."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        shipment = Shipment.objects.select_related("location").filter(pk=object_id).first()
        if shipment is None:
            raise Http404(f"No shipment {object_id}.")
        from fulfilment.documents import pick_list_pdf  # reportlab: not at start-up

        try:
            data = pick_list_pdf(pick_list(location=shipment.location, shipments=[shipment]))
        except DomainError as exc:
            self.message_user(request, f"No pick list: {exc}", messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:fulfilment_shipment_change", args=[object_id])
            )
        response = HttpResponse(data, content_type="application/pdf")
        name = f"pick-list-{shipment_code(shipment.pk)}.pdf"
        response["Content-Disposition"] = f'inline; filename="{name}"'
        return response

    def get_urls(self) -> list[URLPattern]:
        info = (self.opts.app_label, self.opts.model_name)
        wrap = self.admin_site.admin_view
        return [
            path("pack/", wrap(self.pack_view), name="{}_{}_pack".format(*info)),
            path("<int:object_id>/pick/", wrap(self.pick_view), name="{}_{}_pick".format(*info)),
            path(
                "<int:object_id>/pick-list/",
                wrap(self.pick_list_view),
                name="{}_{}_pick_list".format(*info),
            ),
            path(
                "<int:object_id>/packing-slip/",
                wrap(self.packing_slip_view),
                name="{}_{}_packing_slip".format(*info),
            ),
            *super().get_urls(),
        ]

    def packing_slip_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The packing slip of one shipment (A4, or ?size=4x6 for a label printer)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if not Shipment.objects.filter(pk=object_id).exists():
            raise Http404(f"No shipment {object_id}.")
        size = "4x6" if request.GET.get("size") == "4x6" else "a4"
        from fulfilment.documents import packing_slip_pdf  # reportlab: not at start-up

        response = HttpResponse(packing_slip_pdf(object_id, size=size), "application/pdf")
        name = f"packing-slip-{shipment_code(object_id)}{'-4x6' if size == '4x6' else ''}.pdf"
        response["Content-Disposition"] = f'inline; filename="{name}"'
        return response
