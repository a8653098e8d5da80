"""Privacy requests (exports and erasures): read-only, with the download and the retry."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from oms.admin.readonly import ReadOnlyModelAdmin
from oms.admin.tools import actor_name
from orders.admin.customers import export_download
from orders.models import PrivacyRequest, PrivacyRequestKind, PrivacyRequestStatus
from orders.services.privacy import ErasureBlocked, privacy_request_export, privacy_request_run


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(ReadOnlyModelAdmin):
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
        done, document = privacy_request_export(request=chosen[0], actor=actor_name(request))
        return export_download(document, f"privacy-request-{done.pk}.json")

    @admin.action(description="Run the erasure again", permissions=["manage_personal_data"])
    def run_again(self, request: HttpRequest, queryset: QuerySet[PrivacyRequest]) -> None:
        for item in queryset.filter(kind=PrivacyRequestKind.ERASE).exclude(
            status=PrivacyRequestStatus.COMPLETED
        ):
            try:
                privacy_request_run(request=item.pk, actor=actor_name(request))
            except ErasureBlocked as exc:
                self.message_user(request, f"Request {item.pk}: {exc.detail}", messages.WARNING)
            else:
                self.message_user(request, f"Request {item.pk}: erased.", messages.SUCCESS)
