"""The return-rate report of the back office: units returned / units shipped per SKU, and the
returns per reason, for the orders placed in a period (returns.selectors.return_rates: three
queries whatever the amount of data)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date

from oms.admin.readonly import ReadOnlyModelAdmin
from oms.admin.tools import tool_context
from returns import selectors
from returns.models import ReturnRateReport

DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366


def _period(request: HttpRequest) -> tuple[dt.date, dt.date, str]:
    today = timezone.localdate()
    end = parse_date(request.GET.get("end", "") or "") or today
    start = parse_date(request.GET.get("start", "") or "") or end - dt.timedelta(days=DEFAULT_DAYS)
    problem = ""
    if start > end:
        start, end = end, start
        problem = "The start came after the end: the dates were swapped."
    if (end - start).days > MAX_DAYS:
        start = end - dt.timedelta(days=MAX_DAYS)
        problem = f"A report covers at most {MAX_DAYS} days: the start was moved."
    return start, end, problem


@admin.register(ReturnRateReport)
class ReturnRateReportAdmin(ReadOnlyModelAdmin):
    """A report, not a table: the changelist is the report page."""

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        start, end, problem = _period(request)
        report = selectors.return_rates(start=start, end=end)
        context = tool_context(
            self,
            request,
            "Return rates",
            report=report,
            problem=problem,
            returns_url=reverse("admin:returns_returnrequest_changelist"),
            queue_url=reverse("admin:returns_receivingqueue_changelist"),
            **(extra_context or {}),
        )
        return TemplateResponse(request, "admin/returns/report.html", context)
