"""GET /api/v1/reports/<name>/ on the seeded history (tests/reports/conftest): the figures are
worked out by hand from the seed, never by the report code."""

from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone

from oms.roles import CUSTOMER_CARE, INTEGRATOR, WAREHOUSE
from reports.services import rollups_refresh
from tests import staff
from tests.reports.conftest import APRIL, D1, D2

pytestmark = pytest.mark.django_db

MARCH = {"from": "2025-03-03", "to": "2025-03-05"}


@pytest.fixture
def api(history):
    rollups_refresh(start=D1, end=APRIL)
    return staff.api_client_of(staff.user_of(INTEGRATOR))


def get(api, name, **params):
    response = api.get(f"/api/v1/reports/{name}/", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_sales_per_day(api):
    body = get(api, "sales", **MARCH)
    assert [r["period"] for r in body["rows"]] == ["2025-03-03", "2025-03-04", "2025-03-05"]
    first, second, third = body["rows"]
    assert first == {
        "period": "2025-03-03",
        "orders": 2,
        "units": 4,
        "revenue": "145.50",
        "average_order_value": "72.75",
        "unconverted": 0,
    }
    # o3 has no base-currency total yet: counted, not in revenue nor in the average
    assert (second["orders"], second["units"], second["revenue"]) == (1, 2, "0.00")
    assert second["average_order_value"] is None
    assert second["unconverted"] == 1
    assert (third["orders"], third["revenue"]) == (0, "0.00")
    assert body["totals"] == {
        "orders": 3,
        "units": 6,
        "revenue": "145.50",
        "average_order_value": "72.75",
        "unconverted": 1,
    }
    assert [c["channel"] for c in body["breakdowns"]["channels"]] == ["shop", "web"]
    assert body["base_currency"] == "EUR"


def test_sales_per_month_and_week_and_channel(api):
    months = get(api, "sales", **{"from": "2025-03-01", "to": "2025-04-30", "group": "month"})
    assert [(r["period"], r["orders"], r["units"], r["revenue"]) for r in months["rows"]] == [
        ("2025-03-01", 3, 6, "145.50"),
        ("2025-04-01", 1, 1, "30.00"),
    ]
    assert months["rows"][1]["average_order_value"] == "30.00"
    weeks = get(api, "sales", **{"from": "2025-03-03", "to": "2025-04-01", "group": "week"})
    assert [(r["period"], r["orders"]) for r in weeks["rows"]] == [
        ("2025-03-03", 3),
        ("2025-03-10", 0),
        ("2025-03-17", 0),
        ("2025-03-24", 0),
        ("2025-03-31", 1),
    ]
    shop = get(api, "sales", **{"from": "2025-03-01", "to": "2025-04-30", "channel": "shop"})
    assert (shop["totals"]["orders"], shop["totals"]["revenue"]) == (2, "30.00")


def test_fulfilment(api):
    body = get(api, "fulfilment", **MARCH)
    totals = body["totals"]
    assert totals["shipped"] == 3
    assert totals["on_time_rate"] == "0.6667"  # A and C of A, B, C
    assert (totals["ship_p50_hours"], totals["ship_p90_hours"]) == (24, 26)  # of 6, 24, 26
    assert totals["delivered"] == 1
    assert totals["delivered_on_time_rate"] == "0.0000"
    assert (totals["delivery_p50_hours"], totals["delivery_p90_hours"]) == (48, 48)
    assert totals["split_rate"] == "0.3333"  # o2 of o1, o2, o3
    assert totals["backorder_rate"] == "0.3333"  # o3
    assert totals["units_short"] == 2
    assert totals["backorders_open"] == 1
    assert totals["backorder_age_days"] == f"{(timezone.localdate() - D2).days}.0"
    day2 = body["rows"][1]
    assert (day2["shipped"], day2["on_time_rate"]) == (2, "0.5000")
    assert (day2["ship_p50_hours"], day2["ship_p90_hours"]) == (24, 26)
    l1 = get(api, "fulfilment", **MARCH, location="L1")["totals"]
    assert (l1["shipped"], l1["on_time_rate"], l1["ship_p50_hours"], l1["ship_p90_hours"]) == (
        2,
        "0.5000",
        6,
        24,
    )
    assert l1["split_rate"] is None  # orders are not at a location
    by_location = {r["location"]: r["shipped"] for r in body["breakdowns"]["locations"]}
    assert by_location == {"L1": 2, "L2": 1}


def test_inventory(api):
    totals = get(api, "inventory", **MARCH)["totals"]
    assert totals == {
        "stockout_sku_days": 4,  # L1 S1 on 4 and 5 Mar, L2 S1 on 4 and 5 Mar
        "skus": 3,
        "skus_dead": 1,  # L1 S2
        "on_hand": 4,
        "units_sold": 6,
        "days_of_cover": "2.0",  # 4 on hand / (6 sold / 3 days)
        # (3 + 1.747 + 0.422 at L1, 1 + 0.085 at L2) / 6 sold
        "wape": "1.042",
    }
    l2 = get(api, "inventory", **MARCH, location="L2")["totals"]
    assert (l2["stockout_sku_days"], l2["units_sold"], l2["wape"]) == (2, 1, "1.085")
    rows = get(api, "inventory", **MARCH)["rows"]
    assert [r["stockout_sku_days"] for r in rows] == [0, 2, 2]


def test_returns(api):
    body = get(api, "returns", **MARCH)
    assert body["totals"] == {
        "units_shipped": 4,
        "units_returned": 2,
        "return_rate": "0.5000",
        "units_restocked": 1,
        "units_written_off": 1,
        "refunds": 2,
        "refund_total": "29.10",  # 10 USD at 0.91 + 20
    }
    assert [(s["sku"], s["return_rate"]) for s in body["breakdowns"]["skus"]] == [
        ("S2", "1.0000"),
        ("S1", "0.3333"),
    ]
    assert body["breakdowns"]["reasons"] == [
        {"reason": "damaged", "returns": 1, "units": 1},
        {"reason": "too_big", "returns": 1, "units": 1},
    ]
    assert [r["refund_total"] for r in body["rows"]] == ["0.00", "9.10", "20.00"]


def test_channels(api):
    body = get(api, "channels", **MARCH)
    assert body["totals"] == {
        "sync_runs": 3,
        "sync_runs_failed": 1,
        "failed_records": 2,
        "pushes": 2,
        "pushes_failed": 1,
        "sync_lag_seconds": "82.5",  # (300 + 30 + 0 + 0) / 4 orders arrived
        "sync_lag_max_seconds": 300,
    }
    web = get(api, "channels", **MARCH, channel="web")["rows"][0]
    assert (web["sync_lag_seconds"], web["sync_lag_max_seconds"]) == ("165.0", 300)


def test_csv(api):
    response = api.get("/api/v1/reports/sales/", {**MARCH, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "sales-2025-03-03-2025-03-05-day.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["period", "orders", "units", "revenue", "average_order_value", "unconverted"]
    assert rows[1] == ["2025-03-03", "2", "4", "145.50", "72.75", "0"]
    assert rows[2] == ["2025-03-04", "1", "2", "0.00", "", "1"]
    assert rows[-1] == ["total", "3", "6", "145.50", "72.75", "1"]


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("sales", {"from": "yesterday"}, "from"),
        ("sales", {"to": "2025-02-30"}, "to"),
        ("sales", {"from": "2025-03-05", "to": "2025-03-01"}, "from"),
        ("sales", {"from": "2020-01-01", "to": "2025-03-01"}, "from"),
        ("sales", {"group": "year"}, "group"),
        ("sales", {"channel": "nope"}, "channel"),
        ("sales", {"location": "L1"}, "location"),
        ("inventory", {"channel": "web"}, "channel"),
        ("sales", {"format": "xml"}, "format"),
    ],
)
def test_bad_parameters_are_a_400_problem(api, name, params, field):
    response = api.get(f"/api/v1/reports/{name}/", params)
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert field in str(response.json())


def test_an_unknown_report_is_a_404_problem(api):
    response = api.get("/api/v1/reports/profits/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")


@pytest.mark.parametrize("role", [INTEGRATOR, WAREHOUSE, CUSTOMER_CARE])
def test_who_may_view_orders_may_read_reports(history, role):
    client = staff.api_client_of(staff.user_of(role))
    assert client.get("/api/v1/reports/sales/").status_code == 200


def test_without_view_order_it_is_403_and_anonymous_401(history, client):
    nobody = staff.api_client_of(staff.user_of(""))
    response = nobody.get("/api/v1/reports/sales/")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/problem+json")
    assert client.get("/api/v1/reports/sales/").status_code in (401, 403)


def test_the_reports_are_in_the_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/reports/{name}/"]["get"]
    names = {p["name"]: p for p in operation["parameters"]}
    assert set(names["name"]["schema"]["enum"]) == {
        "sales",
        "fulfilment",
        "inventory",
        "returns",
        "channels",
        "subscriptions",
    }
    assert {"from", "to", "channel", "location", "group", "format"} <= set(names)
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}
