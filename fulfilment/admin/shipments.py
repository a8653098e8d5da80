"""The shipment queue and a shipment's page (read-only); the commands are in shipment_actions
and pack_station.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from fulfilment.admin.explanation import explanation_html
from fulfilment.admin.inlines import ParcelInline, ShipmentLineInline
from fulfilment.admin.pack_station import PackStation
from fulfilment.admin.shared import with_line_totals
from fulfilment.admin.shipment_actions import ShipmentActions
from fulfilment.models import Shipment
from fulfilment.picklists import shipment_code
from fulfilment.services.packing import SHIPMENT_REF
from fulfilment.states import OPEN, ShipmentStatus
from oms.admin.export import CsvExportMixin
from oms.admin.readonly import ReadOnlyModelAdmin


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
        "line_count",
        "unit_count",
        "expected_ship_date",
        "expected_delivery_date",
        "carrier",
        "tracking_number",
        "created_at",
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
        links: list[tuple[str, str]] = []
        shipment = (
            Shipment.objects.filter(pk=object_id).only("status").first()
            if object_id.isdigit()
            else None
        )
        if shipment is not None:
            slip = reverse("admin:fulfilment_shipment_packing_slip", args=[shipment.pk])
            links.append((slip, "Packing slip (PDF)"))
            if shipment.status == ShipmentStatus.PICKING and self.has_transition_permission(
                request
            ):
                pack = reverse("admin:fulfilment_shipment_pack")
                links.append((f"{pack}?{urlencode({'shipment': shipment.pk})}", "Pack it"))
        extra_context = {**(extra_context or {}), "shipment_links": links}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self) -> list[URLPattern]:
        info = (self.opts.app_label, self.opts.model_name)
        wrap = self.admin_site.admin_view
        return [
            path("pack/", wrap(self.pack_view), name="{}_{}_pack".format(*info)),
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
