"""The kernel's inbox page: every inbound webhook delivery (sales channels, carriers, 3PLs), a
read-only record (oms.inbox writes it), filtered by kind, source and status."""

from __future__ import annotations

import json

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from oms.admin.fields import UsedValuesFilter
from oms.admin.readonly import ReadOnlyModelAdmin
from oms.models import InboundWebhook

#: The page of a delivery: all of it, read-only, the payload laid out.
FIELDS = (
    "kind",
    "source",
    "channel_id",
    "delivery_id",
    "topic",
    "status",
    "attempts",
    "received_at",
    "processed_at",
    "claimed_by",
    "claimed_until",
    "error",
    "nul_stripped",
    "payload_json",
)


class SourceFilter(UsedValuesFilter):
    title = "source"
    parameter_name = "source"
    field_name = "source"


@admin.register(InboundWebhook)
class InboundWebhookAdmin(ReadOnlyModelAdmin):
    list_display = [
        "id",
        "received_at",
        "kind",
        "source",
        "topic",
        "delivery_id",
        "status",
        "attempts",
        "processed_at",
        "short_error",
    ]
    list_filter = ["kind", SourceFilter, "status"]
    search_fields = ["delivery_id"]
    search_help_text = "Delivery id (exact)."
    date_hierarchy = "received_at"
    list_per_page = 100
    show_full_result_count = False
    fields = FIELDS
    readonly_fields = FIELDS

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[InboundWebhook], search_term: str
    ) -> tuple[QuerySet[InboundWebhook], bool]:
        term = search_term.strip()
        return (queryset.filter(delivery_id=term) if term else queryset), False

    @admin.display(description="error")
    def short_error(self, obj: InboundWebhook) -> str:
        return obj.error[:100]

    @admin.display(description="payload")
    def payload_json(self, obj: InboundWebhook) -> str:
        text = json.dumps(obj.payload, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)
