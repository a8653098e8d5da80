"""The orders back office for customer care: find any order, see all of it, act on it.

Invariants:
- the admin never writes an order, a line, a hold, an event or a customer itself: list actions
  and the order page's forms (hold, release, cancel, note, shipping address) call services of
  orders.services, one call per order, and a DomainError is shown to the person (never a 500);
  a failed call wrote nothing, and one failing order never stops the others;
- orders are never added or deleted here (they come from channels and the API); status,
  payment status, holds and amounts are read-only and change only through those services;
- the customer-care commands need orders.change_order; everyone who may view orders sees them;
- the order and customer lists are built in a constant number of queries whatever the number
  of rows; the admin search box uses orders.selectors.order_search, the same search as the API.

Shipments, returns and refunds belong to the fulfilment and returns apps: they add inlines to
the order page with `register_order_inline` (or fill the `order_related` template block of
admin/orders/order/change_form.html), so this module never imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Min, Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.defaultfilters import linebreaksbr
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST
from django_countries import countries

from oms.admin_utils import ReadOnlyInline, ServiceModelAdmin, UsedValuesFilter
from oms.currencies import currency_choices, currency_exponent
from oms.errors import DomainError
from orders import selectors, services
from orders.models import (
    Customer,
    FraudRule,
    FraudRuleKind,
    FxRatesRefresh,
    Order,
    OrderEvent,
    OrderHold,
    OrderLine,
    PrivacyRequest,
    PrivacyRequestKind,
    PrivacyRequestSource,
    PrivacyRequestStatus,
    RateOverride,
)
from orders.services.capture import ADDRESS_FIELDS
from orders.services.customers import customer_update
from orders.services.lifecycle import EDITABLE_ADDRESS_STATUSES
from orders.services.privacy import (
    ERASABLE_STATUSES,
    ErasureBlocked,
    customer_data_erase,
    customer_data_export,
    privacy_request_export,
    privacy_request_run,
)
from orders.services.rates import rate_override_delete, rate_override_save
from orders.states import HoldReason, OrderStatus, PaymentStatus

CUSTOMER_ORDER_ROWS = 100
NONE = "\N{EN DASH}"  # shown where there is no value
NOTE_MAX_CHARS = 5000
HOLD_NOTE_MAX_CHARS = 500
CLOSED_STATUSES = frozenset(
    {OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.CANCELLED}
)
ADDRESS_LABELS = {
    "name": "Name",
    "line1": "Street and number",
    "line2": "Address line 2",
    "postal_code": "Postal code",
    "city": "City",
    "region": "Region / state",
    "country": "Country",
    "phone": "Phone",
}


def _actor(request: HttpRequest) -> str:
    return request.user.get_username()


def money(amount: Decimal | None, currency: str) -> str:
    """An amount with as many decimals as the currency has (EUR 2, JPY 0, BHD 3)."""
    if amount is None:
        return NONE
    try:
        exponent = currency_exponent(currency)
    except KeyError:
        exponent = 2
    value = Decimal(amount).quantize(Decimal(1).scaleb(-exponent), ROUND_HALF_UP)
    return f"{value:,} {currency}"


def country_label(code: str) -> str:
    name = countries.name(code) if code else ""
    return f"{code} {name}" if name else code


def address_lines(address: Mapping[str, Any]) -> list[str]:
    """A stored address as the lines of a label."""
    if not address:
        return []
    town = " ".join(str(address.get(k) or "") for k in ("postal_code", "city")).strip()
    country = str(address.get("country") or "")
    lines = [
        str(address.get("name") or ""),
        str(address.get("line1") or ""),
        str(address.get("line2") or ""),
        town,
        str(address.get("region") or ""),
        country_label(country),
    ]
    if address.get("phone"):
        lines.append(f"Phone {address['phone']}")
    return [line for line in lines if line]


def address_html(address: Mapping[str, Any]) -> SafeString | str:
    lines = address_lines(address)
    if not lines:
        return "No address"
    return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))


def _labels(choices: Any, values: Sequence[str]) -> str:
    names = dict(choices)
    return ", ".join(str(names.get(v, v)) for v in values)


def event_summary(event: OrderEvent) -> str:
    """The event's data in words (the timeline shows this instead of raw JSON)."""
    data: dict[str, Any] = event.data if isinstance(event.data, dict) else {}
    kind = event.kind
    if kind == "captured":
        return (
            f"From channel {data.get('channel', '?')} (reference {data.get('external_id', '?')}),"
            f" {data.get('lines', '?')} line(s), total {data.get('total', '?')} "
            f"{data.get('currency', '')}".rstrip()
        )
    if kind == "hold_placed":
        note = f": {data['note']}" if data.get("note") else ""
        return f"{_labels(HoldReason.choices, [data.get('reason', '')])}{note}"
    if kind == "hold_released":
        note = f" ({data['note']})" if data.get("note") else ""
        return f"Released {_labels(HoldReason.choices, data.get('reasons') or [])}{note}"
    if kind == "status_changed":
        return (
            _labels(OrderStatus.choices, [data.get("from", "?")])
            + " → "
            + (_labels(OrderStatus.choices, [data.get("to", "?")]))
        )
    if kind == "payment_status_changed":
        return (
            _labels(PaymentStatus.choices, [data.get("before", "?")])
            + " → "
            + (_labels(PaymentStatus.choices, [data.get("after", "?")]))
        )
    if kind in ("cancelled", "lines_cancelled"):
        items = data.get("lines") or []
        units = sum(int(item.get("quantity") or 0) for item in items if isinstance(item, dict))
        reason = f". Reason: {data['reason']}" if data.get("reason") else ""
        return f"{units} unit(s) on {len(items)} line(s){reason}"
    if kind == "note":
        return str(data.get("text", ""))
    if kind == "address_changed":
        before = ", ".join(address_lines(data.get("before") or {})) or "no address"
        after = ", ".join(address_lines(data.get("after") or {})) or "no address"
        return f"{before} → {after}"
    if kind == "converted":
        return (
            f"{data.get('total_base', '?')} {data.get('base_currency', '')} at rate "
            f"{data.get('rate', '?')} ({data.get('source', '?')}, {data.get('date', '?')})"
        )
    return "; ".join(f"{key}: {value}" for key, value in data.items())


def _show_error(
    form: forms.BaseForm, exc: DomainError, fields: Mapping[str, str] | None = None
) -> None:
    """A DomainError on a form: its detail on top, its field errors on the fields they name."""
    form.add_error(None, exc.detail)
    for key, msgs in exc.errors.items():
        name = (fields or {}).get(key, key)
        form.add_error(name if name in form.fields else None, [str(m) for m in msgs])


def _admin_form(form: forms.BaseForm, name: str | None = None) -> helpers.AdminForm:
    return helpers.AdminForm(
        cast(Any, form), [(name, {"fields": list(form.fields)})], prepopulated_fields={}
    )


# --- list filters ------------------------------------------------------------------------------


class ShipCountryFilter(UsedValuesFilter):
    title = "ship country"
    parameter_name = "ship_country"
    field_name = "ship_country"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(code, country_label(code)) for code, _ in super().lookups(request, model_admin)]


class OnHoldFilter(admin.SimpleListFilter):
    title = "on hold"
    parameter_name = "on_hold"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "On hold"), ("no", "Not on hold")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("yes", "no"):
            return queryset.filter(is_on_hold=self.value() == "yes")
        return queryset


class ActiveHoldReasonFilter(admin.SimpleListFilter):
    title = "active hold"
    parameter_name = "hold_reason"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(value), str(label)) for value, label in HoldReason.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value():
            # At most one active hold per reason: the join never repeats an order.
            return queryset.filter(holds__reason=self.value(), holds__released_at__isnull=True)
        return queryset


# --- read-only inlines of the order page ---------------------------------------------------------


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    verbose_name = "line"
    verbose_name_plural = "Lines"
    fields = [
        "line_number",
        "sku_link",
        "name",
        "ordered",
        "allocated",
        "shipped",
        "cancelled",
        "returned",
        "unit_price_display",
        "line_total_display",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderLine]:
        return super().get_queryset(request).select_related("order").order_by("line_number")

    @admin.display(description="SKU")
    def sku_link(self, obj: OrderLine) -> str:
        if obj.sku_id is None:
            return format_html("{} <em>(unknown SKU)</em>", obj.sku_code)
        url = reverse("admin:inventory_sku_change", args=[obj.sku_id])
        return format_html('<a href="{}">{}</a>', url, obj.sku_code)

    @admin.display(description="Ordered")
    def ordered(self, obj: OrderLine) -> int:
        return obj.quantity

    @admin.display(description="Allocated")
    def allocated(self, obj: OrderLine) -> int:
        return obj.quantity_allocated

    @admin.display(description="Shipped")
    def shipped(self, obj: OrderLine) -> int:
        return obj.quantity_shipped

    @admin.display(description="Cancelled")
    def cancelled(self, obj: OrderLine) -> int:
        return obj.quantity_cancelled

    @admin.display(description="Returned")
    def returned(self, obj: OrderLine) -> int:
        return obj.quantity_returned

    @admin.display(description="Unit price")
    def unit_price_display(self, obj: OrderLine) -> str:
        return money(obj.unit_price, obj.order.currency)

    @admin.display(description="Line total")
    def line_total_display(self, obj: OrderLine) -> str:
        return money(obj.line_total, obj.order.currency)


class OrderHoldInline(ReadOnlyInline):
    model = OrderHold
    verbose_name = "hold"
    verbose_name_plural = "Holds"
    fields = [
        "reason",
        "state",
        "note",
        "placed_by",
        "placed_at",
        "released_by",
        "released_at",
        "release_note",
    ]

    @admin.display(description="State")
    def state(self, obj: OrderHold) -> str:
        return "Released" if obj.released_at else "Active"


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    verbose_name = "event"
    verbose_name_plural = "Timeline (oldest first)"
    fields = ["created_at", "what", "actor", "details"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderEvent]:
        return super().get_queryset(request).order_by("created_at", "id")

    @admin.display(description="What")
    def what(self, obj: OrderEvent) -> str:
        return obj.kind.replace("_", " ").capitalize()

    @admin.display(description="Details")
    def details(self, obj: OrderEvent) -> str:
        return linebreaksbr(event_summary(obj), autoescape=True)


# --- forms of the order page ---------------------------------------------------------------------


class HoldForm(forms.Form):
    reason = forms.ChoiceField(
        choices=HoldReason.choices,
        initial=HoldReason.MANUAL,
        help_text="A hold keeps the order from being routed and shipped until it is released.",
    )
    note = forms.CharField(
        max_length=HOLD_NOTE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the order is held: shown in its holds and its timeline.",
    )


class ReleaseForm(forms.Form):
    reason = forms.ChoiceField(
        label="Release",
        required=False,
        help_text="Releasing the last hold hands the order to routing.",
    )
    note = forms.CharField(
        max_length=HOLD_NOTE_MAX_CHARS,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional: why it may go on (shown in the timeline).",
    )

    def __init__(self, *args: Any, active: Sequence[OrderHold] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["reason"])
        field.choices = [("", "Every active hold")] + [
            (hold.reason, f"Only: {hold.get_reason_display()}") for hold in active
        ]


class NoteForm(forms.Form):
    text = forms.CharField(
        label="Internal note",
        max_length=NOTE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For staff only: the customer never sees it. It goes into the timeline.",
    )


class CancelForm(forms.Form):
    """One quantity per line that still has open units, and a reason."""

    reason = forms.CharField(
        max_length=255,
        required=False,
        help_text="Shown in the timeline (and later given to refunds and the channel).",
    )

    def __init__(self, *args: Any, lines: Sequence[OrderLine] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        for line in self.lines:
            if line.quantity_open > 0:
                self.fields[self.field_name(line)] = forms.IntegerField(
                    label=f"Cancel how many of line {line.line_number} ({line.sku_code})",
                    min_value=0,
                    max_value=line.quantity_open,
                    required=False,
                )

    @staticmethod
    def field_name(line: OrderLine) -> str:
        return f"line_{line.pk}"

    def rows(self) -> list[tuple[OrderLine, Any]]:
        """Each line with its bound quantity field (None when nothing is left to cancel)."""
        return [
            (line, self[self.field_name(line)] if self.field_name(line) in self.fields else None)
            for line in self.lines
        ]

    def quantities(self) -> list[tuple[int, int]]:
        return [
            (line.pk, int(self.cleaned_data.get(self.field_name(line)) or 0))
            for line in self.lines
            if self.cleaned_data.get(self.field_name(line))
        ]


class AddressForm(forms.Form):
    name = forms.CharField(label=ADDRESS_LABELS["name"], max_length=255, required=False)
    line1 = forms.CharField(label=ADDRESS_LABELS["line1"], max_length=255, required=False)
    line2 = forms.CharField(label=ADDRESS_LABELS["line2"], max_length=255, required=False)
    postal_code = forms.CharField(
        label=ADDRESS_LABELS["postal_code"], max_length=32, required=False
    )
    city = forms.CharField(label=ADDRESS_LABELS["city"], max_length=128, required=False)
    region = forms.CharField(label=ADDRESS_LABELS["region"], max_length=128, required=False)
    country = forms.ChoiceField(label=ADDRESS_LABELS["country"], required=False)
    phone = forms.CharField(label=ADDRESS_LABELS["phone"], max_length=40, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["country"])
        field.choices = [("", NONE), *((code, f"{name} ({code})") for code, name in countries)]

    def address(self, current: Mapping[str, Any]) -> dict[str, Any]:
        new = {k: v.strip() for k, v in self.cleaned_data.items() if v and v.strip()}
        visible = {k: v for k, v in current.items() if k in self.fields and v not in (None, "")}
        if new == {k: str(v) for k, v in visible.items()}:
            return dict(current)  # nothing changed: keep what the form does not show
        return new


class CancelSelectedForm(forms.Form):
    reason = forms.CharField(
        max_length=255, required=False, help_text="Shown in each order's timeline."
    )


# --- orders -------------------------------------------------------------------------------------


def register_order_inline(inline: type[InlineModelAdmin]) -> None:
    """Let a higher app (fulfilment, returns) show its records on the order page."""
    if inline not in OrderAdmin.extra_inlines:
        OrderAdmin.extra_inlines.append(inline)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """The order list and the order page: read-only records, commands through services."""

    list_display = [
        "number",
        "channel_code",
        "external_id",
        "customer_display",
        "status",
        "payment_status",
        "on_hold",
        "total_display",
        "total_base_display",
        "ship_country",
        "placed_at",
    ]
    list_display_links = ["number"]
    list_select_related = ["channel", "customer"]
    list_filter = [
        "status",
        "channel",
        OnHoldFilter,
        ActiveHoldReasonFilter,
        "payment_status",
        ShipCountryFilter,
    ]
    date_hierarchy = "created_at"
    # Only makes the search box appear: get_search_results searches like the API does.
    search_fields = ["number"]
    search_help_text = "Order number, channel reference, e-mail, name, phone or SKU code."
    list_per_page = 100
    show_full_result_count = False
    actions = ["hold_manual", "release_holds", "cancel_open"]
    inlines = [OrderLineInline, OrderHoldInline, OrderEventInline]
    # Inlines of higher apps (shipments, returns, refunds): see register_order_inline.
    extra_inlines: ClassVar[list[type[InlineModelAdmin]]] = []
    fieldsets = [
        (
            "Order",
            {
                "fields": [
                    "number",
                    "channel",
                    "external_id",
                    "external_number",
                    "status",
                    "payment_status",
                    "holds_summary",
                    "placed_at",
                    "priority",
                ]
            },
        ),
        ("Customer", {"fields": ["customer_link", "email", "phone", "notes"]}),
        (
            "Amounts",
            {
                "fields": [
                    "subtotal_display",
                    "discount_display",
                    "shipping_display",
                    "tax_display",
                    "total_display",
                    "channel_total_display",
                ]
            },
        ),
        ("Addresses", {"fields": ["shipping_address_display", "billing_address_display"]}),
        (
            "Base currency",
            {
                "fields": [
                    "total_base_detail",
                    "fx_rate_display",
                    "fx_source_display",
                    "fx_date_display",
                ],
                "classes": ["collapse"],
            },
        ),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)

    # --- permissions: a record to look at, commands for customer care ---------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # orders come from channels and the API

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the page is read-only; the commands below change orders

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_care_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return super().get_queryset(request).select_related("channel", "customer")

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[type[InlineModelAdmin]]:
        return [*self.inlines, *self.extra_inlines]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        return selectors.order_search(queryset, search_term), False

    # --- columns and fields ---------------------------------------------------------------------

    @admin.display(description="Channel", ordering="channel__code")
    def channel_code(self, obj: Order) -> str:
        return obj.channel.code

    @admin.display(description="Customer", ordering="customer__last_name")
    def customer_display(self, obj: Order) -> str:
        if obj.customer is not None:
            return obj.customer.name or obj.customer.email
        return obj.email or NONE

    @admin.display(description="On hold", ordering="is_on_hold")
    def on_hold(self, obj: Order) -> str:
        # A mark only where there is a hold: a red cross on every other row would be noise.
        if obj.is_on_hold:
            return format_html(
                '<img src="{}" alt="" width="14" height="14"> <strong>On hold</strong>',
                static("admin/img/icon-alert.svg"),
            )
        return mark_safe('<span class="visually-hidden">Not on hold</span>')

    @admin.display(description="Total", ordering="total")
    def total_display(self, obj: Order) -> str:
        return money(obj.total, obj.currency)

    @admin.display(description="Total (base)", ordering="total_base")
    def total_base_display(self, obj: Order) -> str:
        if obj.total_base is None:
            return format_html('{}<span class="visually-hidden"> not converted yet</span>', NONE)
        return money(obj.total_base, obj.base_currency)

    @admin.display(description="Total in the base currency")
    def total_base_detail(self, obj: Order) -> str:
        if obj.total_base is None:
            return "Not converted yet (a background task converts it once a rate is known)."
        return money(obj.total_base, obj.base_currency)

    @admin.display(description="Exchange rate")
    def fx_rate_display(self, obj: Order) -> str:
        if obj.fx_rate is None:
            return NONE
        return f"1 {obj.currency} = {obj.fx_rate.normalize():f} {obj.base_currency}"

    @admin.display(description="Rate source")
    def fx_source_display(self, obj: Order) -> str:
        return obj.fx_source or NONE

    @admin.display(description="Rate date")
    def fx_date_display(self, obj: Order) -> Any:
        return obj.fx_date or NONE

    @admin.display(description="Subtotal")
    def subtotal_display(self, obj: Order) -> str:
        return money(obj.subtotal, obj.currency)

    @admin.display(description="Discounts")
    def discount_display(self, obj: Order) -> str:
        return money(obj.discount_total, obj.currency)

    @admin.display(description="Shipping")
    def shipping_display(self, obj: Order) -> str:
        return money(obj.shipping_price, obj.currency)

    @admin.display(description="Tax")
    def tax_display(self, obj: Order) -> str:
        return money(obj.tax_total, obj.currency)

    @admin.display(description="Total as the channel sent it")
    def channel_total_display(self, obj: Order) -> str:
        if obj.channel_total is None:
            return "not sent"
        return money(obj.channel_total, obj.currency)

    @admin.display(description="Active holds")
    def holds_summary(self, obj: Order) -> str:
        active = [h for h in obj.holds.all() if h.released_at is None]
        if not active:
            return "None"
        return format_html_join(
            mark_safe("<br>"),
            "{}{}",
            ((h.get_reason_display(), f": {h.note}" if h.note else "") for h in active),
        )

    @admin.display(description="Customer")
    def customer_link(self, obj: Order) -> str:
        if obj.customer is None:
            return "No customer record (no e-mail)"
        url = reverse("admin:orders_customer_change", args=[obj.customer_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.customer))

    @admin.display(description="Shipping address")
    def shipping_address_display(self, obj: Order) -> str:
        return address_html(obj.shipping_address)

    @admin.display(description="Billing address")
    def billing_address_display(self, obj: Order) -> str:
        return address_html(obj.billing_address)

    # --- list actions: one service call per order -----------------------------------------------

    def _selected(self, queryset: QuerySet[Order]) -> list[Order]:
        active = OrderHold.objects.filter(released_at__isnull=True).order_by("placed_at", "id")
        return list(
            queryset.order_by("pk").prefetch_related(
                Prefetch("holds", queryset=active, to_attr="active_holds")
            )
        )

    def _each(
        self,
        request: HttpRequest,
        orders: Sequence[Order],
        command: Callable[[Order], tuple[str, int]],
        failed: str,
    ) -> None:
        """Run `command` per order; its message (or the DomainError's) is reported per order."""
        for order in orders:
            try:
                text, level = command(order)
            except DomainError as exc:
                self.message_user(request, f"Order {order.number} {failed}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"Order {order.number} {text}", level)

    @admin.action(description="Hold (manual)", permissions=["care"])
    def hold_manual(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        actor = _actor(request)

        def hold(order: Order) -> tuple[str, int]:
            already = any(h.reason == HoldReason.MANUAL for h in order.active_holds)  # type: ignore[attr-defined]
            services.order_hold(
                order=order.pk,
                reason=HoldReason.MANUAL,
                note="Held from the order list.",
                actor=actor,
            )
            if already:
                return "was already on hold (manual).", messages.INFO
            return "is on hold (manual).", messages.SUCCESS

        self._each(request, self._selected(queryset), hold, "not held")

    @admin.action(description="Release holds", permissions=["care"])
    def release_holds(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        actor = _actor(request)

        def release(order: Order) -> tuple[str, int]:
            reasons = [h.reason for h in order.active_holds]  # type: ignore[attr-defined]
            services.order_release(
                order=order.pk, note="Released from the order list.", actor=actor
            )
            if not reasons:
                return "had no active hold.", messages.INFO
            return f"released: {_labels(HoldReason.choices, reasons)}.", messages.SUCCESS

        self._each(request, self._selected(queryset), release, "not released")

    @admin.action(description="Cancel (everything not shipped)", permissions=["care"])
    def cancel_open(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        """Asks for confirmation and a reason first, then cancels order by order."""
        orders = self._selected(queryset.prefetch_related("lines"))
        form = CancelSelectedForm(request.POST if request.POST.get("post") == "yes" else None)
        if form.is_bound and form.is_valid():
            actor = _actor(request)
            reason = form.cleaned_data["reason"].strip()

            def cancel(order: Order) -> tuple[str, int]:
                if order.status == OrderStatus.CANCELLED:
                    return "was already cancelled: nothing to do.", messages.WARNING
                after = services.order_cancel(order=order.pk, reason=reason, actor=actor)
                if after.status == OrderStatus.CANCELLED:
                    return "is cancelled.", messages.SUCCESS
                return (
                    f"had its open quantities cancelled; it is now {after.get_status_display()}.",
                    messages.SUCCESS,
                )

            self._each(request, orders, cancel, "not cancelled")
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Cancel orders",
            "orders": [(o, sum(ln.quantity_open for ln in o.lines.all())) for o in orders],
            "form": form,
            "adminform": _admin_form(form),
            "action_name": "cancel_open",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "select_across": request.POST.get("select_across", "0"),
        }
        return TemplateResponse(
            request, "admin/orders/order/cancel_selected_confirmation.html", context
        )

    # --- the order page and its commands ---------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        views = [
            ("hold", self.hold_view),
            ("release", self.release_view),
            ("cancel", self.cancel_view),
            ("note", self.note_view),
            ("address", self.address_view),
        ]
        return [
            *(
                path(f"<path:object_id>/{name}/", wrap(view), name=f"orders_order_{name}")
                for name, view in views
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra: dict[str, Any] = {**(extra_context or {})}
        order = self.get_object(request, unquote(object_id))
        if order is not None and self.has_care_permission(request):
            extra["care_links"] = self._care_links(order)
            extra["note_form"] = NoteForm()
            extra["note_url"] = reverse("admin:orders_order_note", args=[order.pk])
        return super().change_view(request, object_id, form_url, extra)

    def _care_links(self, order: Order) -> list[tuple[str, str]]:
        def url(name: str) -> str:
            return reverse(f"admin:orders_order_{name}", args=[order.pk])

        links = []
        if order.status not in CLOSED_STATUSES:
            links.append((url("hold"), "Hold"))
        if order.is_on_hold:
            links.append((url("release"), "Release holds"))
        if order.status not in CLOSED_STATUSES:
            links.append((url("cancel"), "Cancel…"))
        if order.status in EDITABLE_ADDRESS_STATUSES:
            links.append((url("address"), "Edit shipping address"))
        links.append((url("note"), "Add a note"))
        return links

    def _care_order(self, request: HttpRequest, object_id: str) -> Order:
        if not self.has_care_permission(request):
            raise PermissionDenied
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404(f"No order {object_id}.")
        return order

    def _page(
        self,
        request: HttpRequest,
        order: Order,
        title: str,
        form: forms.BaseForm,
        *,
        template: str = "admin/orders/order/action.html",
        status: int = 200,
        **extra: Any,
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "subtitle": None,
            "order": order,
            "original": order,
            "active_holds": list(order.holds.filter(released_at__isnull=True)),
            "change_url": reverse("admin:orders_order_change", args=[order.pk]),
            "changelist_url": reverse("admin:orders_order_changelist"),
            "form": form,
            "adminform": _admin_form(form),
            **extra,
        }
        return TemplateResponse(request, template, context, status=status)

    def _done(self, request: HttpRequest, order: Order, text: str, level: int) -> HttpResponse:
        self.message_user(request, f"Order {order.number}: {text}", level)
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def hold_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self._care_order(request, object_id)
        status = 200
        form = HoldForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                hold = services.order_hold(
                    order=order.pk,
                    reason=form.cleaned_data["reason"],
                    note=form.cleaned_data["note"].strip(),
                    actor=_actor(request),
                )
            except DomainError as exc:
                _show_error(form, exc)
                status = exc.status
            else:
                return self._done(
                    request, order, f"on hold ({hold.get_reason_display()}).", messages.SUCCESS
                )
        closed = order.status in CLOSED_STATUSES
        return self._page(
            request,
            order,
            f"Hold order {order.number}",
            form,
            status=status,
            submit="Hold",
            nothing_to_do=(
                f"This order is {order.get_status_display().lower()}: it can no longer be held."
                if closed
                else ""
            ),
        )

    def release_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self._care_order(request, object_id)
        active = list(order.holds.filter(released_at__isnull=True))
        status = 200
        form = ReleaseForm(request.POST if request.method == "POST" else None, active=active)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"] or None
            try:
                after = services.order_release(
                    order=order.pk,
                    reason=reason,
                    note=form.cleaned_data["note"].strip(),
                    actor=_actor(request),
                )
            except DomainError as exc:
                _show_error(form, exc)
                status = exc.status
            else:
                if not active:
                    return self._done(request, order, "had no active hold.", messages.INFO)
                released = [h.reason for h in active if reason in (None, h.reason)]
                still = "; it is still on hold." if after.is_on_hold else "."
                text = f"released {_labels(HoldReason.choices, released)}{still}"
                return self._done(request, order, text, messages.SUCCESS)
        return self._page(
            request,
            order,
            f"Release holds of order {order.number}",
            form,
            status=status,
            submit="Release",
            nothing_to_do="This order has no active hold." if not active else "",
        )

    def note_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self._care_order(request, object_id)
        status = 200
        form = NoteForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                services.order_note_add(
                    order=order.pk, text=form.cleaned_data["text"], actor=_actor(request)
                )
            except DomainError as exc:
                _show_error(form, exc)
                status = exc.status
            else:
                return self._done(request, order, "note added to the timeline.", messages.SUCCESS)
        return self._page(
            request,
            order,
            f"Add a note to order {order.number}",
            form,
            status=status,
            submit="Add note",
        )

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self._care_order(request, object_id)
        lines = list(order.lines.order_by("line_number"))
        status = 200
        form = CancelForm(request.POST if request.method == "POST" else None, lines=lines)
        if form.is_bound and form.is_valid():
            everything = "_cancel_all" in request.POST
            wanted = None if everything else form.quantities()
            if wanted == []:
                form.add_error(
                    None,
                    "Enter how many to cancel on at least one line, or cancel everything that "
                    "has not shipped.",
                )
                status = 400
            else:
                try:
                    after = services.order_cancel(
                        order=order.pk,
                        lines=wanted,
                        reason=form.cleaned_data["reason"].strip(),
                        actor=_actor(request),
                    )
                except DomainError as exc:
                    # The service numbers the lines it was given; the form names them by id.
                    names = {
                        f"lines.{index}.quantity": f"line_{line_id}"
                        for index, (line_id, _) in enumerate(wanted or [])
                    }
                    _show_error(form, exc, names)
                    status = exc.status
                else:
                    if after.status == OrderStatus.CANCELLED:
                        return self._done(request, order, "cancelled.", messages.SUCCESS)
                    units = sum(q for _, q in wanted or [])
                    text = (
                        f"{units} unit(s) cancelled; it is now {after.get_status_display()}."
                        if wanted
                        else f"open quantities cancelled; it is now {after.get_status_display()}."
                    )
                    return self._done(request, order, text, messages.SUCCESS)
        return self._page(
            request,
            order,
            f"Cancel order {order.number}",
            form,
            template="admin/orders/order/cancel.html",
            status=status,
            nothing_to_do=(
                ""
                if any(line.quantity_open for line in lines)
                else "Nothing is left to cancel: this order is "
                f"{order.get_status_display().lower()}."
            ),
            rows=form.rows(),
            reason_field=form["reason"],
        )

    def address_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self._care_order(request, object_id)
        current = dict(order.shipping_address or {})
        status = 200
        if request.method == "POST":
            form = AddressForm(request.POST)
            if form.is_valid():
                try:
                    after = services.order_shipping_address_update(
                        order=order.pk, address=form.address(current), actor=_actor(request)
                    )
                except DomainError as exc:
                    _show_error(form, exc)
                    status = exc.status
                else:
                    return self._address_done(request, after)
        else:
            form = AddressForm(
                initial={k: v for k, v in current.items() if k in ADDRESS_FIELDS and v}
            )
        locked = (
            ""
            if order.status in EDITABLE_ADDRESS_STATUSES
            else f"This order is {order.get_status_display().lower()}: its address can no "
            "longer change."
        )
        return self._page(
            request,
            order,
            f"Shipping address of order {order.number}",
            form,
            status=status,
            submit="Save address",
            nothing_to_do=locked,
            intro=(
                "An incomplete address is saved anyway and puts the order on hold (address "
                "incomplete) until it is fixed; a complete one releases that hold."
            ),
        )

    def _address_done(self, request: HttpRequest, order: Order) -> HttpResponse:
        hold = order.holds.filter(
            reason=HoldReason.ADDRESS_INCOMPLETE, released_at__isnull=True
        ).first()
        if hold is not None:
            return self._done(
                request,
                order,
                f"address saved, but it is incomplete ({hold.note}): the order is on hold "
                "(address incomplete) until it is fixed.",
                messages.WARNING,
            )
        return self._done(request, order, "shipping address saved.", messages.SUCCESS)


# --- customers ---------------------------------------------------------------------------------


@admin.register(Customer)
class CustomerAdmin(ServiceModelAdmin):
    """One shopper across every channel; care fixes names and phone, never the e-mail."""

    list_display = [
        "email",
        "name_display",
        "phone",
        "order_count",
        "first_order_at",
        "last_order_at",
    ]
    search_fields = ["email", "first_name", "last_name", "phone"]
    search_help_text = "E-mail, first or last name, phone."
    fields = ["email", "first_name", "last_name", "phone", "created_at", "updated_at"]
    readonly_fields = ["email", "created_at", "updated_at"]
    ordering = ["email"]
    list_per_page = 100
    show_full_result_count = False
    actions = ["export_personal_data", "erase_personal_data"]

    def has_manage_personal_data_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("orders.manage_personal_data"))

    @admin.action(
        description="Export personal data (JSON download)", permissions=["manage_personal_data"]
    )
    def export_personal_data(
        self, request: HttpRequest, queryset: QuerySet[Customer]
    ) -> HttpResponse | None:
        """One customer at a time: the download is the export (it is not stored)."""
        customers = list(queryset.order_by("pk")[:2])
        if len(customers) != 1:
            self.message_user(request, "Choose exactly one customer to export.", messages.ERROR)
            return None
        _, document = customer_data_export(
            customer=customers[0], source=PrivacyRequestSource.ADMIN, requested_by=_actor(request)
        )
        return export_download(document, f"customer-{customers[0].pk}-personal-data.json")

    @admin.action(description="Erase personal data…", permissions=["manage_personal_data"])
    def erase_personal_data(
        self, request: HttpRequest, queryset: QuerySet[Customer]
    ) -> HttpResponse | None:
        """Asks for confirmation first, then erases customer by customer (each is recorded)."""
        customers = list(queryset.order_by("pk"))
        if request.POST.get("post") == "yes":
            for customer in customers:
                try:
                    done = customer_data_erase(
                        customer=customer.pk,
                        source=PrivacyRequestSource.ADMIN,
                        requested_by=_actor(request),
                    )
                except ErasureBlocked as exc:
                    self.message_user(
                        request, f"{customer}: not erased. {exc.detail}", messages.ERROR
                    )
                except DomainError as exc:
                    self.message_user(request, f"{customer}: {exc.detail}", messages.ERROR)
                else:
                    orders = done.summary.get("orders", 0)
                    self.message_user(
                        request,
                        f"Customer {customer.pk}: personal data erased ({orders} orders "
                        "anonymised, kept for the books).",
                        messages.SUCCESS,
                    )
            return None
        rows = []
        for customer in customers:
            orders = list(customer.orders.only("number", "status"))
            still_open = [
                o.number or str(o.pk) for o in orders if o.status not in ERASABLE_STATUSES
            ]
            rows.append((customer, len(orders), ", ".join(still_open)))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Erase personal data",
            "customers": rows,
            "action_name": "erase_personal_data",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "select_across": request.POST.get("select_across", "0"),
        }
        return TemplateResponse(request, "admin/orders/customer/erase_confirmation.html", context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                order_total=Count("orders"),
                first_order=Min("orders__placed_at"),
                last_order=Max("orders__placed_at"),
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # customers arrive with their orders

    @admin.display(description="Name", ordering="last_name")
    def name_display(self, obj: Customer) -> str:
        return obj.name or NONE

    @admin.display(description="Orders", ordering="order_total")
    def order_count(self, obj: Customer) -> str:
        total = int(getattr(obj, "order_total", 0) or 0)
        url = reverse("admin:orders_order_changelist")
        return format_html('<a href="{}?customer__id__exact={}">{}</a>', url, obj.pk, total)

    @admin.display(description="First order", ordering="first_order")
    def first_order_at(self, obj: Customer) -> Any:
        return getattr(obj, "first_order", None)

    @admin.display(description="Last order", ordering="last_order")
    def last_order_at(self, obj: Customer) -> Any:
        return getattr(obj, "last_order", None)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra: dict[str, Any] = {**(extra_context or {})}
        customer = self.get_object(request, unquote(object_id))
        if customer is not None:
            orders = list(selectors.customer_orders(customer)[: CUSTOMER_ORDER_ROWS + 1])
            extra["customer_orders"] = [
                (order, money(order.total, order.currency))
                for order in orders[:CUSTOMER_ORDER_ROWS]
            ]
            extra["customer_orders_more"] = len(orders) > CUSTOMER_ORDER_ROWS
            extra["customer_order_total"] = int(getattr(customer, "order_total", 0) or 0)
            extra["customer_orders_url"] = (
                f"{reverse('admin:orders_order_changelist')}?customer__id__exact={customer.pk}"
            )
        return super().change_view(request, object_id, form_url, extra)

    def service_create(self, data: dict[str, Any]) -> Customer:
        raise PermissionDenied  # unreachable: no add permission

    def service_update(self, instance: Customer, data: dict[str, Any]) -> Customer:
        return customer_update(customer=instance, data=data)


def export_download(document: dict[str, Any], filename: str) -> HttpResponse:
    response = JsonResponse(document, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(admin.ModelAdmin):
    """Every export and erasure request, read-only; exports waiting for staff (a Shopify data
    request) are downloaded from here, and blocked erasures run again."""

    list_display = [
        "created_at",
        "kind",
        "status",
        "source",
        "customer",
        "channel_code",
        "requested_by",
        "completed_at",
    ]
    list_filter = ["kind", "status", "source"]
    list_select_related = ["customer"]
    search_fields = ["requested_by", "channel_code", "external_reference"]
    readonly_fields: ClassVar[list[Any]] = [
        "kind",
        "source",
        "status",
        "scope",
        "customer",
        "subject_email",
        "channel_code",
        "external_order_ids",
        "external_reference",
        "requested_by",
        "created_at",
        "completed_at",
        "summary",
        "detail",
    ]
    fields: ClassVar[list[Any]] = list(readonly_fields)
    actions = ["download_export", "run_again"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_manage_personal_data_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("orders.manage_personal_data"))

    @admin.action(description="Download the export (JSON)", permissions=["manage_personal_data"])
    def download_export(
        self, request: HttpRequest, queryset: QuerySet[PrivacyRequest]
    ) -> HttpResponse | None:
        chosen = list(queryset.filter(kind=PrivacyRequestKind.EXPORT)[:2])
        if len(chosen) != 1:
            self.message_user(request, "Choose exactly one export request.", messages.ERROR)
            return None
        done, document = privacy_request_export(request=chosen[0], actor=_actor(request))
        return export_download(document, f"privacy-request-{done.pk}.json")

    @admin.action(description="Run the erasure again", permissions=["manage_personal_data"])
    def run_again(self, request: HttpRequest, queryset: QuerySet[PrivacyRequest]) -> None:
        for item in queryset.filter(kind=PrivacyRequestKind.ERASE).exclude(
            status=PrivacyRequestStatus.COMPLETED
        ):
            try:
                privacy_request_run(request=item.pk, actor=_actor(request))
            except ErasureBlocked as exc:
                self.message_user(request, f"Request {item.pk}: {exc.detail}", messages.WARNING)
            else:
                self.message_user(request, f"Request {item.pk}: erased.", messages.SUCCESS)


# --- settings: fraud rules and exchange rates -------------------------------------------------


class FraudRuleForm(forms.ModelForm):
    home_country = forms.ChoiceField(
        required=False,
        help_text="For “first order abroad”: the country that is not abroad.",
    )

    class Meta:
        model = FraudRule
        fields = ["channel", "kind", "threshold", "home_country", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["home_country"])
        field.choices = [("", NONE), *((code, f"{name} ({code})") for code, name in countries)]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind")
        threshold = cleaned.get("threshold")
        if kind == FraudRuleKind.VALUE_OVER and (threshold is None or threshold <= 0):
            self.add_error("threshold", "Enter the order total above which orders are held.")
        if kind == FraudRuleKind.FIRST_ORDER_ABROAD and not cleaned.get("home_country"):
            self.add_error("home_country", "Choose the channel's home country.")
        return cleaned


@admin.register(FraudRule)
class FraudRuleAdmin(admin.ModelAdmin):
    """Per-channel settings: a plain form; the model form runs full_clean (constraints too)."""

    form = FraudRuleForm
    list_display = ["channel", "kind", "threshold", "home_country", "is_active"]
    list_select_related = ["channel"]
    list_filter = ["channel", "kind", "is_active"]
    autocomplete_fields = ["channel"]
    ordering = ["channel__code", "kind", "id"]


def _refresh_permission(request: HttpRequest) -> bool:
    return request.user.has_perm("orders.change_rateoverride")


class RateOverrideForm(forms.ModelForm):
    currency = forms.ChoiceField(help_text="The currency whose rate you set.")

    class Meta:
        model = RateOverride
        fields = ["currency", "rate", "valid_from", "note"]
        help_texts = {
            "rate": "Units of the currency per one unit of the base currency, like the ECB's.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "currency" in self.fields:
            field = cast(forms.ChoiceField, self.fields["currency"])
            offered = currency_choices(exclude=(settings.OMS_BASE_CURRENCY,))
            field.choices = [("", NONE), *offered]

    def clean_rate(self) -> Decimal:
        rate = self.cleaned_data["rate"]
        if rate is None or rate <= 0:
            raise forms.ValidationError("A positive rate.")
        return Decimal(rate)


class RatesRefreshMixin:
    """A “Refresh exchange rates now” button on the changelist, and the view it posts to."""

    admin_site: admin.AdminSite
    message_user: Callable[..., None]

    def refresh_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(require_POST(self.refresh_view))
        return [path("refresh/", view, name="orders_fxratesrefresh_refresh")]

    def refresh_context(self, request: HttpRequest) -> dict[str, Any]:
        if not _refresh_permission(request):
            return {}
        return {"refresh_url": reverse("admin:orders_fxratesrefresh_refresh")}

    def refresh_view(self, request: HttpRequest) -> HttpResponse:
        if not _refresh_permission(request):
            raise PermissionDenied
        try:
            refresh = services.fx_rates_refresh()
        except DomainError as exc:
            self.message_user(request, f"Exchange rates not refreshed: {exc}", messages.ERROR)
        else:
            self.message_user(
                request,
                f"Exchange rates refreshed: {refresh.currencies} currencies, {refresh.source} "
                f"rates of {refresh.rates_date:%Y-%m-%d}, overrides included.",
                messages.SUCCESS,
            )
        back = request.POST.get("next", "")
        if not back.startswith("/admin/"):
            back = reverse("admin:orders_fxratesrefresh_changelist")
        return HttpResponseRedirect(back)


@admin.register(RateOverride)
class RateOverrideAdmin(RatesRefreshMixin, ServiceModelAdmin):
    """Saving or deleting an override refreshes the stored rates, so the next conversion uses
    it; orders already converted keep their rate."""

    form = RateOverrideForm
    list_display = ["currency", "rate", "valid_from", "note", "updated_at"]
    search_fields = ["currency", "note"]
    ordering = ["currency"]
    change_list_template = "admin/orders/rates_change_list.html"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["currency", "updated_at"] if obj else ["updated_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), **self.refresh_context(request)}
        return super().changelist_view(request, context)

    def service_create(self, data: dict[str, Any]) -> RateOverride:
        return rate_override_save(**data)

    def service_update(self, instance: RateOverride, data: dict[str, Any]) -> RateOverride:
        return rate_override_save(
            currency=instance.currency,
            rate=data.get("rate", instance.rate),
            valid_from=data.get("valid_from", instance.valid_from),
            note=data.get("note", instance.note),
        )

    def delete_model(self, request: HttpRequest, obj: RateOverride) -> None:
        rate_override_delete(override=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[RateOverride]) -> None:
        for override in queryset.order_by("pk"):
            rate_override_delete(override=override)


@admin.register(FxRatesRefresh)
class FxRatesRefreshAdmin(RatesRefreshMixin, admin.ModelAdmin):
    """The record of every refresh of the stored rates: read-only."""

    list_display = ["refreshed_at", "source", "rates_date", "currencies"]
    list_filter = ["source"]
    date_hierarchy = "refreshed_at"
    change_list_template = "admin/orders/rates_change_list.html"
    show_full_result_count = False

    def get_urls(self) -> list[URLPattern]:
        return [*self.refresh_urls(), *super().get_urls()]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), **self.refresh_context(request)}
        return super().changelist_view(request, context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
