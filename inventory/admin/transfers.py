"""Transfers between locations: a draft is added here, the actions ship, receive or cancel it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet, Sum
from django.forms import formset_factory
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from inventory import services
from inventory.admin.sku_field import SkuField
from inventory.models import Location, Sku, Transfer, TransferLine, TransferStatus
from oms.admin.fields import IntegerField
from oms.admin.readonly import ReadOnlyInline
from oms.admin.tools import ToolAdmin, admin_form, each_object
from oms.errors import DomainError

TRANSFER_LINE_ROWS = 10


class TransferLineInline(ReadOnlyInline):
    model = TransferLine
    fields = ["sku", "quantity"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[TransferLine]:
        return super().get_queryset(request).select_related("sku")


class TransferAddForm(forms.Form):
    from_location = forms.ModelChoiceField(
        label="From", queryset=Location.objects.filter(is_active=True)
    )
    to_location = forms.ModelChoiceField(
        label="To", queryset=Location.objects.filter(is_active=True)
    )
    reference = forms.CharField(max_length=64, required=False)


class TransferLineForm(forms.Form):
    sku = SkuField(
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    quantity = IntegerField(min_value=1, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("sku") and not cleaned.get("quantity") and "quantity" not in self.errors:
            self.add_error("quantity", "How many?")
        if cleaned.get("quantity") and not cleaned.get("sku") and "sku" not in self.errors:
            self.add_error("sku", "Which SKU?")
        return cleaned


TransferLineFormSet = formset_factory(
    TransferLineForm, extra=TRANSFER_LINE_ROWS, max_num=TRANSFER_LINE_ROWS, validate_max=True
)


def _transfer_label(transfer: Transfer) -> str:
    return f"TR-{transfer.pk} ({transfer.from_location.code} → {transfer.to_location.code})"


@admin.register(Transfer)
class TransferAdmin(ToolAdmin):
    """Transfers are created as drafts by a service and moved on only by the actions."""

    list_display = [
        "number",
        "from_location",
        "to_location",
        "status",
        "reference",
        "line_count",
        "unit_count",
        "created_at",
        "shipped_at",
        "expected_at",
        "received_at",
        "created_by",
    ]
    list_display_links = ["number"]
    list_select_related = ["from_location", "to_location"]
    list_filter = ["status", "from_location", "to_location"]
    search_fields = ["reference", "lines__sku__code"]
    list_per_page = 100
    show_full_result_count = False
    inlines = [TransferLineInline]
    actions = ["ship", "receive", "cancel"]
    fields = [
        "from_location",
        "to_location",
        "status",
        "reference",
        "created_by",
        "created_at",
        "expected_at",
        "shipped_at",
        "received_at",
        "cancelled_at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Transfer]:
        return (
            super()
            .get_queryset(request)
            .annotate(line_total=Count("lines"), unit_total=Sum("lines__quantity"))
        )

    @admin.display(description="Transfer", ordering="pk")
    def number(self, obj: Transfer) -> str:
        return f"TR-{obj.pk}"

    @admin.display(description="Lines", ordering="line_total")
    def line_count(self, obj: Transfer) -> int:
        return int(getattr(obj, "line_total", 0) or 0)

    @admin.display(description="Units", ordering="unit_total")
    def unit_count(self, obj: Transfer) -> int:
        return int(getattr(obj, "unit_total", 0) or 0)

    # Status and lines change only through the actions; the record itself is view-only.
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """A draft transfer from a location to another, with up to TRANSFER_LINE_ROWS lines."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        status = 200
        if request.method == "POST":
            form = TransferAddForm(request.POST)
            formset = TransferLineFormSet(request.POST, prefix="lines")
            if form.is_valid() and formset.is_valid():
                rows = [
                    (index, line.cleaned_data["sku"], line.cleaned_data["quantity"])
                    for index, line in enumerate(formset.forms)
                    if line.cleaned_data.get("sku")
                ]
                if not rows:
                    form.add_error(None, "Add at least one line: a SKU and a quantity.")
                else:
                    try:
                        transfer = services.transfer_create(
                            from_location=form.cleaned_data["from_location"],
                            to_location=form.cleaned_data["to_location"],
                            lines=[(sku, quantity) for _, sku, quantity in rows],
                            reference=form.cleaned_data["reference"],
                            actor=self.actor(request),
                        )
                    except DomainError as exc:
                        self._show_create_error(form, formset, rows, exc)
                        status = exc.status
                    else:
                        self.log_addition(request, transfer, [{"added": {}}])
                        lines = len({sku.pk for _, sku, _ in rows})  # the service merges repeats
                        self.message_user(
                            request,
                            f"Draft transfer {_transfer_label(transfer)} created with "
                            f"{lines} line{'s' if lines != 1 else ''}. Ship it from the list "
                            "when it leaves.",
                            messages.SUCCESS,
                        )
                        return HttpResponseRedirect(
                            reverse("admin:inventory_transfer_change", args=[transfer.pk])
                        )
        else:
            # Opened from a page that knows what is short (the stock attention page): the
            # destination and the SKU come filled in.
            form = TransferAddForm(
                initial={
                    k: request.GET[k] for k in ("to_location", "from_location") if k in request.GET
                }
            )
            sku = (request.GET.get("sku") or "")[:64]
            formset = TransferLineFormSet(prefix="lines", initial=[{"sku": sku}] if sku else None)
        adminform = admin_form(form)
        context = self.tool_context(
            request,
            "Add a transfer",
            adminform=adminform,
            form=form,
            formset=formset,
            **(extra_context or {}),
        )
        return TemplateResponse(
            request, "admin/inventory/transfer/add.html", context, status=status
        )

    def _show_create_error(
        self,
        form: TransferAddForm,
        formset: Any,
        rows: list[tuple[int, Sku, int]],
        exc: DomainError,
    ) -> None:
        form.add_error(None, exc.detail)
        for key, msgs in exc.errors.items():
            parts = key.split(".")
            if parts[0] == "lines" and len(parts) == 3 and parts[1].isdigit():
                index = int(parts[1])
                if index < len(rows):
                    line_form = formset.forms[rows[index][0]]
                    field = parts[2] if parts[2] in line_form.fields else None
                    line_form.add_error(field, list(msgs))
                    continue
            name = key if key in form.fields else None
            form.add_error(name, list(msgs))

    def _transition(
        self,
        request: HttpRequest,
        queryset: QuerySet[Transfer],
        service: Any,
        target: str,
        verb: str,
    ) -> None:
        actor = self.actor(request)

        def step(transfer: Transfer) -> tuple[str, int]:
            before = transfer.status
            service(transfer=transfer, actor=actor)
            if before == target:
                return f"{_transfer_label(transfer)} was already {verb}.", messages.INFO
            return f"{_transfer_label(transfer)} {verb}.", messages.SUCCESS

        each_object(
            self,
            request,
            queryset.select_related("from_location", "to_location").order_by("pk"),
            step,
            failed=lambda transfer, exc: f"{_transfer_label(transfer)} not {verb}: {exc}",
        )

    @admin.action(description="Ship selected transfers", permissions=["transition"])
    def ship(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        self._transition(
            request, queryset, services.transfer_ship, TransferStatus.IN_TRANSIT, "shipped"
        )

    @admin.action(description="Receive selected transfers", permissions=["transition"])
    def receive(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        self._transition(
            request, queryset, services.transfer_receive, TransferStatus.RECEIVED, "received"
        )

    @admin.action(description="Cancel selected transfers", permissions=["transition"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        self._transition(
            request, queryset, services.transfer_cancel, TransferStatus.CANCELLED, "cancelled"
        )
