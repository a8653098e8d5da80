"""The back office of returns: reasons are edited here; returns and refunds are read-only
(their workflow runs through services, from the API and admin actions)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from returns.models import Refund, ReturnLine, ReturnReason, ReturnRequest


@admin.register(ReturnReason)
class ReturnReasonAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "restocking_fee_percent", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "label"]


class ReturnLineInline(admin.TabularInline):
    model = ReturnLine
    extra = 0
    can_delete = False
    fields = (
        "order_line",
        "quantity",
        "reason",
        "quantity_received",
        "quantity_sellable",
        "quantity_damaged",
        "quantity_defective",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReturnRequest)
class ReturnRequestAdmin(admin.ModelAdmin):
    list_display = ["number", "order", "status", "source", "created_at"]
    list_filter = ["status", "source"]
    list_select_related = ["order"]
    search_fields = ["number", "order__number"]
    readonly_fields = ["number", "order", "status", "source", "comment", "created_at"]
    inlines = [ReturnLineInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ["id", "order", "return_request", "amount", "currency", "status", "created_at"]
    list_filter = ["status"]
    list_select_related = ["order", "return_request"]
    search_fields = ["order__number", "provider_reference"]
    readonly_fields = [
        "order",
        "return_request",
        "amount",
        "currency",
        "status",
        "reason",
        "idempotency_key",
        "provider_reference",
        "failure_reason",
        "actor",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
