"""The fulfilment back office: the shipment queue, pick lists, the pack station, packing slips,
routing configuration and every routing decision explained.

Invariants:
- the admin never writes a shipment, a line or a parcel itself: the list actions and the pack
  station call fulfilment.services, one call per shipment (a re-route cancels and routes in one
  transaction), and a DomainError is reported for that shipment, never a 500; one failing
  shipment never stops the others;
- shipments are never added, edited or deleted here; status and quantities are read-only;
- printing a pick list or a packing slip changes nothing; a held order's shipments are left
  off the pick list, and the pack station refuses them before the first scan (the services
  refuse them anyway: 409 `order_on_hold`, reported like any DomainError);
- the list filters shipments by their order's hold ("Order on hold"); a held order's open
  shipments carry the hold flag in the attention column (fulfilment.services.holds);
- the pack station records nothing until the last step: scans are checked against what the
  shipment holds and kept in a signed token in the page; a refused scan changes nothing;
- the commands (actions, pack station) need fulfilment.change_shipment; viewing needs view;
- the shipment list is built in a constant number of queries whatever the number of rows;
- the order page gets the shipments and routing decisions as read-only inlines added from here
  (orders is a lower layer and never imports fulfilment).

Routing configuration (rules, centroids, schedules, transit times, holidays) is plain admin
configuration: it is saved by the ModelAdmins and read by routing and the delivery promise.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.forms import formset_factory
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django_countries import countries

from fulfilment import services
from fulfilment.models import (
    GeoCentroid,
    Holiday,
    LocationSchedule,
    Parcel,
    RoutingDecision,
    RoutingRule,
    RuleKind,
    Shipment,
    ShipmentLine,
    TransitTime,
)
from fulfilment.picklists import packing_slip_pdf, pick_list, pick_list_pdf, shipment_code
from fulfilment.services.routing import UNLIMITED
from fulfilment.states import OPEN, ShipmentStatus
from inventory.models import LocationKind
from inventory.selectors import sku_find
from oms.admin_utils import IntegerField, ReadOnlyInline, UsedValuesFilter
from oms.errors import DomainError
from orders.models import Order
from orders.selectors import order_hold_reasons

PACK_SALT = "fulfilment.admin.pack"
PACK_MAX_AGE = 12 * 60 * 60  # a packing session may last a shift
MAX_PARCELS = 20
MAX_SCAN_QUANTITY = 9999
REROUTE_TRIGGER = "manual_reroute"
SHIPMENT_REF = re.compile(r"^\s*(?:SH-?)?(\d{1,12})\s*$", re.IGNORECASE)

PRECISION_LABELS = {
    "exact": "exact coordinates",
    "zip": "postal code",
    "postal_prefix": "postal code prefix",
    "city": "city",
    "region": "region",
    "country": "country centre",
    "unplaced": "could not be placed",
}


def with_line_totals(queryset: QuerySet[Shipment]) -> QuerySet[Shipment]:
    """Lines and units per shipment as correlated subqueries: a page computes them for its rows
    only, and the list's COUNT(*) stays a plain count (no join, no GROUP BY)."""
    lines = ShipmentLine.objects.filter(shipment=OuterRef("pk")).order_by().values("shipment")
    return queryset.annotate(
        line_total=Subquery(lines.annotate(n=Count("id")).values("n")),
        unit_total=Subquery(lines.annotate(n=Sum("quantity")).values("n")),
    )


def _actor(request: HttpRequest) -> str:
    return request.user.get_username()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def held_problem(shipment: Shipment) -> str:
    """ "order N is on hold (its holds)", or "" when the shipment's order is not on hold."""
    if not shipment.order.is_on_hold:
        return ""
    reasons = "; ".join(order_hold_reasons(shipment.order_id)) or "hold"
    return f"order {shipment.order} is on hold ({reasons})"


class OrderOnHoldFilter(admin.SimpleListFilter):
    title = "order on hold"
    parameter_name = "order_on_hold"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Shipment]) -> QuerySet[Shipment]:
        if self.value() in ("yes", "no"):
            return queryset.filter(order__is_on_hold=self.value() == "yes")
        return queryset


# --- the routing explanation, readable --------------------------------------------------------


def _explanation_context(explanation: Any) -> dict[str, Any] | None:
    """The stored explanation (fulfilment.services.routing._explain) as rows for a template."""
    if not isinstance(explanation, dict) or not explanation:
        return None
    destination = explanation.get("destination") or {}
    precision = str(destination.get("precision") or "")
    candidates = []
    for row in explanation.get("candidates") or []:
        if not isinstance(row, dict):
            continue
        status = str(row.get("status") or "")
        available = row.get("available") or {}
        candidates.append(
            {
                "location": row.get("location", ""),
                "distance_km": row.get("distance_km"),
                "priority": row.get("priority"),
                "available": [
                    (sku, "unlimited" if isinstance(n, int) and n >= UNLIMITED else n)
                    for sku, n in sorted(available.items())
                ]
                if isinstance(available, dict)
                else [],
                "status": status,
                "chosen": status == "chosen",
                "rejected": status.startswith("rejected"),
            }
        )
    choice = explanation.get("choice") or {}
    return {
        "trigger": explanation.get("trigger", ""),
        "kind": choice.get("kind", ""),
        "reason": choice.get("reason", ""),
        "destination": " ".join(
            str(destination.get(k) or "") for k in ("country", "postal_code") if destination.get(k)
        ),
        "precision": PRECISION_LABELS.get(precision, precision),
        "note": destination.get("note", ""),
        "rules": [str(r) for r in explanation.get("rules") or []],
        "max_shipments": explanation.get("max_shipments"),
        "candidates": candidates,
        "short": [s for s in explanation.get("short") or [] if isinstance(s, dict)],
    }


def explanation_html(explanation: Any, *, compact: bool = False) -> SafeString:
    """The routing explanation as an accessible table (the template escapes every value)."""
    context = _explanation_context(explanation)
    if context is None:
        return format_html("<p>{}</p>", "No explanation was recorded.")
    return SafeString(
        render_to_string(
            "admin/fulfilment/includes/explanation.html", {"x": context, "compact": compact}
        )
    )


# --- read-only inlines ------------------------------------------------------------------------


class ReadOnlyTabularInline(ReadOnlyInline):
    # The wrapper template adds the styles (the order page is another app's page) and hides
    # the row titles (str() of the record) that a read-only table does not need.
    template = "admin/fulfilment/edit_inline/tabular.html"
    classes = ["fulfilment-inline"]


class ShipmentLineInline(ReadOnlyTabularInline):
    model = ShipmentLine
    verbose_name = "line"
    verbose_name_plural = "Lines"
    fields = ["sku", "name", "quantity", "picked", "packed"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ShipmentLine]:
        return (
            super()
            .get_queryset(request)
            .select_related("order_line__sku")
            .order_by("order_line__line_number", "id")
        )

    @admin.display(description="SKU")
    def sku(self, obj: ShipmentLine) -> str:
        return obj.order_line.sku.code if obj.order_line.sku else obj.order_line.sku_code

    @admin.display(description="Name")
    def name(self, obj: ShipmentLine) -> str:
        sku = obj.order_line.sku
        return (sku.name if sku else "") or obj.order_line.name

    @admin.display(description="Picked")
    def picked(self, obj: ShipmentLine) -> int:
        return obj.quantity_picked

    @admin.display(description="Packed")
    def packed(self, obj: ShipmentLine) -> int:
        return obj.quantity_packed


class ParcelInline(ReadOnlyTabularInline):
    model = Parcel
    verbose_name = "parcel"
    verbose_name_plural = "Parcels"
    fields = ["weight", "length", "width", "height", "created_at"]

    @admin.display(description="Weight (g)")
    def weight(self, obj: Parcel) -> int:
        return obj.weight_grams

    @admin.display(description="Length (mm)")
    def length(self, obj: Parcel) -> int | str:
        return obj.length_mm or "-"

    @admin.display(description="Width (mm)")
    def width(self, obj: Parcel) -> int | str:
        return obj.width_mm or "-"

    @admin.display(description="Height (mm)")
    def height(self, obj: Parcel) -> int | str:
        return obj.height_mm or "-"


class ShipmentInline(ReadOnlyTabularInline):
    """The order's shipments, on the order page."""

    model = Shipment
    verbose_name = "shipment"
    verbose_name_plural = "Shipments"
    fields = [
        "shipment_link",
        "location_code",
        "status",
        "units",
        "carrier",
        "tracking_number",
        "expected_delivery_date",
        "shipped_at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Shipment]:
        return with_line_totals(super().get_queryset(request).select_related("location")).order_by(
            "id"
        )

    @admin.display(description="Shipment")
    def shipment_link(self, obj: Shipment) -> str:
        url = reverse("admin:fulfilment_shipment_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, shipment_code(obj.pk))

    @admin.display(description="Location")
    def location_code(self, obj: Shipment) -> str:
        return obj.location.code

    @admin.display(description="Lines / units")
    def units(self, obj: Shipment) -> str:
        return f"{getattr(obj, 'line_total', 0) or 0} / {getattr(obj, 'unit_total', 0) or 0}"


class RoutingDecisionInline(ReadOnlyTabularInline):
    """Every routing decision of the order, newest first, with its candidates."""

    model = RoutingDecision
    verbose_name = "routing decision"
    verbose_name_plural = "Routing decisions (newest first)"
    fields = ["created_at", "trigger", "outcome", "explanation_table"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[RoutingDecision]:
        return super().get_queryset(request).order_by("-created_at", "-id")

    @admin.display(description="Why")
    def explanation_table(self, obj: RoutingDecision) -> SafeString:
        return explanation_html(obj.explanation, compact=True)


def _attach_to_order_page() -> None:
    """Add the shipment and routing inlines to the Order admin that orders registered."""
    order_admin = admin.site._registry.get(Order)
    if order_admin is None:  # orders' admin is not loaded: nothing to attach to
        return
    present = [*order_admin.inlines, *getattr(order_admin, "extra_inlines", [])]
    missing = [i for i in (ShipmentInline, RoutingDecisionInline) if i not in present]
    if missing:
        # This admin instance only: the Order admin class stays as orders defined it.
        cast(Any, order_admin).inlines = [*order_admin.inlines, *missing]


# --- the pack station -------------------------------------------------------------------------


@dataclass
class PackItem:
    """One SKU of the shipment at the pack station: how many to pack, how many scanned."""

    sku_code: str
    name: str
    barcode: str
    weight_grams: int | None
    expected: int
    scanned: int = 0
    lines: list[tuple[int, int]] = field(default_factory=list)  # (order line id, quantity)

    @property
    def remaining(self) -> int:
        return self.expected - self.scanned


@dataclass
class PackState:
    shipment_id: int
    scanned: dict[str, int]

    def token(self) -> str:
        return signing.dumps({"s": self.shipment_id, "c": self.scanned}, salt=PACK_SALT)

    @classmethod
    def load(cls, token: str) -> PackState | None:
        try:
            data = signing.loads(token, salt=PACK_SALT, max_age=PACK_MAX_AGE)
            return cls(
                int(data["s"]),
                {str(k): int(v) for k, v in dict(data.get("c") or {}).items() if int(v) > 0},
            )
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            return None


class ScanForm(forms.Form):
    scan = forms.CharField(
        label="Scan an item",
        max_length=64,
        strip=True,
        help_text="Scan the item's barcode, or type its SKU code, and press Enter.",
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                "autocapitalize": "off",
                "spellcheck": "false",
                "enterkeyhint": "send",
            }
        ),
    )
    quantity = forms.IntegerField(
        label="Quantity",
        min_value=1,
        max_value=MAX_SCAN_QUANTITY,
        initial=1,
        required=False,
        help_text="Units counted by this scan (1 unless you count a stack).",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


class ParcelForm(forms.Form):
    weight_grams = forms.IntegerField(
        label="Weight (g)", min_value=1, max_value=1_000_000, required=False
    )
    length_mm = IntegerField(label="Length (mm)", min_value=1, required=False)
    width_mm = IntegerField(label="Width (mm)", min_value=1, required=False)
    height_mm = IntegerField(label="Height (mm)", min_value=1, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        dimensions = [cleaned.get(k) for k in ("length_mm", "width_mm", "height_mm")]
        if any(dimensions) and not cleaned.get("weight_grams") and not self.errors:
            self.add_error("weight_grams", "Weigh this parcel too.")
        return cleaned


class BaseParcelFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        if not any(form.cleaned_data.get("weight_grams") for form in self.forms):
            raise ValidationError("Weigh the parcel: enter its weight in grams.")


ParcelFormSet = formset_factory(
    ParcelForm, formset=BaseParcelFormSet, extra=0, max_num=MAX_PARCELS, validate_max=True
)


# --- shipments --------------------------------------------------------------------------------


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    """The shipment queue: read-only records; pick lists, picking, packing through commands."""

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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # shipments come from routing

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the page is read-only; the actions and the pack station change shipments

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_transition_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return bool(request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}"))

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
        response = HttpResponse(packing_slip_pdf(object_id, size=size), "application/pdf")
        name = f"packing-slip-{shipment_code(object_id)}{'-4x6' if size == '4x6' else ''}.pdf"
        response["Content-Disposition"] = f'inline; filename="{name}"'
        return response

    # --- actions --------------------------------------------------------------------------------

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
        actor = _actor(request)
        shipments = list(queryset.prefetch_related("lines").order_by("pk"))
        for shipment in shipments:
            label = shipment_code(shipment.pk)
            if shipment.status == ShipmentStatus.PICKING:
                self.message_user(request, f"{label} was already picked.", messages.INFO)
                continue
            lines = [(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()]
            try:
                services.shipment_pick(shipment=shipment.pk, lines=lines, actor=actor)
            except DomainError as exc:
                self.message_user(request, f"{label} not marked picked: {exc}", messages.ERROR)
            else:
                units = sum(q for _, q in lines)
                self.message_user(
                    request,
                    f"{label} picked: {_plural(units, 'unit')}. Pack it at the pack station.",
                    messages.SUCCESS,
                )

    @admin.action(description="Cancel selected shipments", permissions=["transition"])
    def cancel_shipments(self, request: HttpRequest, queryset: QuerySet[Shipment]) -> None:
        actor = _actor(request)
        for shipment in self._selected(queryset):
            label = shipment_code(shipment.pk)
            if shipment.status == ShipmentStatus.CANCELLED:
                self.message_user(request, f"{label} was already cancelled.", messages.INFO)
                continue
            before = set(
                Shipment.objects.filter(order_id=shipment.order_id).values_list("pk", flat=True)
            )
            try:
                services.shipment_cancel(
                    shipment=shipment.pk, reason="cancelled in the back office", actor=actor
                )
            except DomainError as exc:
                self.message_user(request, f"{label} not cancelled: {exc}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{label} cancelled; its stock is released. Order {shipment.order}: "
                    f"{self._routed_to(shipment.order_id, before)}.",
                    messages.SUCCESS,
                )

    @admin.action(
        description="Re-route the orders of selected shipments", permissions=["transition"]
    )
    def reroute_orders(self, request: HttpRequest, queryset: QuerySet[Shipment]) -> None:
        actor = _actor(request)
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

    # --- the pack station -----------------------------------------------------------------------

    def pack_view(self, request: HttpRequest) -> HttpResponse:
        """Scan a shipment, scan every item, weigh the parcels, pack: keyboard and scanner only."""
        if not self.has_transition_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            return self._pack_post(request)
        reference = request.GET.get("shipment", "").strip()
        if not reference:
            return self._pack_render(request, packed=self._packed_shipment(request))
        shipment, problem = self._pack_find(reference)
        if shipment is None or problem:
            return self._pack_render(request, find_error=problem, reference=reference)
        return self._pack_render(request, shipment=shipment, state=PackState(shipment.pk, {}))

    def _packed_shipment(self, request: HttpRequest) -> Shipment | None:
        value = request.GET.get("packed", "")
        if not value.isdigit():
            return None
        return Shipment.objects.select_related("order", "location").filter(pk=int(value)).first()

    def _pack_find(self, reference: str) -> tuple[Shipment | None, str]:
        match = SHIPMENT_REF.match(reference)
        if match is None:
            return None, (
                f"“{reference}” is not a shipment number: scan the barcode on the pick list or "
                "packing slip (SH-123), or type the number."
            )
        pk = int(match[1])
        shipment = Shipment.objects.select_related("order", "location").filter(pk=pk).first()
        if shipment is None:
            return None, f"There is no shipment {shipment_code(pk)}."
        return shipment, self._pack_refusal(shipment)

    def _pack_refusal(self, shipment: Shipment) -> str:
        label = shipment_code(shipment.pk)
        if shipment.status == ShipmentStatus.PICKING:
            held = held_problem(shipment)
            return f"{label} cannot be packed: {held}. Release the order first." if held else ""
        if shipment.status == ShipmentStatus.PENDING:
            return (
                f"{label} is pending: it has not been picked yet. Pick it, confirm it with "
                "“Mark picked” in the shipment list, then scan it here."
            )
        if shipment.status == ShipmentStatus.PACKED:
            return f"{label} is already packed."
        return f"{label} is {shipment.get_status_display().lower()}: there is nothing to pack."

    def _pack_items(self, shipment: Shipment, scanned: dict[str, int]) -> list[PackItem]:
        items: dict[str, PackItem] = {}
        lines = (
            ShipmentLine.objects.filter(shipment=shipment)
            .select_related("order_line__sku")
            .order_by("order_line__line_number", "id")
        )
        for line in lines:
            sku = line.order_line.sku
            code = sku.code if sku else line.order_line.sku_code
            # In picking, picked is what was found; zero means not confirmed: all of it.
            quantity = line.quantity_picked or line.quantity
            item = items.setdefault(
                code,
                PackItem(
                    sku_code=code,
                    name=(sku.name if sku else "") or line.order_line.name,
                    barcode=sku.barcode if sku else "",
                    weight_grams=sku.weight_grams if sku else None,
                    expected=0,
                ),
            )
            item.expected += quantity
            item.lines.append((line.order_line_id, line.quantity))
        for code, count in scanned.items():
            if code in items:
                items[code].scanned = count
        return list(items.values())

    @staticmethod
    def _match(items: Sequence[PackItem], value: str) -> PackItem | None:
        for same in (
            lambda it: it.sku_code == value,
            lambda it: bool(it.barcode) and it.barcode == value,
            lambda it: (
                it.sku_code.casefold() == value.casefold()
                or (bool(it.barcode) and it.barcode.casefold() == value.casefold())
            ),
        ):
            found = next((it for it in items if same(it)), None)
            if found is not None:
                return found
        return None

    def _pack_post(self, request: HttpRequest) -> HttpResponse:
        state = PackState.load(request.POST.get("token", ""))
        if state is None:
            return self._pack_render(
                request,
                find_error="This packing session is not valid any more (too old, or changed): "
                "scan the shipment again. Nothing was recorded.",
                status=400,
            )
        shipment = (
            Shipment.objects.select_related("order", "location")
            .filter(pk=state.shipment_id)
            .first()
        )
        if shipment is None:
            return self._pack_render(
                request, find_error=f"There is no shipment {shipment_code(state.shipment_id)}."
            )
        refusal = self._pack_refusal(shipment)
        if refusal:
            return self._pack_render(request, find_error=refusal)
        items = self._pack_items(shipment, state.scanned)
        known = {it.sku_code for it in items}
        if any(code not in known for code in state.scanned) or any(
            it.remaining < 0 for it in items
        ):
            return self._pack_render(
                request,
                shipment=shipment,
                state=PackState(shipment.pk, {}),
                feedback=(
                    "error",
                    f"{shipment_code(shipment.pk)} changed while it was being scanned: scan "
                    "its items again.",
                ),
            )
        if "_pack" in request.POST or "_add_parcel" in request.POST:
            return self._pack_parcels(request, shipment, state, items)
        return self._pack_scan(request, shipment, state, items)

    def _pack_scan(
        self, request: HttpRequest, shipment: Shipment, state: PackState, items: list[PackItem]
    ) -> HttpResponse:
        form = ScanForm(request.POST)
        if not form.is_valid():
            message = "Scan an item's barcode or type its SKU code."
            if "quantity" in form.errors:
                message = f"The quantity is a whole number from 1 to {MAX_SCAN_QUANTITY}."
            return self._pack_render(
                request, shipment=shipment, state=state, feedback=("error", message)
            )
        value = form.cleaned_data["scan"]
        quantity = form.cleaned_data.get("quantity") or 1
        item = self._match(items, value)
        if item is None:
            if SHIPMENT_REF.match(value) and value.upper().startswith("SH"):
                message = (
                    f"{value} is a shipment: finish {shipment_code(shipment.pk)} first, or "
                    "choose “Another shipment”."
                )
            else:
                sku = sku_find(code_or_barcode=value)
                message = (
                    f"{sku.code} is not in this shipment."
                    if sku is not None
                    else f"“{value}” is not in this shipment (no SKU has this code or barcode)."
                )
            return self._pack_render(
                request, shipment=shipment, state=state, feedback=("error", message)
            )
        if item.scanned + quantity > item.expected:
            if item.remaining == 0:
                message = f"All {item.expected} of {item.sku_code} are already scanned."
            else:
                message = (
                    f"Only {item.remaining} more of {item.sku_code} "
                    f"{'belongs' if item.remaining == 1 else 'belong'} in this shipment, "
                    f"not {quantity}."
                )
            return self._pack_render(
                request, shipment=shipment, state=state, feedback=("error", message)
            )
        item.scanned += quantity
        state = PackState(shipment.pk, {**state.scanned, item.sku_code: item.scanned})
        message = f"{item.sku_code}: {item.scanned} of {item.expected} scanned."
        if all(it.remaining == 0 for it in items):
            message += " Everything is scanned: weigh the parcel."
        return self._pack_render(
            request, shipment=shipment, state=state, items=items, feedback=("ok", message)
        )

    def _pack_parcels(
        self, request: HttpRequest, shipment: Shipment, state: PackState, items: list[PackItem]
    ) -> HttpResponse:
        if any(it.remaining for it in items):
            return self._pack_render(
                request,
                shipment=shipment,
                state=state,
                items=items,
                feedback=("error", "Scan every item before packing."),
            )
        data = request.POST.copy()
        if "_add_parcel" in request.POST:
            total = int(data.get("parcels-TOTAL_FORMS") or 1)
            data["parcels-TOTAL_FORMS"] = str(min(total + 1, MAX_PARCELS))
            formset = ParcelFormSet(data, prefix="parcels")
            return self._pack_render(
                request, shipment=shipment, state=state, items=items, parcels=formset
            )
        formset = ParcelFormSet(data, prefix="parcels")
        if not formset.is_valid():
            return self._pack_render(
                request, shipment=shipment, state=state, items=items, parcels=formset
            )
        parcels: list[dict[str, int | None]] = [
            {k: form.cleaned_data.get(k) for k in ParcelForm.base_fields}
            for form in formset.forms
            if form.cleaned_data.get("weight_grams")
        ]
        actor = _actor(request)
        try:
            with transaction.atomic():  # the pick a pack confirms and the pack: both or neither
                if not ShipmentLine.objects.filter(
                    shipment=shipment, quantity_picked__gt=0
                ).exists():
                    services.shipment_pick(
                        shipment=shipment.pk,
                        lines=[line for it in items for line in it.lines],
                        actor=actor,
                    )
                services.shipment_pack(shipment=shipment.pk, parcels=parcels, actor=actor)
        except DomainError as exc:
            return self._pack_render(
                request,
                shipment=shipment,
                state=state,
                items=items,
                parcels=formset,
                feedback=("error", f"{shipment_code(shipment.pk)} was not packed: {exc}"),
                status=exc.status,
            )
        units = sum(it.expected for it in items)
        self.message_user(
            request,
            f"{shipment_code(shipment.pk)} packed: {_plural(units, 'unit')} in "
            f"{_plural(len(parcels), 'parcel')}.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            f"{reverse('admin:fulfilment_shipment_pack')}?{urlencode({'packed': shipment.pk})}"
        )

    def _pack_render(
        self,
        request: HttpRequest,
        *,
        shipment: Shipment | None = None,
        state: PackState | None = None,
        items: list[PackItem] | None = None,
        parcels: Any = None,
        feedback: tuple[str, str] | None = None,
        find_error: str = "",
        reference: str = "",
        packed: Shipment | None = None,
        status: int = 200,
    ) -> HttpResponse:
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Pack station",
            "changelist_url": reverse("admin:fulfilment_shipment_changelist"),
            "pack_url": reverse("admin:fulfilment_shipment_pack"),
            "find_error": find_error,
            "reference": reference,
            "packed": packed,
            "feedback": feedback,
            "step": 1,
        }
        if packed is not None:
            slip = reverse("admin:fulfilment_shipment_packing_slip", args=[packed.pk])
            context.update(slip_url=slip, slip_4x6_url=f"{slip}?size=4x6")
        if shipment is not None and state is not None:
            if items is None:
                items = self._pack_items(shipment, state.scanned)
            complete = all(it.remaining == 0 for it in items)
            weights = [it.weight_grams for it in items]
            estimate = (
                sum((it.weight_grams or 0) * it.expected for it in items)
                if weights and all(w is not None for w in weights)
                else None
            )
            if complete and parcels is None:
                parcels = ParcelFormSet(prefix="parcels", initial=[{}])
            if complete and parcels.forms:
                # Focus the first parcel with an error, else the one added last.
                target = next((f for f in parcels.forms if f.is_bound and f.errors), None)
                target = target or parcels.forms[-1]
                target.fields["weight_grams"].widget.attrs["autofocus"] = True
            context.update(
                shipment=shipment,
                shipment_label=shipment_code(shipment.pk),
                token=state.token(),
                items=items,
                complete=complete,
                scan_form=ScanForm(initial={"quantity": 1}),
                parcels=parcels,
                estimate=estimate,
                units=sum(it.expected for it in items),
                scanned_units=sum(it.scanned for it in items),
                step=3 if complete else 2,
                restart_url=(
                    f"{reverse('admin:fulfilment_shipment_pack')}?"
                    f"{urlencode({'shipment': shipment.pk})}"
                ),
            )
        return TemplateResponse(
            request, "admin/fulfilment/shipment/pack.html", context, status=status
        )


# --- routing decisions ------------------------------------------------------------------------


DECISION_FIELDS = ("order_link", "trigger", "outcome", "created_at", "explanation_table")


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(admin.ModelAdmin):
    """Why each order went where it went: read-only, written by routing."""

    list_display = ["id", "order_link", "trigger", "outcome", "reason", "created_at"]
    list_display_links = ["id"]
    list_select_related = ["order"]
    list_filter = ["outcome", "trigger", "created_at"]
    search_fields = ["order__number"]
    search_help_text = "Order number."
    list_per_page = 100
    show_full_result_count = False
    fields = ["order_link", "trigger", "outcome", "created_at", "explanation_table"]
    readonly_fields = DECISION_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[RoutingDecision], search_term: str
    ) -> tuple[QuerySet[RoutingDecision], bool]:
        term = search_term.strip()
        return (queryset.filter(order__number=term) if term else queryset), False

    @admin.display(description="Order", ordering="order__number")
    def order_link(self, obj: RoutingDecision) -> str:
        url = reverse("admin:orders_order_change", args=[obj.order_id])
        return format_html('<a href="{}">{}</a>', url, obj.order)

    @admin.display(description="Why")
    def reason(self, obj: RoutingDecision) -> str:
        choice = obj.explanation.get("choice") if isinstance(obj.explanation, dict) else None
        return str((choice or {}).get("reason", ""))

    @admin.display(description="Explanation")
    def explanation_table(self, obj: RoutingDecision) -> SafeString:
        return explanation_html(obj.explanation)


# --- routing configuration ----------------------------------------------------------------------


class SplitChoiceSelect(forms.NullBooleanSelect):
    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.choices = [
            ("unknown", "Not set by this rule"),
            ("true", "Yes: split when no location has everything"),
            ("false", "No: ship complete from one location"),
        ]


def _country_codes(value: str) -> tuple[str, list[str]]:
    """Normalise "de, at fr" to "AT,DE,FR"; return it and the codes that are no country."""
    codes = [c.upper() for c in re.split(r"[\s,;]+", value or "") if c]
    unknown = [c for c in codes if not countries.alpha2(c)]
    known = sorted({str(countries.alpha2(c)) for c in codes if countries.alpha2(c)})
    return ",".join(known), unknown


class RoutingRuleForm(forms.ModelForm):
    class Meta:
        model = RoutingRule
        fields = [
            "position",
            "name",
            "is_active",
            "channel",
            "countries",
            "kind",
            "locations",
            "priority",
            "allow_split",
            "max_splits",
            "on_shortage",
        ]
        widgets = {"allow_split": SplitChoiceSelect}
        help_texts = {
            "priority": "For priority rules: the routing priority these locations get "
            "(lower is preferred; a location's own priority is used otherwise).",
            "position": "Rules are read in this order, lowest first.",
        }

    def clean_countries(self) -> str:
        value, unknown = _country_codes(self.cleaned_data.get("countries", ""))
        if unknown:
            raise ValidationError(
                f"Not ISO 3166-1 country codes: {', '.join(unknown)}. Use two letters, e.g. DE, AT."
            )
        return value

    def clean_max_splits(self) -> int | None:
        value = self.cleaned_data.get("max_splits")
        if value is not None and value < 1:
            raise ValidationError("At least 1 shipment (1 = never split).")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind")
        locations = cleaned.get("locations")
        has_locations = locations is not None and len(locations) > 0
        needs_locations = (RuleKind.EXCLUDE, RuleKind.ONLY, RuleKind.PRIORITY, RuleKind.SERVES)
        if kind in needs_locations and not has_locations and "locations" not in self.errors:
            self.add_error("locations", "Choose the locations this rule is about.")
        if kind == RuleKind.PRIORITY and cleaned.get("priority") is None:
            self.add_error("priority", "A priority rule sets a priority (lower is preferred).")
        if (
            kind == RuleKind.SERVES
            and not cleaned.get("countries")
            and "countries" not in self.errors
        ):
            self.add_error("countries", "List the countries these 3PL locations serve.")
        if kind == RuleKind.SPLITS and (
            cleaned.get("allow_split") is None
            and cleaned.get("max_splits") is None
            and not cleaned.get("on_shortage")
        ):
            self.add_error(
                None,
                "A split policy sets at least one of: allow split, max splits, on shortage.",
            )
        return cleaned


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    form = RoutingRuleForm
    list_display = [
        "position",
        "name",
        "is_active",
        "kind",
        "channel",
        "countries",
        "location_codes",
        "priority",
        "allow_split",
        "max_splits",
        "on_shortage",
    ]
    list_display_links = ["name"]
    list_editable = ["position", "is_active"]
    list_select_related = ["channel"]
    list_filter = ["kind", "is_active", "channel"]
    search_fields = ["name", "countries"]
    filter_horizontal = ["locations"]
    fieldsets = [
        (None, {"fields": ["position", "name", "is_active", "kind"]}),
        (
            "When it applies",
            {
                "fields": ["channel", "countries"],
                "description": "Empty channel or countries match every order. A 3PL "
                "“serves” rule applies to every order: its countries are the ones the "
                "locations serve.",
            },
        ),
        ("Locations", {"fields": ["locations", "priority"]}),
        (
            "Split policy",
            {
                "fields": ["allow_split", "max_splits", "on_shortage"],
                "description": "For “split policy” rules; the first active rule that sets a "
                "value wins.",
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[RoutingRule]:
        return super().get_queryset(request).prefetch_related("locations")

    @admin.display(description="Locations")
    def location_codes(self, obj: RoutingRule) -> str:
        return ", ".join(sorted(loc.code for loc in obj.locations.all())) or "-"


class CountryInUseFilter(UsedValuesFilter):
    title = "country"
    parameter_name = "country"
    field_name = "country"


class CountryCodeForm(forms.ModelForm):
    def clean_country(self) -> str:
        value = str(self.cleaned_data.get("country") or "").strip().upper()
        if not countries.alpha2(value):
            raise ValidationError("An ISO 3166-1 alpha-2 country code, e.g. DE.")
        return str(countries.alpha2(value))


class GeoCentroidForm(CountryCodeForm):
    class Meta:
        model = GeoCentroid
        fields = ["country", "postal_prefix", "city", "region", "latitude", "longitude"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not any(cleaned.get(k) for k in ("postal_prefix", "city", "region")):
            self.add_error(None, "Give a postal prefix, a city or a region.")
        lat, lon = cleaned.get("latitude"), cleaned.get("longitude")
        if lat is not None and not -90 <= lat <= 90:
            self.add_error("latitude", "Between -90 and 90.")
        if lon is not None and not -180 <= lon <= 180:
            self.add_error("longitude", "Between -180 and 180.")
        return cleaned


@admin.register(GeoCentroid)
class GeoCentroidAdmin(admin.ModelAdmin):
    form = GeoCentroidForm
    list_display = ["country", "postal_prefix", "city", "region", "latitude", "longitude"]
    list_filter = [CountryInUseFilter]
    search_fields = ["postal_prefix", "city", "region"]
    ordering = ["country", "postal_prefix", "city"]
    list_per_page = 100
    show_full_result_count = False


class LocationScheduleForm(forms.ModelForm):
    timezone = forms.ChoiceField(
        choices=[(tz, tz) for tz in sorted(zoneinfo.available_timezones())],
        initial="UTC",
        help_text="The location's clock: the cut-off is in this time zone.",
    )

    class Meta:
        model = LocationSchedule
        fields = ["location", "handling_days", "cutoff", "timezone", "works_saturday"]


@admin.register(LocationSchedule)
class LocationScheduleAdmin(admin.ModelAdmin):
    form = LocationScheduleForm
    list_display = ["location", "handling_days", "cutoff", "timezone", "works_saturday"]
    list_select_related = ["location"]
    list_filter = ["works_saturday"]
    search_fields = ["location__code", "location__name"]
    autocomplete_fields = ["location"]
    ordering = ["location__code"]


@admin.register(TransitTime)
class TransitTimeAdmin(admin.ModelAdmin):
    list_display = ["carrier", "service", "max_km", "days", "is_default"]
    list_filter = ["carrier", "is_default"]
    search_fields = ["carrier", "service"]


class HolidayForm(CountryCodeForm):
    class Meta:
        model = Holiday
        fields = ["country", "date", "name"]


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    form = HolidayForm
    list_display = ["date", "country", "name"]
    list_filter = [CountryInUseFilter]
    date_hierarchy = "date"
    search_fields = ["name"]
    ordering = ["-date", "country"]


_attach_to_order_page()


# Screens of the carriers' labels, tracking and 3PL partners live in their own modules.
from fulfilment import admin_labels, admin_partners, admin_tracking  # noqa: E402, F401
