"""The inventory back office: catalogue, stock levels, the ledger, transfers, counts.

Invariants: the admin never writes a quantity or a status itself; every change goes through a
service of inventory.services (thresholds, counts, adjustments, count imports, transfer steps),
and a DomainError is shown to the person, never a 500; the ledger is read-only; changelists
are built in a constant number of queries whatever the number of rows.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, QuerySet, Sum
from django.forms import formset_factory
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from inventory import services
from inventory.models import (
    Location,
    MovementKind,
    Sku,
    StockForecast,
    StockLevel,
    StockMovement,
    Transfer,
    TransferLine,
    TransferStatus,
)
from inventory.selectors import available_expression, sku_find, stock_attention_list
from inventory.services.count_import import count_import_apply, count_import_parse
from oms.admin_utils import IntegerField, ServiceModelAdmin, UsedValuesFilter
from oms.errors import DomainError
from oms.limits import INT_MAX

COUNT_IMPORT_SALT = "inventory.admin.count_import"
COUNT_IMPORT_MAX_AGE = 60 * 60  # a preview may be confirmed within the hour
COUNT_IMPORT_MAX_BYTES = 1024 * 1024
TRANSFER_LINE_ROWS = 10
ATTENTION_MAX_ROWS = 500


def _actor(request: HttpRequest) -> str:
    return request.user.get_username()


def _form_errors_from(
    form: forms.BaseForm, exc: DomainError, fields: dict[str, str] | None = None
) -> None:
    """Show a DomainError on a form: its detail on top, its field errors on the fields."""
    form.add_error(None, exc.detail)
    for key, msgs in exc.errors.items():
        name = (fields or {}).get(key, key)
        form.add_error(name if name in form.fields else None, [f"{m}" for m in msgs])


def _admin_form(form: forms.BaseForm) -> helpers.AdminForm:
    """A plain form laid out like an admin change form (one fieldset, every field)."""
    return helpers.AdminForm(
        cast(Any, form), [(None, {"fields": list(form.fields)})], prepopulated_fields={}
    )


# --- catalogue -------------------------------------------------------------------------------


class CountryInUseFilter(UsedValuesFilter):
    title = "country"
    parameter_name = "country"
    field_name = "country"


class SkuAdminForm(forms.ModelForm):
    lead_time_days = forms.IntegerField(
        min_value=0,
        max_value=32767,
        required=False,
        help_text=(
            "Days from ordering more to having it on hand (for reorder advice). Empty keeps "
            "the current value (14 for a new SKU)."
        ),
    )

    class Meta:
        model = Sku
        fields = [
            "code",
            "name",
            "barcode",
            "weight_grams",
            "is_active",
            "allow_backorder",
            "track_inventory",
            "lead_time_days",
        ]

    def clean_lead_time_days(self) -> int:
        value = self.cleaned_data.get("lead_time_days")
        if value is not None:
            return int(value)
        if self.instance.pk:
            return self.instance.lead_time_days
        return int(Sku._meta.get_field("lead_time_days").get_default())


@admin.register(Sku)
class SkuAdmin(ServiceModelAdmin):
    form = SkuAdminForm
    list_display = ["code", "name", "barcode", "weight_grams", "is_active", "allow_backorder"]
    list_filter = ["is_active", "allow_backorder", "track_inventory"]
    search_fields = ["code", "name", "barcode"]
    readonly_fields = ["created_at", "updated_at"]
    list_per_page = 100
    show_full_result_count = False

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        return [*self.readonly_fields, "code"] if obj else self.readonly_fields

    def service_create(self, data: dict[str, Any]) -> Sku:
        return services.sku_create(**data)

    def service_update(self, instance: Sku, data: dict[str, Any]) -> Sku:
        return services.sku_update(sku=instance, data=data)


@admin.register(Location)
class LocationAdmin(ServiceModelAdmin):
    list_display = [
        "code",
        "name",
        "kind",
        "city",
        "country",
        "is_active",
        "ships_online",
        "priority",
        "daily_capacity",
    ]
    list_filter = ["kind", CountryInUseFilter, "is_active", "ships_online"]
    search_fields = ["code", "name", "city", "postal_code"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["code", "name", "kind", "is_active"]}),
        (
            "Address",
            {"fields": ["line1", "line2", "postal_code", "city", "region", "country"]},
        ),
        ("Coordinates", {"fields": ["latitude", "longitude"]}),
        ("Fulfilment", {"fields": ["ships_online", "priority", "daily_capacity"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        return [*self.readonly_fields, "code"] if obj else self.readonly_fields

    def service_create(self, data: dict[str, Any]) -> Location:
        return services.location_create(**data)

    def service_update(self, instance: Location, data: dict[str, Any]) -> Location:
        return services.location_update(location=instance, data=data)


# --- stock levels ----------------------------------------------------------------------------


class LowStockFilter(admin.SimpleListFilter):
    title = "low stock"
    parameter_name = "low_stock"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("out", "Out of stock (nothing available)"),
            ("reorder", "At or below reorder point"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "out":
            return queryset.filter(available_qty=0)
        if self.value() == "reorder":
            return queryset.filter(
                reorder_point__gt=0, on_hand__lte=F("reorder_point") + F("reserved")
            )
        return queryset


ADJUST_ACTIONS = [
    ("count", "Count: on hand becomes the figure counted"),
    (MovementKind.RECEIPT.value, "Receipt: units received (+)"),
    (MovementKind.DAMAGE.value, "Damage / write-off: units taken away (-)"),
    (MovementKind.CORRECTION.value, "Correction: a signed change (+/-)"),
]


class StockAdjustForm(forms.Form):
    sku = forms.CharField(
        label="SKU code or barcode",
        max_length=64,
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

    def clean_sku(self) -> Sku:
        value = self.cleaned_data["sku"].strip()
        sku = sku_find(code_or_barcode=value)
        if sku is None:
            raise forms.ValidationError(f"No SKU has the code or barcode “{value}”.")
        return sku

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
        try:
            return str(
                signing.loads(
                    self.cleaned_data["token"],
                    salt=COUNT_IMPORT_SALT,
                    max_age=COUNT_IMPORT_MAX_AGE,
                )
            )
        except signing.SignatureExpired:
            raise forms.ValidationError("This preview expired: upload the file again.") from None
        except signing.BadSignature:
            raise forms.ValidationError(
                "This preview is not valid: upload the file again."
            ) from None


@admin.register(StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    """Levels are created by stock services; staff set thresholds here and count elsewhere."""

    list_display = [
        "sku_code",
        "location",
        "on_hand",
        "reserved",
        "quarantined",
        "safety_stock",
        "reorder_point",
        "available",
        "needs_count",
    ]
    list_display_links = ["sku_code"]
    list_select_related = ["sku", "location"]
    list_filter = ["location", "location__kind", LowStockFilter, "needs_count"]
    search_fields = ["sku__code", "sku__barcode"]
    list_per_page = 100
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["sku", "location"]}),
        (
            "Quantities",
            {
                "fields": [
                    "on_hand",
                    "reserved",
                    "quarantined",
                    "available",
                    "allow_backorder",
                    "needs_count",
                ],
                "description": "Quantities change only through counts, adjustments, orders, "
                "shipments, returns and transfers, each recorded in the stock ledger.",
            },
        ),
        ("Thresholds", {"fields": ["safety_stock", "reorder_point"]}),
        ("History", {"fields": ["updated_at", "ledger_link"]}),
    ]
    readonly_fields = [
        "sku",
        "location",
        "on_hand",
        "reserved",
        "quarantined",
        "available",
        "allow_backorder",
        "needs_count",
        "updated_at",
        "ledger_link",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StockLevel]:
        return super().get_queryset(request).annotate(available_qty=available_expression())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="SKU", ordering="sku__code")
    def sku_code(self, obj: StockLevel) -> str:
        return obj.sku.code

    @admin.display(description="Available", ordering="available_qty")
    def available(self, obj: StockLevel) -> int:
        annotated = getattr(obj, "available_qty", None)
        return obj.available if annotated is None else int(annotated)

    @admin.display(description="Stock ledger")
    def ledger_link(self, obj: StockLevel) -> str:
        url = reverse("admin:inventory_stockmovement_changelist")
        query = urlencode({"sku__id__exact": obj.sku_id, "location__id__exact": obj.location_id})
        return format_html('<a href="{}?{}">Movements of this level</a>', url, query)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Only the thresholds are editable; the service writes them.
        services.stock_level_set_thresholds(
            sku=obj.sku,
            location=obj.location,
            safety_stock=form.cleaned_data.get("safety_stock"),
            reorder_point=form.cleaned_data.get("reorder_point"),
        )
        obj.refresh_from_db()

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), **self._tool_links(request)}
        return super().changelist_view(request, extra_context)

    # --- custom screens ----------------------------------------------------------------------

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
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "changelist_url": reverse("admin:inventory_stocklevel_changelist"),
            **self._tool_links(request),
            **extra,
        }

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
                    movement = self._adjust(data, actor=_actor(request))
                except DomainError as exc:
                    _form_errors_from(form, exc, fields={"kind": "action"})
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
        adminform = _admin_form(form)
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
                try:
                    applied = count_import_apply(text=text, actor=_actor(request))
                except DomainError as exc:
                    apply_error = exc.detail
                    status = exc.status
                    preview = count_import_parse(text=text)
                else:
                    self.message_user(
                        request,
                        f"Recorded {applied} count{'s' if applied != 1 else ''} from the file.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:inventory_stocklevel_changelist"))
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
        adminform = _admin_form(upload_form)
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
        items = stock_attention_list()
        context = self._context(
            request,
            "Stock that needs attention",
            items=items[:ATTENTION_MAX_ROWS],
            total=len(items),
            truncated=len(items) > ATTENTION_MAX_ROWS,
            can_adjust=self.has_change_permission(request),
        )
        return TemplateResponse(request, "admin/inventory/stocklevel/attention.html", context)


# --- the ledger ------------------------------------------------------------------------------


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    """The immutable stock ledger: viewable, never added, changed or deleted here."""

    list_display = [
        "sku_code",
        "location_code",
        "kind",
        "on_hand_delta",
        "reserved_delta",
        "quarantined_delta",
        "order_line_id",
        "shipment_id",
        "return_id",
        "transfer",
        "actor",
        "reason",
        "created_at",
    ]
    list_select_related = ["sku", "location", "transfer"]
    list_filter = ["kind", "location"]
    date_hierarchy = "created_at"
    search_fields = ["sku__code"]
    list_per_page = 100
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="SKU", ordering="sku__code")
    def sku_code(self, obj: StockMovement) -> str:
        return obj.sku.code

    @admin.display(description="Location", ordering="location__code")
    def location_code(self, obj: StockMovement) -> str:
        return obj.location.code


# --- transfers -------------------------------------------------------------------------------


class TransferLineInline(admin.TabularInline):
    model = TransferLine
    fields = ["sku", "quantity"]
    readonly_fields = ["sku", "quantity"]
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[TransferLine]:
        return super().get_queryset(request).select_related("sku")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TransferAddForm(forms.Form):
    from_location = forms.ModelChoiceField(
        label="From", queryset=Location.objects.filter(is_active=True)
    )
    to_location = forms.ModelChoiceField(
        label="To", queryset=Location.objects.filter(is_active=True)
    )
    reference = forms.CharField(max_length=64, required=False)


class TransferLineForm(forms.Form):
    sku = forms.CharField(
        label="SKU code or barcode",
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    quantity = IntegerField(min_value=1, required=False)

    def clean_sku(self) -> Sku | None:
        value = self.cleaned_data["sku"].strip()
        if not value:
            return None
        sku = sku_find(code_or_barcode=value)
        if sku is None:
            raise forms.ValidationError(f"No SKU has the code or barcode “{value}”.")
        return sku

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
class TransferAdmin(admin.ModelAdmin):
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

    def has_transition_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

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
                            actor=_actor(request),
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
            form = TransferAddForm()
            formset = TransferLineFormSet(prefix="lines")
        adminform = _admin_form(form)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Add a transfer",
            "adminform": adminform,
            "form": form,
            "formset": formset,
            "changelist_url": reverse("admin:inventory_transfer_changelist"),
            **(extra_context or {}),
        }
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
        actor = _actor(request)
        for transfer in queryset.select_related("from_location", "to_location").order_by("pk"):
            label = _transfer_label(transfer)
            before = transfer.status
            try:
                service(transfer=transfer, actor=actor)
            except DomainError as exc:
                self.message_user(request, f"{label} not {verb}: {exc}", messages.ERROR)
            else:
                if before == target:
                    self.message_user(request, f"{label} was already {verb}.", messages.INFO)
                else:
                    self.message_user(request, f"{label} {verb}.", messages.SUCCESS)

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


class ForecastScopeFilter(admin.SimpleListFilter):
    title = "scope"
    parameter_name = "scope"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("network", "Whole network"), ("location", "Per location")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "network":
            return queryset.filter(location__isnull=True)
        if self.value() == "location":
            return queryset.filter(location__isnull=False)
        return queryset


@admin.register(StockForecast)
class StockForecastAdmin(admin.ModelAdmin):
    """The nightly forecasts, read-only, with the backtested accuracy beside each one."""

    list_display = [
        "sku",
        "scope",
        "velocity_7",
        "velocity_28",
        "velocity_90",
        "velocity",
        "available",
        "incoming",
        "days_of_cover",
        "stockout_date",
        "reorder_quantity",
        "accuracy",
        "computed_at",
    ]
    list_select_related = ["sku", "location"]
    list_filter = [ForecastScopeFilter, "location"]
    search_fields = ["sku__code", "sku__barcode"]
    ordering = ["stockout_date", "sku__code"]
    show_full_result_count = False

    @admin.display(description="Location", ordering="location__code")
    def scope(self, obj: StockForecast) -> str:
        return obj.location.code if obj.location else "network"

    @admin.display(description="WAPE (backtest)", ordering="wape")
    def accuracy(self, obj: StockForecast) -> str:
        if obj.wape is None:
            return "no demand to test against"
        return f"{obj.wape * 100:.0f}% over {obj.backtest_weeks} wk"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
