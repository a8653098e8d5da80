"""The Reports section of the back office renders every report with its chart and table, and
the chart is a plain SVG (no script, nothing fetched)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from oms.roles import WAREHOUSE
from reports.charts import Series, nice_top, svg_chart
from reports.services import rollups_refresh
from tests import staff
from tests.reports.conftest import APRIL, D1

PAGES = {
    "sales": "salesday",
    "fulfilment": "fulfilmentday",
    "inventory": "inventoryday",
    "returns": "returnskuday",
    "channels": "channelday",
    "subscriptions": "subscriptionreport",
}
MARCH = "?from=2025-03-03&to=2025-03-05"


@pytest.fixture
def browser(history):
    rollups_refresh(start=D1, end=APRIL)
    return staff.admin_client_of(staff.user_of(WAREHOUSE))


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(PAGES))
def test_every_report_page_renders_its_chart_table_and_csv_link(browser, name):
    url = reverse(f"admin:reports_{PAGES[name]}_changelist")
    response = browser.get(url + MARCH)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html
    assert "<script" not in html.split('<div id="content-main"')[1]
    assert '<tr class="total">' in html
    assert f"/api/v1/reports/{name}/?from=2025-03-03&amp;to=2025-03-05&amp;group=day" in html
    assert "format=csv" in html
    # one table row per day of the range, plus the total
    table = html.split('<table class="report">')[1].split("</table>")[0]
    assert table.count("<tr") == 1 + 3 + 1


@pytest.mark.django_db
def test_the_sales_page_shows_the_figures(browser):
    html = browser.get(reverse("admin:reports_salesday_changelist") + MARCH).content.decode()
    assert "145.50" in html
    assert "72.75" in html
    returns = browser.get(reverse("admin:reports_returnskuday_changelist") + MARCH)
    assert "50.0 %" in returns.content.decode()  # 2 of 4 units came back


@pytest.mark.django_db
def test_bad_filters_show_an_error_not_a_500(browser):
    response = browser.get(
        reverse("admin:reports_salesday_changelist") + "?from=2025-03-09&to=2025-03-01"
    )
    assert response.status_code == 200
    assert "comes after" in response.content.decode()
    response = browser.get(reverse("admin:reports_inventoryday_changelist") + "?channel=web")
    assert "no channel filter" in response.content.decode()


@pytest.mark.django_db
def test_the_reports_section_needs_view_order(history):
    nobody = staff.admin_client_of(staff.user_of(""))
    assert nobody.get(reverse("admin:reports_salesday_changelist")).status_code == 403
    index = staff.admin_client_of(staff.user_of(WAREHOUSE)).get(reverse("admin:index"))
    assert "Reports" in index.content.decode()


def test_the_chart_has_axes_a_legend_and_escapes_its_text():
    svg = svg_chart(
        ["2025-03-03", "2025-03-04"],
        [
            Series("Revenue <EUR>", [Decimal("145.50"), None], "bar"),
            Series("Orders", [2, 1], "line"),
        ],
        title="Sales",
    )
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "Revenue &lt;EUR&gt;" in svg
    assert "<EUR>" not in svg
    assert "Orders (right axis)" in svg
    assert len(re.findall(r"<rect [^>]*fill=\"#417690\"><title>", svg)) == 1  # None: no bar
    assert "<polyline" in svg
    assert ">200</text>" in svg  # the left axis tops at 200 (nice above 145.50)


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (0.3, 0.5), (7, 10), (145.5, 200), (2400, 2500), (1e6, 1e6)]
)
def test_nice_axis_tops(value, top):
    assert nice_top(value) == top
