"""The receiving station and the receiving queue of the back office.

The station (admin/returns/returnrequest/receive/): choose the location, scan or type the
return number, then scan or type each item (SKU code or barcode) with its condition and its
disposition, and finish: one call to returns.services.return_receive records the receipt
(partial receipts are fine: what was not scanned stays expected).

Invariants: the scans of a receipt live in a signed token in the page (nothing is written
before "Finish"); a scan beyond what the return still expects is refused with a message and
not counted; the service checks everything again under the order's lock when it writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from inventory.models import Location
from oms.admin.readonly import ReadOnlyModelAdmin
from oms.admin.tools import tool_context
from oms.errors import DomainError
from returns import selectors, services
from returns.labels import shipment_of_return
from returns.models import ReceivingQueue, ReturnLine, ReturnRequest
from returns.states import (
    ALLOWED_DISPOSITIONS,
    DEFAULT_DISPOSITION,
    RECEIVABLE_STATUSES,
    Condition,
    Disposition,
)

SALT = "returns.admin.receive"
MAX_AGE = 12 * 60 * 60  # a receiving session may last a shift
MAX_SCAN_QUANTITY = 999
SESSION_LOCATION = "returns_receive_location"


@dataclass
class ReceiveState:
    return_id: int
    location_id: int
    #: [order line id, condition, disposition, quantity] per scan, in order
    scans: list[list[Any]] = field(default_factory=list)

    def token(self) -> str:
        return signing.dumps(
            {"r": self.return_id, "l": self.location_id, "s": self.scans}, salt=SALT
        )

    @classmethod
    def load(cls, token: str) -> ReceiveState | None:
        try:
            data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
            scans = [
                [int(line), str(condition), str(disposition), int(quantity)]
                for line, condition, disposition, quantity in data.get("s") or []
            ]
            return cls(int(data["r"]), int(data["l"]), scans)
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            return None

    def scanned(self, line_id: int) -> int:
        return sum(s[3] for s in self.scans if s[0] == line_id)


@dataclass
class ReceiveItem:
    line: ReturnLine
    sku_code: str
    name: str
    barcode: str
    scanned: int = 0

    @property
    def expected(self) -> int:
        return self.line.quantity - self.line.quantity_received

    @property
    def remaining(self) -> int:
        return self.expected - self.scanned


class ScanForm(forms.Form):
    scan = forms.CharField(label="Scan an item", max_length=64, strip=True)
    quantity = forms.IntegerField(
        label="Quantity", min_value=1, max_value=MAX_SCAN_QUANTITY, initial=1, required=False
    )
    condition = forms.ChoiceField(label="Condition", choices=Condition.choices)
    disposition = forms.ChoiceField(
        label="Disposition",
        choices=[("", "As the condition says"), *Disposition.choices],
        required=False,
    )


def _items(ret: ReturnRequest, state: ReceiveState | None) -> list[ReceiveItem]:
    items = []
    for line in ret.lines.select_related("order_line__sku").order_by("id"):
        sku = line.order_line.sku
        items.append(
            ReceiveItem(
                line=line,
                sku_code=sku.code if sku else line.order_line.sku_code,
                name=line.order_line.name or (sku.name if sku else ""),
                barcode=sku.barcode if sku else "",
                scanned=state.scanned(line.order_line_id) if state else 0,
            )
        )
    return items


def _match(items: list[ReceiveItem], value: str) -> list[ReceiveItem]:
    for same in (
        lambda it: it.sku_code == value or (bool(it.barcode) and it.barcode == value),
        lambda it: (
            it.sku_code.casefold() == value.casefold()
            or (bool(it.barcode) and it.barcode.casefold() == value.casefold())
        ),
    ):
        found = [it for it in items if same(it)]
        if found:
            return found
    return []


def _find_return(reference: str) -> tuple[ReturnRequest | None, str]:
    ret = (
        ReturnRequest.objects.select_related("order")
        .filter(number__iexact=reference.strip())
        .first()
    )
    if ret is None:
        return None, f"There is no return “{reference}”. Scan the label or type the number."
    if ret.status not in RECEIVABLE_STATUSES:
        return ret, (
            f"Return {ret.number} is {ret.get_status_display().lower()}: only authorised "
            "returns that are not fully received can be received."
        )
    return ret, ""


def _render(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    location: Location | None = None,
    ret: ReturnRequest | None = None,
    state: ReceiveState | None = None,
    feedback: tuple[str, str] | None = None,
    find_error: str = "",
    reference: str = "",
    status: int = 200,
) -> HttpResponse:
    receive_url = reverse("admin:returns_returnrequest_receive")
    context = tool_context(
        model_admin,
        request,
        "Receive returns",
        receive_url=receive_url,
        queue_url=reverse("admin:returns_receivingqueue_changelist"),
        changelist_url=reverse("admin:returns_returnrequest_changelist"),
        locations=list(Location.objects.filter(is_active=True).order_by("code")),
        location=location,
        find_error=find_error,
        reference=reference,
        feedback=feedback,
        conditions=Condition.choices,
        dispositions=Disposition.choices,
        allowed={k: sorted(v) for k, v in ALLOWED_DISPOSITIONS.items()},
        defaults=DEFAULT_DISPOSITION,
    )
    if ret is not None and state is not None and location is not None:
        items = _items(ret, state)
        by_line = {it.line.order_line_id: it for it in items}
        context.update(
            ret=ret,
            token=state.token(),
            items=items,
            scans=[
                {
                    "sku": by_line[s[0]].sku_code if s[0] in by_line else s[0],
                    "condition": Condition(s[1]).label,
                    "disposition": Disposition(s[2]).label,
                    "quantity": s[3],
                }
                for s in state.scans
            ],
            scanned_units=sum(s[3] for s in state.scans),
            expected_units=sum(it.expected for it in items),
            restart_url=f"{receive_url}?location={location.code}&return={ret.number}",
            next_url=f"{receive_url}?location={location.code}",
            return_url=reverse("admin:returns_returnrequest_change", args=[ret.pk]),
        )
    return TemplateResponse(request, "admin/returns/receive.html", context, status=status)


def return_destination_code(reference: str) -> str:
    """The code of the location a return's label sends it to ("" if none)."""
    ret = ReturnRequest.objects.filter(number__iexact=reference).first()
    shipment = shipment_of_return(ret) if ret is not None else None
    return shipment.location.code if shipment is not None else ""


def receive_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The receiving station (see the module docstring)."""
    if not model_admin.has_change_permission(request):
        raise PermissionDenied
    if request.method == "POST":
        return _post(model_admin, request)
    code = (request.GET.get("location") or request.session.get(SESSION_LOCATION) or "").strip()
    reference = request.GET.get("return", "").strip()
    if not code and reference:
        # No location chosen yet: the one the return label sends the parcel to.
        code = return_destination_code(reference)
    location = Location.objects.filter(code=code, is_active=True).first() if code else None
    if location is None or not reference:
        error = f"There is no active location {code}." if code and location is None else ""
        return _render(
            model_admin, request, location=location, find_error=error, reference=reference
        )
    request.session[SESSION_LOCATION] = location.code
    ret, problem = _find_return(reference)
    if ret is None or problem:
        return _render(
            model_admin, request, location=location, find_error=problem, reference=reference
        )
    return _render(
        model_admin, request, location=location, ret=ret, state=ReceiveState(ret.pk, location.pk)
    )


def _post(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    state = ReceiveState.load(request.POST.get("token", ""))
    if state is None:
        return _render(
            model_admin,
            request,
            find_error="This receiving session is not valid any more (too old, or changed): "
            "scan the return again. Nothing was recorded.",
            status=400,
        )
    location = Location.objects.filter(pk=state.location_id).first()
    ret = ReturnRequest.objects.select_related("order").filter(pk=state.return_id).first()
    if ret is None or location is None:
        return _render(model_admin, request, find_error="This return or location is gone.")
    if ret.status not in RECEIVABLE_STATUSES:
        _, problem = _find_return(ret.number)
        return _render(model_admin, request, location=location, find_error=problem)
    if "_finish" in request.POST:
        return _finish(model_admin, request, location, ret, state)
    return _scan(model_admin, request, location, ret, state)


def _scan(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    location: Location,
    ret: ReturnRequest,
    state: ReceiveState,
) -> HttpResponse:
    def again(kind: str, text: str, status: int = 200) -> HttpResponse:
        return _render(
            model_admin,
            request,
            location=location,
            ret=ret,
            state=state,
            feedback=(kind, text),
            status=status,
        )

    form = ScanForm(request.POST)
    if not form.is_valid():
        return again(
            "error", "Scan an item's barcode or type its SKU code, and pick its condition."
        )
    value = form.cleaned_data["scan"]
    quantity = form.cleaned_data["quantity"] or 1
    condition = form.cleaned_data["condition"]
    disposition = form.cleaned_data["disposition"] or DEFAULT_DISPOSITION[condition]
    if disposition not in ALLOWED_DISPOSITIONS[condition]:
        return again(
            "error",
            f"A {Condition(condition).label.lower()} unit is quarantined or written off, never "
            "restocked. Nothing was counted.",
        )
    items = _items(ret, state)
    found = _match(items, value)
    if not found:
        return again(
            "error", f"“{value}” is not an item of return {ret.number}. Nothing was counted."
        )
    item = next((it for it in found if it.remaining >= quantity), None)
    if item is None:
        left = sum(max(it.remaining, 0) for it in found)
        return again(
            "error",
            f"More than authorised: return {ret.number} expects only {left} more of "
            f"{found[0].sku_code}. Nothing was counted; set the extra item aside.",
        )
    state.scans.append([item.line.order_line_id, condition, disposition, quantity])
    return again(
        "ok",
        f"{quantity} x {item.sku_code} {Condition(condition).label.lower()} → "
        f"{Disposition(disposition).label.lower()}.",
    )


def _finish(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    location: Location,
    ret: ReturnRequest,
    state: ReceiveState,
) -> HttpResponse:
    if not state.scans:
        return _render(
            model_admin,
            request,
            location=location,
            ret=ret,
            state=state,
            feedback=("error", "Scan at least one item before finishing."),
        )
    grouped: dict[tuple[int, str, str], int] = {}
    for line_id, condition, disposition, quantity in state.scans:
        grouped[(line_id, condition, disposition)] = (
            grouped.get((line_id, condition, disposition), 0) + quantity
        )
    try:
        received = services.return_receive(
            return_request=ret.pk,
            location=location,
            lines=[
                {"order_line": line, "condition": c, "disposition": d, "quantity": q}
                for (line, c, d), q in grouped.items()
            ],
            actor=request.user.get_username(),
        )
    except DomainError as exc:
        return _render(
            model_admin,
            request,
            location=location,
            ret=ret,
            state=ReceiveState(ret.pk, location.pk),
            feedback=("error", f"Nothing was recorded: {exc}. Scan the items again."),
            status=exc.status,
        )
    units = sum(grouped.values())
    model_admin.message_user(
        request,
        f"Return {received.number}: {units} unit{'s' if units != 1 else ''} received at "
        f"{location.code} ({received.get_status_display().lower()}).",
        messages.SUCCESS,
    )
    return HttpResponseRedirect(
        f"{reverse('admin:returns_returnrequest_receive')}?location={location.code}"
    )


@admin.register(ReceivingQueue)
class ReceivingQueueAdmin(ReadOnlyModelAdmin):
    """Authorised returns not fully received, oldest first: the warehouse's to-do list."""

    list_display = ["number", "receive_link", "order", "channel", "status", "units", "created_at"]
    list_display_links = None
    list_filter = ["order__channel"]
    search_fields = ["number", "order__number"]
    change_list_template = "admin/returns/receivingqueue/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReturnRequest]:
        return selectors.receiving_queue()

    def get_ordering(self, request: HttpRequest) -> tuple[str, ...]:
        return ("created_at", "id")

    @admin.display(description="Receive")
    def receive_link(self, obj: ReturnRequest) -> str:
        url = reverse("admin:returns_returnrequest_receive")
        return format_html('<a href="{}?return={}">Receive</a>', url, obj.number)

    @admin.display(description="Channel", ordering="order__channel__code")
    def channel(self, obj: ReturnRequest) -> str:
        return obj.order.channel.code

    @admin.display(description="Units received / expected")
    def units(self, obj: ReturnRequest) -> str:
        return f"{getattr(obj, 'units_received', 0)} / {getattr(obj, 'units_expected', 0)}"

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {
            "title": "Receiving queue: authorised returns to receive, oldest first",
            "receive_url": reverse("admin:returns_returnrequest_receive"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra)
