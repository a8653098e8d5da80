"""The kernel's back-office pages: the outbox (what is waiting to be delivered, what failed)
and the workers' heartbeats. Both are read-only; "Retry now" is the one action (a service)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from oms.admin.readonly import ReadOnlyModelAdmin
from oms.models import OutboxMessage, WorkerHeartbeat
from oms.outbox import outbox_figures, outbox_retry


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "task",
        "state",
        "arguments",
        "attempts",
        "created_at",
        "run_after",
        "error",
    )
    list_filter = ("state", "task", "queue")
    search_fields = ("task", "dedupe_key", "last_error")
    date_hierarchy = "created_at"
    actions = ("retry_now",)
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]

    @admin.display(description="arguments")
    def arguments(self, obj: OutboxMessage) -> str:
        return ", ".join(f"{k}={v}" for k, v in (obj.kwargs or {}).items())[:120]

    @admin.display(description="last error")
    def error(self, obj: OutboxMessage) -> str:
        return obj.last_error[:120]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        extra_context = {**(extra_context or {}), "outbox": outbox_figures()}
        return super().changelist_view(request, extra_context=extra_context)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("oms.change_outboxmessage")

    @admin.action(description="Retry now (fresh attempts)", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        count = outbox_retry(ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            f"{count} message(s) will be published by the next sweep.",
            messages.SUCCESS if count else messages.WARNING,
        )


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyModelAdmin):
    list_display = ("identity", "role", "nodename", "started_at", "seen_at", "alive")
    list_filter = ("role", "hostname")

    @admin.display(boolean=True, description="alive")
    def alive(self, obj: WorkerHeartbeat) -> bool:
        stale = dt.timedelta(seconds=settings.OMS_WORKER_HEARTBEAT_STALE_SECONDS)
        return obj.stopped_at is None and obj.seen_at >= timezone.now() - stale
