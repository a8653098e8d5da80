"""The reports on the operations home (oms.admin.home): the last two weeks' sales as a chart,
and a link to each report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from oms.admin.home import Link, Panel, home_link, home_panel
from reports import selectors, services
from reports.admin import PAGES
from reports.api.serializers import ReportQuerySerializer
from reports.api.views import VIEW_ORDERS
from reports.charts import Series, svg_chart

DAYS = 14


def sales_chart(request: HttpRequest) -> SafeString:
    today = timezone.localdate()
    params = ReportQuerySerializer(
        data={
            "from": (today - dt.timedelta(days=DAYS - 1)).isoformat(),
            "to": today.isoformat(),
            "group": "day",
        },
        report="sales",
    )
    params.is_valid(raise_exception=True)
    # Today from the orders, as the "Placed today" figure counts: the rollup has it only once
    # beat has refreshed it (every minute; never where beat does not run).
    live = services.sales_days(today, today)
    report = selectors.sales(params.query(), live_from=today, live=live)
    labels = [row["period"].isoformat() for row in report.rows]
    return svg_chart(
        labels,
        [
            Series(label, [row.get(key) for row in report.rows], kind)
            for key, label, kind in report.chart
        ],
        title=f"Sales, last {DAYS} days",
    )


home_panel(Panel("Reports", f"Sales, last {DAYS} days", sales_chart, VIEW_ORDERS))


def _page(model: str) -> Callable[[], str]:
    return lambda: reverse(f"admin:reports_{model}_changelist")


for name, model in PAGES:
    home_link(Link("Reports", selectors.TITLES[name], _page(model), VIEW_ORDERS))
home_link(
    Link(
        "Reports",
        "What-if routing",
        lambda: reverse("admin:reports_routingdraft_changelist"),
        "reports.manage_routing_drafts",
    )
)
