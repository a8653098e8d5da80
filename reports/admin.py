"""The Reports section of the back office: a page per report (the changelist of its rollup
table is the report): date range, channel, location and grouping filters, the SVG chart, the
table under it, the breakdowns and a CSV link (the API's). Readable by whoever may view orders.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from inventory.models import Channel, Location
from oms.admin.readonly import ReadOnlyModelAdmin
from oms.admin.tools import tool_context
from reports import selectors
from reports.api.serializers import ReportQuerySerializer
from reports.api.views import VIEW_ORDERS
from reports.charts import Series, svg_chart
from reports.models import (
    ChannelDay,
    FulfilmentDay,
    InventoryDay,
    ReturnSkuDay,
    SalesDay,
    SubscriptionReport,
)


def cell(key: str, value: Any) -> str:
    """A figure as the table shows it: rates in per cent, nothing as a dash."""
    if value is None:
        return "-"
    if key.endswith("_rate") and isinstance(value, Decimal):
        return f"{value * 100:.1f} %"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


class ReportAdmin(ReadOnlyModelAdmin):
    report = ""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.has_perm(VIEW_ORDERS))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        given = {k: v for k, v in request.GET.items() if v and k != "format"}
        params = ReportQuerySerializer(data=given, report=self.report)
        errors: dict[str, Any] = {}
        if not params.is_valid():
            errors = dict(params.errors)
            params = ReportQuerySerializer(data={}, report=self.report)
            params.is_valid(raise_exception=True)
        query = params.query()
        report = selectors.build(query)
        context = tool_context(
            self,
            request,
            report.title,
            report=report,
            errors=errors,
            **self._page(report),
            **(extra_context or {}),
        )
        return TemplateResponse(request, "admin/reports/report.html", context)

    def _page(self, report: selectors.Report) -> dict[str, Any]:
        query = report.query
        labels = [row["period"].isoformat() for row in report.rows]
        chart = svg_chart(
            labels,
            [
                Series(label, [row.get(key) for row in report.rows], kind)
                for key, label, kind in report.chart
            ],
            title=report.title,
        )
        keys = [key for key, _ in report.columns]
        column_labels = dict(report.columns)
        filters = {
            "from": query.start.isoformat(),
            "to": query.end.isoformat(),
            "group": query.group,
            **({"channel": query.channel.code} if query.channel else {}),
            **({"location": query.location.code} if query.location else {}),
        }
        api = reverse("v1:report", kwargs={"name": report.name})
        return {
            "chart": chart,
            "filters": filters,
            "allowed": selectors.FILTERS[report.name],
            "groups": selectors.GROUPS,
            "channels": list(Channel.objects.order_by("code").values_list("code", flat=True)),
            "locations": list(Location.objects.order_by("code").values_list("code", flat=True)),
            "headers": [label for _, label in report.columns],
            "table": [
                [row["period"].isoformat(), *(cell(k, row.get(k)) for k in keys)]
                for row in report.rows
            ],
            "totals": [cell(k, report.totals.get(k)) for k in keys],
            "extra_totals": [
                (k.replace("_", " "), cell(k, v)) for k, v in report.totals.items() if k not in keys
            ],
            "breakdowns": [
                (
                    name,
                    [column_labels.get(k, k.replace("_", " ")) for k in rows[0]] if rows else [],
                    [[cell(k, v) for k, v in row.items()] for row in rows],
                )
                for name, rows in report.breakdowns.items()
            ],
            "csv_url": f"{api}?{urlencode({**filters, 'format': 'csv'})}",
            "pages": [
                (selectors.TITLES[name], reverse(f"admin:reports_{model}_changelist"))
                for name, model in PAGES
            ],
        }


PAGES = (
    ("sales", "salesday"),
    ("fulfilment", "fulfilmentday"),
    ("inventory", "inventoryday"),
    ("returns", "returnskuday"),
    ("channels", "channelday"),
    ("subscriptions", "subscriptionreport"),
)


@admin.register(SalesDay)
class SalesReportAdmin(ReportAdmin):
    report = "sales"


@admin.register(FulfilmentDay)
class FulfilmentReportAdmin(ReportAdmin):
    report = "fulfilment"


@admin.register(InventoryDay)
class InventoryReportAdmin(ReportAdmin):
    report = "inventory"


@admin.register(ReturnSkuDay)
class ReturnsReportAdmin(ReportAdmin):
    report = "returns"


@admin.register(ChannelDay)
class ChannelsReportAdmin(ReportAdmin):
    report = "channels"


@admin.register(SubscriptionReport)
class SubscriptionsReportAdmin(ReportAdmin):
    report = "subscriptions"


from reports import whatif_admin  # noqa: E402, F401  (registers the what-if pages)
