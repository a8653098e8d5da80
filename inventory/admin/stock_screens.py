"""The stock screens: adjust or count one level, import counts from a CSV file (preview, then
confirm), and the levels that need attention. Each calls inventory's services.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from inventory import services
from inventory.admin.sku_field import SkuField
from inventory.models import Location, MovementKind, StockLevel, StockMovement
from inventory.selectors import (
    ATTENTION_COUNT,
    ATTENTION_OUT_OF_STOCK,
    ATTENTION_REORDER,
    ATTENTION_RUNS_OUT,
    available_expression,
    stock_attention_list,
)
from inventory.services.count_import import count_import_parse, count_import_start
from oms.admin.fields import IntegerField
from oms.admin.tools import ToolAdmin, admin_form, show_domain_error, signed_preview
from oms.errors import DomainError
from oms.limits import INT_MAX

COUNT_IMPORT_SALT = "inventory.admin.count_import"
COUNT_IMPORT_MAX_AGE = 60 * 60  # a preview may be confirmed within the hour
COUNT_IMPORT_MAX_BYTES = 1024 * 1024
ATTENTION_PAGE_ROWS = 50
#: The attention page's "why" filter: its value -> (the items' urgency, its label).
ATTENTION_KINDS = {
    "out": (ATTENTION_OUT_OF_STOCK, "Out of stock with demand"),
    "runs_out": (ATTENTION_RUNS_OUT, "Runs out before replenishment"),
    "reorder": (ATTENTION_REORDER, "At or below the reorder point"),
    "count": (ATTENTION_COUNT, "Flagged for a count"),
}


ADJUST_ACTIONS = [
    ("count", "Count: on hand becomes the figure counted"),
    (MovementKind.RECEIPT.value, "Receipt: units received (+)"),
    (MovementKind.DAMAGE.value, "Damage / write-off: units taken away (-)"),
    (MovementKind.CORRECTION.value, "Correction: a signed change (+/-)"),
]


class StockAdjustForm(forms.Form):
    sku = SkuField(
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "off", "spellcheck": "false"}
        ),
        help_text="Scan the barcode or type the SKU code.",
    )
    location = forms.ModelChoiceField(queryset=Location.objects.all())
    action = forms.ChoiceField(label="What happened", choices=ADJUST_ACTIONS)
    quantity = IntegerField(
        min_value=-INT_MAX,
        help_text=(
            "Count: the figure counted on the shelf (0 or more). Receipt: units received. "
            "Damage: units written off (a positive number takes them away). "
            "Correction: a signed change such as -2 or 3."
        ),
    )
    reason = forms.CharField(
        max_length=255,
        required=False,
        help_text="Required for damage and corrections; shown in the stock ledger.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        action = cleaned.get("action")
        if (
            action in (MovementKind.DAMAGE, MovementKind.CORRECTION)
            and not cleaned.get("reason", "").strip()
        ):
            self.add_error("reason", "Say why: a reason is required for damage and corrections.")
        return cleaned


class CountImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=(
            "A header line <code>sku,location,counted</code>, then one row per count: the SKU "
            "code or barcode, the location code and the figure counted."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > COUNT_IMPORT_MAX_BYTES:
            raise forms.ValidationError("The file is larger than 1 MB: split it.")
        try:
            return str(upload.read().decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise forms.ValidationError("Save the file as CSV with UTF-8 encoding.") from None


class CountImportConfirmForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput)

    def clean_token(self) -> str:
        token = self.cleaned_data["token"]
        return str(signed_preview(token, salt=COUNT_IMPORT_SALT, max_age=COUNT_IMPORT_MAX_AGE))


class StockScreens(ToolAdmin):
    """The custom screens of the stock levels, on the tool template (admin/oms/tool.html)."""

    def get_urls(self) -> list[URLPattern]:
        info = (self.opts.app_label, self.opts.model_name)
        wrap = self.admin_site.admin_view
        return [
            path("adjust/", wrap(self.adjust_view), name="{}_{}_adjust".format(*info)),
            path(
                "import-counts/",
                wrap(self.import_counts_view),
                name="{}_{}_import_counts".format(*info),
            ),
            path("attention/", wrap(self.attention_view), name="{}_{}_attention".format(*info)),
            *super().get_urls(),
        ]

    def _tool_links(self, request: HttpRequest) -> dict[str, Any]:
        can_change = self.has_change_permission(request)
        return {
            "adjust_url": reverse("admin:inventory_stocklevel_adjust") if can_change else None,
            "import_counts_url": (
                reverse("admin:inventory_stocklevel_import_counts") if can_change else None
            ),
            "attention_url": reverse("admin:inventory_stocklevel_attention"),
        }

    def _context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return self.tool_context(request, title, **self._tool_links(request), **extra)

    def adjust_view(self, request: HttpRequest) -> HttpResponse:
        """Count or adjust one SKU at one location (a scanner types the barcode and Enter)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        status = 200
        if request.method == "POST":
            form = StockAdjustForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    movement = self._adjust(data, actor=self.actor(request))
                except DomainError as exc:
                    show_domain_error(form, exc, fields={"kind": "action"})
                    status = exc.status
                else:
                    self.message_user(
                        request,
                        f"{movement.get_kind_display()} of {data['sku'].code} at "
                        f"{data['location'].code} recorded ({movement.on_hand_delta:+} on hand).",
                        messages.SUCCESS,
                    )
                    query = urlencode(
                        {
                            "movement": movement.pk,
                            "location": data["location"].pk,
                            "action": data["action"],
                        }
                    )
                    return HttpResponseRedirect(f"{request.path}?{query}")
        else:
            form = StockAdjustForm(
                initial={
                    key: request.GET[key]
                    for key in ("sku", "location", "action")
                    if request.GET.get(key)
                }
            )
        recorded: StockMovement | None = None
        level = None
        movement_id = request.GET.get("movement", "")
        if request.method == "GET" and movement_id.isdigit():
            recorded = (
                StockMovement.objects.select_related("sku", "location")
                .filter(pk=int(movement_id))
                .first()
            )
            if recorded is not None:
                level = (
                    StockLevel.objects.annotate(available_qty=available_expression())
                    .filter(sku_id=recorded.sku_id, location_id=recorded.location_id)
                    .first()
                )
        adminform = admin_form(form)
        context = self._context(
            request,
            "Adjust or count stock",
            adminform=adminform,
            form=form,
            movement=recorded,
            level=level,
        )
        return TemplateResponse(
            request, "admin/inventory/stocklevel/adjust.html", context, status=status
        )

    def _adjust(self, data: dict[str, Any], *, actor: str) -> StockMovement:
        action = data["action"]
        reason = data.get("reason", "").strip()
        if action == "count":
            return services.stock_count(
                sku=data["sku"],
                location=data["location"],
                counted=data["quantity"],
                reason=reason,
                actor=actor,
            )
        quantity = data["quantity"]
        if action == MovementKind.DAMAGE:
            quantity = -abs(quantity)  # the form asks for the units damaged
        return services.stock_adjust(
            sku=data["sku"],
            location=data["location"],
            kind=action,
            quantity=quantity,
            reason=reason,
            actor=actor,
        )

    def import_counts_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a counts CSV, see a preview with every problem, then confirm to apply it."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        upload_form = CountImportUploadForm()
        preview = None
        confirm_form = None
        apply_error = None
        status = 200
        if request.method == "POST" and "_confirm" in request.POST:
            confirm = CountImportConfirmForm(request.POST)
            if confirm.is_valid():
                text = confirm.cleaned_data["token"]
                # Checked again now, applied (and checked once more) by a worker with progress.
                preview = count_import_parse(text=text)
                if preview.ok:
                    job = count_import_start(
                        text=text,
                        rows=len(preview.rows),
                        user=request.user,
                        back_url=reverse("admin:inventory_stocklevel_changelist"),
                    )
                    return HttpResponseRedirect(reverse("admin:oms_job", args=[job.pk]))
                apply_error = "The stock changed since the check and the file has errors now."
                status = 400
            else:
                apply_error = " ".join(
                    str(m) for m in confirm.errors.get("token") or ["Upload the file again."]
                )
                status = 400
        elif request.method == "POST":
            upload_form = CountImportUploadForm(request.POST, request.FILES)
            if upload_form.is_valid():
                text = upload_form.cleaned_data["file"]
                preview = count_import_parse(text=text)
                if preview.ok:
                    token = signing.dumps(text, salt=COUNT_IMPORT_SALT, compress=True)
                    confirm_form = CountImportConfirmForm(initial={"token": token})
        adminform = admin_form(upload_form)
        context = self._context(
            request,
            "Import counts from a CSV file",
            adminform=adminform,
            form=upload_form,
            preview=preview,
            confirm_form=confirm_form,
            apply_error=apply_error,
        )
        return TemplateResponse(
            request, "admin/inventory/stocklevel/import_counts.html", context, status=status
        )

    def attention_view(self, request: HttpRequest) -> HttpResponse:
        """Levels that need action, most urgent first, each saying why."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        everything = stock_attention_list()
        items = everything
        total = len(everything)
        query = (request.GET.get("q") or "").strip()[:100]
        location = (request.GET.get("location") or "").strip()[:100]
        why = request.GET.get("why") or ""
        if query:
            items = [i for i in items if query.casefold() in i.level.sku.code.casefold()]
        if location:
            items = [i for i in items if i.level.location.code == location]
        if why in ATTENTION_KINDS:
            items = [i for i in items if i.urgency == ATTENTION_KINDS[why][0]]
        page = Paginator(items, ATTENTION_PAGE_ROWS).get_page(request.GET.get("p"))
        filters = {k: v for k, v in (("q", query), ("location", location), ("why", why)) if v}
        context = self._context(
            request,
            "Stock that needs attention",
            items=page.object_list,
            page=page,
            total=total,
            shown=len(items),
            filters=filters,
            page_query=urlencode(filters),
            kinds=[(key, label) for key, (_, label) in ATTENTION_KINDS.items()],
            locations=sorted({i.level.location.code for i in everything}),
            can_adjust=self.has_change_permission(request),
            can_transfer=request.user.has_perm("inventory.add_transfer"),
        )
        return TemplateResponse(request, "admin/inventory/stocklevel/attention.html", context)
