"""Routing decisions: why each order went where it went, read-only, written by routing."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from fulfilment.admin.explanation import explanation_html
from fulfilment.models import RoutingDecision
from oms.admin.readonly import ReadOnlyModelAdmin

DECISION_FIELDS = ("order_link", "trigger", "outcome", "created_at", "explanation_table")


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(ReadOnlyModelAdmin):
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
