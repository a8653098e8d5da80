"""Back-office screens of fulfilment: labels (imported by fulfilment/admin.py).

Added to the Shipment admin that fulfilment/admin.py registered (this instance only):
- actions "Print labels (one merged PDF)" (view permission), "Ship with the in-house carrier"
  and "Buy label again" (for shipments needing attention; both need change permission);
- a "needs attention" list filter and column, and the labels as a read-only inline;
- pages /admin/fulfilment/shipment/<id>/ship/ (ship with the in-house carrier, standard
  service: GET asks, POST does it; `?next=` brings the user back, e.g. to the pack station)
  and /admin/fulfilment/shipment/<id>/labels/ (the labels as one PDF, or ?format=zpl).
And a read-only ShippingLabel admin with links to each label's PDF and ZPL.

Invariants: nothing here writes a model: the actions and pages call
fulfilment.services.labels, one call per shipment, and report a DomainError per shipment
(never a 500, one failing shipment never stops the others; a held order's shipment is refused
by the service, 409 `order_on_hold`, and reported so); printing changes nothing and leaves out
the labels of a held order's shipments that have not shipped; the lists never load label files
(PDF bytes, ZPL text) and take a constant number of queries.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Case, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from fulfilment import selectors
from fulfilment.models import Shipment, ShippingLabel
from fulfilment.services.labels import (
    labels_merged_pdf,
    labels_merged_zpl,
    shipment_label_retry,
    shipment_ship_request,
)
from fulfilment.states import OPEN, ShipmentStatus
from oms.admin.readonly import ReadOnlyInline, ReadOnlyModelAdmin
from oms.admin.tools import actor_name, each_object, tool_context
from oms.errors import DomainError
from orders.selectors import order_hold_reasons

INHOUSE = ("inhouse", "standard")  # carrier, service of the pack station's button


def _code(shipment_id: int) -> str:
    return f"SH-{shipment_id}"


def _can_transition(model_admin: Any, request: HttpRequest) -> bool:
    check = getattr(model_admin, "has_transition_permission", None)
    if check is not None:
        return bool(check(request))
    return bool(request.user.has_perm("fulfilment.change_shipment"))


def _labels_response(shipment_ids: list[int], *, kind: str, filename: str) -> HttpResponse | None:
    labels = list(selectors.shipment_labels(shipment_ids))
    if not labels or not all(bytes(label.pdf) for label in labels):
        return None  # none yet, or erased with the shopper's personal data
    if kind == "zpl":
        if not all(label.zpl for label in labels):
            return None
        response = HttpResponse(
            labels_merged_zpl([label.zpl for label in labels]),
            content_type="text/plain; charset=utf-8",
        )
    else:
        response = HttpResponse(
            labels_merged_pdf([bytes(label.pdf) for label in labels]),
            content_type="application/pdf",
        )
    response["Content-Disposition"] = f'inline; filename="{filename}.{kind}"'
    return response


# --- actions on the shipment list -------------------------------------------------------------


@admin.action(description="Print labels (one merged PDF)", permissions=["view"])
def print_labels(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Shipment]
) -> HttpResponse | None:
    ids = sorted(queryset.values_list("pk", flat=True))
    held = sorted(
        queryset.filter(order__is_on_hold=True, status__in=OPEN).values_list("pk", flat=True)
    )
    for pk in held:
        model_admin.message_user(
            request,
            f"{_code(pk)} left out: its order is on hold, it does not ship until released.",
            messages.ERROR,
        )
    ids = [pk for pk in ids if pk not in held]
    with_labels = set(
        selectors.shipment_labels(ids).values_list("shipment_id", flat=True).distinct()
    )
    missing = [pk for pk in ids if pk not in with_labels]
    if missing:
        model_admin.message_user(
            request,
            f"No label yet for {', '.join(map(_code, missing))}: left out.",
            messages.WARNING,
        )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = _labels_response(
        [pk for pk in ids if pk in with_labels], kind="pdf", filename=f"labels-{stamp}"
    )
    if response is None:
        model_admin.message_user(
            request, "No labels to print: none of the selected shipments has one.", messages.ERROR
        )
    return response


@admin.action(description="Ship with the in-house carrier (buy labels)", permissions=["transition"])
def ship_inhouse(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Shipment]
) -> None:
    carrier, service = INHOUSE
    actor = actor_name(request)

    def ship(pk: int) -> str | tuple[str, int]:
        shipment = shipment_ship_request(shipment=pk, carrier=carrier, service=service, actor=actor)
        if shipment.status == ShipmentStatus.SHIPPED:
            return f"{_code(pk)} was already shipped.", messages.INFO
        return f"{_code(pk)}: the in-house label is being made; it ships once it is done."

    each_object(
        model_admin,
        request,
        sorted(queryset.values_list("pk", flat=True)),
        ship,
        failed=lambda pk, exc: f"{_code(pk)} not shipped: {exc}",
    )


@admin.action(
    description="Buy label again (shipments needing attention)", permissions=["transition"]
)
def buy_label_again(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Shipment]
) -> None:
    actor = actor_name(request)

    def buy_again(row: tuple[int, bool, str]) -> str | tuple[str, int]:
        pk, flagged, message = row
        if not flagged:
            return f"{_code(pk)} does not need attention: left as it is.", messages.INFO
        shipment_label_retry(shipment=pk, actor=actor)
        return f"{_code(pk)}: buying the label again (it failed with: {message or 'no reason'})."

    each_object(
        model_admin,
        request,
        queryset.order_by("pk").values_list("pk", "needs_attention", "attention_message"),
        buy_again,
        failed=lambda row, exc: f"{_code(row[0])}: {exc}",
    )


@admin.display(description="Attention", ordering="needs_attention")
def attention(obj: Shipment) -> str:
    if not obj.needs_attention:
        return ""
    return format_html(
        '<span title="{}" style="color: var(--error-fg, #ba2121)">⚠ {}</span>',
        obj.attention_message,
        obj.attention_message[:60] or "needs attention",
    )


class ShippingLabelInline(ReadOnlyInline):
    """The labels of the shipment, on its page."""

    model = ShippingLabel
    template = "admin/fulfilment/edit_inline/tabular.html"
    classes = ["fulfilment-inline"]
    verbose_name = "label"
    verbose_name_plural = "Labels"
    fields = ["tracking_number", "parcel_id", "carrier", "service", "sscc", "created_at", "files"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ShippingLabel]:
        return _without_files(super().get_queryset(request)).order_by("parcel_id")

    @admin.display(description="Parcel")
    def parcel_id(self, obj: ShippingLabel) -> int:
        return obj.parcel_id

    @admin.display(description="Files")
    def files(self, obj: ShippingLabel) -> str:
        return _file_links(obj)


def _without_files(queryset: QuerySet[ShippingLabel]) -> QuerySet[ShippingLabel]:
    return queryset.defer("pdf", "zpl").annotate(
        has_zpl=Case(
            When(zpl="", then=Value(False)), default=Value(True), output_field=BooleanField()
        )
    )


def _file_links(obj: ShippingLabel) -> str:
    pdf = reverse("admin:fulfilment_shippinglabel_pdf", args=[obj.pk])
    if not getattr(obj, "has_zpl", True):
        return format_html('<a href="{}">PDF</a>', pdf)
    zpl = reverse("admin:fulfilment_shippinglabel_zpl", args=[obj.pk])
    return format_html('<a href="{}">PDF</a> · <a href="{}">ZPL</a>', pdf, zpl)


# --- pages of the shipment admin --------------------------------------------------------------


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def ship_view(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: int) -> HttpResponse:
    """Ship one packed shipment with the in-house carrier (standard): GET asks, POST does it."""
    if not _can_transition(model_admin, request):
        raise PermissionDenied
    shipment = Shipment.objects.select_related("order", "location").filter(pk=object_id).first()
    if shipment is None:
        raise Http404(f"No shipment {object_id}.")
    change_url = reverse("admin:fulfilment_shipment_change", args=[shipment.pk])
    back = _next_url(request, change_url)
    if request.method == "POST":
        carrier, service = INHOUSE
        try:
            shipment = shipment_ship_request(
                shipment=shipment.pk, carrier=carrier, service=service, actor=actor_name(request)
            )
        except DomainError as exc:
            model_admin.message_user(
                request, f"{_code(shipment.pk)} not shipped: {exc}", messages.ERROR
            )
            return HttpResponseRedirect(back)
        labels = reverse("admin:fulfilment_shipment_labels", args=[shipment.pk])
        if shipment.status == ShipmentStatus.SHIPPED:
            text = '{} was already shipped. <a href="{}">Its labels (PDF)</a>.'
            level = messages.INFO
        else:
            text = (
                "{} ships with the in-house carrier: its label is being made. "
                '<a href="{}">Print the labels (PDF)</a> once it is done.'
            )
            level = messages.SUCCESS
        model_admin.message_user(request, format_html(text, _code(shipment.pk), labels), level)
        return HttpResponseRedirect(back)
    problem = ""
    if shipment.status != ShipmentStatus.PACKED:
        problem = (
            f"{_code(shipment.pk)} is {shipment.get_status_display().lower()}: only a packed "
            "shipment gets a label."
        )
    elif shipment.order.is_on_hold:
        reasons = "; ".join(order_hold_reasons(shipment.order_id)) or "hold"
        problem = (
            f"{_code(shipment.pk)} gets no label: order {shipment.order} is on hold "
            f"({reasons}). Release the order first."
        )
    context = tool_context(
        model_admin,
        request,
        f"Ship {_code(shipment.pk)} with the in-house carrier",
        shipment=shipment,
        shipment_label=_code(shipment.pk),
        problem=problem,
        next=back,
        change_url=change_url,
    )
    return TemplateResponse(request, "admin/fulfilment/labels/ship.html", context)


def labels_view(
    model_admin: admin.ModelAdmin, request: HttpRequest, object_id: int
) -> HttpResponse:
    """The labels of one shipment: one PDF (a page per parcel), or ?format=zpl."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    kind = "zpl" if request.GET.get("format") == "zpl" else "pdf"
    response = _labels_response([object_id], kind=kind, filename=f"label-{_code(object_id)}")
    if response is None:
        raise Http404(f"{_code(object_id)} has no {kind.upper()} label yet.")
    return response


def _extend_shipment_admin() -> None:
    shipment_admin = cast(Any, admin.site._registry.get(Shipment))
    if shipment_admin is None or getattr(shipment_admin, "_labels_attached", False):
        return
    shipment_admin._labels_attached = True
    shipment_admin.actions = [
        *shipment_admin.actions,
        print_labels,
        ship_inhouse,
        buy_label_again,
    ]
    shipment_admin.list_filter = [*shipment_admin.list_filter, "needs_attention"]
    shipment_admin.list_display = [*shipment_admin.list_display, attention]
    shipment_admin.inlines = [*shipment_admin.inlines, ShippingLabelInline]
    base_get_urls = shipment_admin.get_urls

    def get_urls() -> list[URLPattern]:
        wrap = shipment_admin.admin_site.admin_view
        return [
            path(
                "<int:object_id>/ship/",
                wrap(lambda request, object_id: ship_view(shipment_admin, request, object_id)),
                name="fulfilment_shipment_ship",
            ),
            path(
                "<int:object_id>/labels/",
                wrap(lambda request, object_id: labels_view(shipment_admin, request, object_id)),
                name="fulfilment_shipment_labels",
            ),
            *base_get_urls(),
        ]

    shipment_admin.get_urls = get_urls


_extend_shipment_admin()


# --- the labels -------------------------------------------------------------------------------


LABEL_FIELDS = (
    "shipment_link",
    "parcel_id",
    "carrier",
    "service",
    "tracking_number",
    "carrier_reference",
    "sscc",
    "created_at",
    "voided_at",
    "files",
)


@admin.register(ShippingLabel)
class ShippingLabelAdmin(ReadOnlyModelAdmin):
    """Every label bought: read-only, written by fulfilment.services.labels."""

    list_display = [
        "tracking_number",
        "shipment_link",
        "parcel_id",
        "carrier",
        "service",
        "sscc",
        "created_at",
        "voided_at",
        "files",
    ]
    list_display_links = ["tracking_number"]
    list_filter = ["carrier", "created_at"]
    search_fields = ["tracking_number", "sscc", "carrier_reference"]
    search_help_text = "Tracking number, SSCC or the carrier's reference."
    list_per_page = 100
    show_full_result_count = False
    fields = [*LABEL_FIELDS]
    readonly_fields = LABEL_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[ShippingLabel]:
        return _without_files(super().get_queryset(request))

    @admin.display(description="Shipment", ordering="shipment_id")
    def shipment_link(self, obj: ShippingLabel) -> str:
        url = reverse("admin:fulfilment_shipment_change", args=[obj.shipment_id])
        return format_html('<a href="{}">{}</a>', url, _code(obj.shipment_id))

    @admin.display(description="Parcel", ordering="parcel_id")
    def parcel_id(self, obj: ShippingLabel) -> int:
        return obj.parcel_id

    @admin.display(description="Files")
    def files(self, obj: ShippingLabel) -> str:
        return _file_links(obj)

    def get_urls(self) -> list[URLPattern]:
        info = (self.opts.app_label, self.opts.model_name)
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/pdf/",
                wrap(self.file_view),
                {"kind": "pdf"},
                name="{}_{}_pdf".format(*info),
            ),
            path(
                "<int:object_id>/zpl/",
                wrap(self.file_view),
                {"kind": "zpl"},
                name="{}_{}_zpl".format(*info),
            ),
            *super().get_urls(),
        ]

    def file_view(self, request: HttpRequest, object_id: int, kind: str) -> HttpResponse:
        """One label's PDF or ZPL, as the carrier made it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        label = ShippingLabel.objects.filter(pk=object_id).first()
        if label is None or not (label.zpl if kind == "zpl" else bytes(label.pdf)):
            raise Http404(f"No {kind.upper()} label {object_id}.")
        if kind == "zpl":
            response = HttpResponse(label.zpl, content_type="text/plain; charset=utf-8")
        else:
            response = HttpResponse(bytes(label.pdf), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="label-{label.tracking_number}.{kind}"'
        return response
