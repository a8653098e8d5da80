"""The order list and the order page (read-only); the commands are in order_actions (list
actions) and order_page (the page's forms).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import QuerySet
from django.http import HttpRequest
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from oms.admin.columns import datetime_column
from oms.admin.export import CsvExportMixin
from oms.admin.readonly import ReadOnlyModelAdmin
from orders import selectors
from orders.admin.display import NONE, address_html, money
from orders.admin.filters import ActiveHoldReasonFilter, OnHoldFilter, ShipCountryFilter
from orders.admin.inlines import OrderHoldInline, OrderLineInline
from orders.admin.order_actions import OrderActions
from orders.admin.order_page import OrderPage
from orders.models import Order


def register_order_inline(inline: type[InlineModelAdmin]) -> None:
    """Let a higher app (fulfilment, returns) show its records on the order page."""
    if inline not in OrderAdmin.extra_inlines:
        OrderAdmin.extra_inlines.append(inline)


@admin.register(Order)
class OrderAdmin(CsvExportMixin, OrderActions, OrderPage, ReadOnlyModelAdmin):
    """The order list and the order page: read-only records, commands through services."""

    csv_columns = [
        ("number", "number"),
        ("channel", "channel__code"),
        ("external_id", "external_id"),
        ("external_number", "external_number"),
        ("status", "status"),
        ("payment_status", "payment_status"),
        ("on_hold", "is_on_hold"),
        ("email", "email"),
        ("currency", "currency"),
        ("subtotal", "subtotal"),
        ("discount_total", "discount_total"),
        ("tax_total", "tax_total"),
        ("total", "total"),
        ("base_currency", "base_currency"),
        ("total_base", "total_base"),
        ("ship_country", "ship_country"),
        ("placed_at", "placed_at"),
        ("created_at", "created_at"),
    ]

    list_display = [
        "number",
        "channel_code",
        "customer_display",
        "status",
        "payment_status",
        "on_hold",
        # The total, and beneath it the base currency's only where that differs (a second column
        # repeating the same figure for most orders pushed the dates off a laptop's screen).
        "total_column",
        "ship_country",
        "placed",
    ]
    placed = datetime_column("placed_at", "Placed")
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
    # The day the shopper ordered, not the day the order reached the OMS (a sync imports history).
    date_hierarchy = "placed_at"
    # Only makes the search box appear: get_search_results searches like the API does.
    search_fields = ["number"]
    search_help_text = "Order number, channel reference, e-mail, name, phone or SKU code."
    list_per_page = 100
    show_full_result_count = False
    actions = ["hold_manual", "release_holds", "cancel_open"]
    inlines = [OrderLineInline, OrderHoldInline]
    # Open on the page: the lines and the shipments; the other tables (holds, payments, refunds,
    # routing decisions) are collapsed so that the page fits a laptop screen. The timeline is
    # not an inline: orders.admin.timeline writes it in sentences, newest first.
    open_inlines: ClassVar[frozenset[str]] = frozenset({"orderline", "shipment"})
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
    # Orders come from channels and the API, and the page is read-only (ReadOnlyModelAdmin);
    # the commands (order_actions, order_page) change orders, with orders.change_order.

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return super().get_queryset(request).select_related("channel", "customer")

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[type[InlineModelAdmin]]:
        return [*self.inlines, *self.extra_inlines]

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        instances = super().get_inline_instances(request, obj)
        for inline in instances:
            if inline.model._meta.model_name not in self.open_inlines:
                inline.classes = [*(inline.classes or []), "collapse"]
        return instances

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

    @admin.display(description="Total", ordering="total_base")
    def total_column(self, obj: Order) -> str:
        if obj.currency == obj.base_currency:
            return money(obj.total, obj.currency)
        return format_html(
            '{}<br><small title="In the base currency">{}</small>',
            money(obj.total, obj.currency),
            self.total_base_display(obj),
        )

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
