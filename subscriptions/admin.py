"""The back office's subscriptions: a list with filters, a read-only page with the lines, the
renewals (each with its order) and the timeline, and actions that call the services (pause,
resume, skip the next renewal, cancel, renew now). Channel settings (time zone, dunning days,
reminder days) are edited here.

Invariant: staff never write a status or a date by hand: the page is read-only and every
change is an action through subscriptions.services, reported per subscription."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from oms.admin.readonly import ReadOnlyInline
from oms.admin.tools import ToolAdmin, each_object
from oms.money import money_format
from subscriptions import services
from subscriptions.models import (
    ChannelSubscriptionSettings,
    Subscription,
    SubscriptionEvent,
    SubscriptionLine,
    SubscriptionRenewal,
)
from subscriptions.selectors import line_price_text


class SubscriptionLineInline(ReadOnlyInline):
    model = SubscriptionLine
    fields = ("sku", "quantity", "price")

    def get_queryset(self, request: HttpRequest) -> QuerySet[SubscriptionLine]:
        return super().get_queryset(request).select_related("sku", "subscription")

    @admin.display(description="Unit price")
    def price(self, obj: SubscriptionLine) -> str:
        return line_price_text(obj, obj.subscription.currency)


class SubscriptionRenewalInline(ReadOnlyInline):
    model = SubscriptionRenewal
    verbose_name_plural = "renewals and their orders"
    fields = (
        "sequence",
        "due_at",
        "order_link",
        "order_status",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[SubscriptionRenewal]:
        return super().get_queryset(request).select_related("order").order_by("-sequence")

    @admin.display(description="Order")
    def order_link(self, obj: SubscriptionRenewal) -> str:
        if obj.order is None:
            return "-"
        url = reverse("admin:orders_order_change", args=[obj.order_id])
        return format_html('<a href="{}">{}</a>', url, obj.order.number)

    @admin.display(description="Order status")
    def order_status(self, obj: SubscriptionRenewal) -> str:
        if obj.order is None:
            return "-"
        return f"{obj.order.get_status_display()}, payment {obj.order.payment_status}"


class SubscriptionEventInline(ReadOnlyInline):
    model = SubscriptionEvent
    verbose_name_plural = "timeline"
    fields = ("created_at", "kind", "actor", "data")
    ordering = ("created_at", "id")


@admin.register(Subscription)
class SubscriptionAdmin(ToolAdmin):
    list_display = [
        "number",
        "email",
        "channel_code",
        "status",
        "every",
        "next_order_at",
        "failure_reason",
    ]
    list_filter = ["status", "channel", "interval"]
    list_select_related = ["channel"]
    search_fields = ["number", "email", "customer_name"]
    date_hierarchy = "next_order_at"
    fields = (
        "number",
        "channel",
        "status",
        "email",
        "customer_name",
        "address",
        "currency",
        "shipping",
        "every",
        "next_order_at",
        "next_sequence",
        "ends_after_orders",
        "ends_on",
        "cancel_reason",
        "cancelled_at",
        "failed_at",
        "failure_reason",
        "self_service_link",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = [SubscriptionLineInline, SubscriptionRenewalInline, SubscriptionEventInline]
    actions = ["pause", "resume", "skip", "cancel", "renew"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created through the API (the shop's checkout)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Channel", ordering="channel__code")
    def channel_code(self, obj: Subscription) -> str:
        return obj.channel.code

    @admin.display(description="Shipping address")
    def address(self, obj: Subscription) -> str:
        a = obj.shipping_address or {}
        parts = [a.get("name"), a.get("line1"), a.get("line2"), a.get("postal_code"), a.get("city")]
        return ", ".join(str(p) for p in [*parts, a.get("country")] if p)

    @admin.display(description="Shipping price")
    def shipping(self, obj: Subscription) -> str:
        return f"{money_format(obj.shipping_price, obj.currency)} {obj.currency}"

    @admin.display(description="Every")
    def every(self, obj: Subscription) -> str:
        unit = obj.get_interval_display().lower()
        return f"{obj.interval_count} {unit}s" if obj.interval_count > 1 else unit

    @admin.display(description="Shopper's page")
    def self_service_link(self, obj: Subscription) -> str:
        url = reverse("subscription-manage", args=[obj.manage_token])
        return format_html('<a href="{}" target="_blank" rel="noopener">open</a>', url)

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Subscription],
        command: Callable[[Subscription], str],
    ) -> None:
        each_object(
            self,
            request,
            queryset.order_by("pk"),
            lambda sub: f"Subscription {sub.number}: {command(sub)}",
            failed=lambda sub, exc: f"Subscription {sub.number}: {exc}",
        )

    @admin.action(description="Pause", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        actor = self.actor(request)
        self._each(
            request,
            queryset,
            lambda s: f"{services.subscription_pause(subscription=s, actor=actor).status}.",
        )

    @admin.action(description="Resume", permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        actor = self.actor(request)

        def command(sub: Subscription) -> str:
            done = services.subscription_resume(subscription=sub, actor=actor)
            return f"{done.status}, next order {done.next_order_at:%Y-%m-%d %H:%M} UTC."

        self._each(request, queryset, command)

    @admin.action(description="Skip the next renewal", permissions=["change"])
    def skip(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        actor = self.actor(request)

        def command(sub: Subscription) -> str:
            done = services.subscription_skip(subscription=sub, actor=actor)
            return f"skipped, next order {done.next_order_at:%Y-%m-%d %H:%M} UTC."

        self._each(request, queryset, command)

    @admin.action(description="Cancel", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        actor = self.actor(request)
        self._each(
            request,
            queryset,
            lambda s: (
                services.subscription_cancel(
                    subscription=s, reason="Cancelled by staff.", actor=actor
                ).status
                + "."
            ),
        )

    @admin.action(description="Renew now (order the next period)", permissions=["change"])
    def renew(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        actor = self.actor(request)

        def command(sub: Subscription) -> str:
            renewal = services.subscription_renew(
                subscription=sub, sequence=sub.next_sequence, actor=actor
            )
            number = renewal.order.number if renewal.order else "not captured yet"
            return f"renewal {renewal.sequence} ordered (order {number}, {renewal.status})."

        self._each(request, queryset, command)


@admin.register(ChannelSubscriptionSettings)
class ChannelSubscriptionSettingsAdmin(admin.ModelAdmin):
    list_display = ["channel", "time_zone", "dunning_days", "reminder_days"]
    list_select_related = ["channel"]
    autocomplete_fields = ["channel"]
