"""CSV export of the filtered admin lists (oms.admin.export): exactly the list's filters and
search, every page, streamed in a fixed number of statements, formula-safe, only for who may
see the list; over BACKGROUND_ROWS rows as a background job with its progress and download."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from oms.admin import export
from oms.jobs import job_result_write
from oms.models import BackgroundJob
from oms.roles import CUSTOMER_CARE, WAREHOUSE
from orders.models import Order
from tests.orders.test_admin import capture, staff_client
from tests.outbox import run_outbox

ORDERS = "/admin/orders/order/"
EXPORT = "/admin/orders/order/export.csv"


def rows_of(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def care(db) -> Client:
    return staff_client(CUSTOMER_CARE, username="carla")


@pytest.fixture
def orders(catalogue) -> list[Order]:
    made = [
        capture(f"X-{n}", payment_status="paid" if n % 2 else "pending", external_number=f"#{n}")
        for n in range(6)
    ]
    # Text a spreadsheet would run as a formula, as a channel might send it.
    Order.objects.filter(pk=made[1].pk).update(external_number='=HYPERLINK("http://x","y")')
    Order.objects.filter(pk=made[3].pk).update(external_number="@SUM(A1)")
    return made


def test_the_list_offers_the_export_of_its_current_filters(care, orders):
    page = care.get(ORDERS, {"payment_status__exact": "paid"})
    assert page.status_code == 200
    assert page.context["csv_export_url"] == f"{EXPORT}?payment_status__exact=paid"
    assert 'id="csv-export"' in page.content.decode()


def test_the_export_has_exactly_the_filtered_rows_of_every_page_in_the_list_order(care, orders):
    response = care.get(EXPORT, {"payment_status__exact": "paid", "o": "1"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment;" in response["Content-Disposition"]
    rows = rows_of(response)
    paid = sorted(o.number for o in orders if o.payment_status == "paid")
    assert [r["number"] for r in rows] == paid  # ordered by number, as `o=1` orders the list
    assert {r["payment_status"] for r in rows} == {"paid"}
    assert {r["channel"] for r in rows} == {"web"}
    assert rows[0]["total"] == str(Order.objects.get(number=rows[0]["number"]).total)


def test_the_export_follows_the_search(care, orders):
    rows = rows_of(care.get(EXPORT, {"q": orders[2].number}))
    assert [r["number"] for r in rows] == [orders[2].number]


def test_cells_a_spreadsheet_would_run_are_prefixed(care, orders):
    rows = {r["number"]: r for r in rows_of(care.get(EXPORT))}
    assert rows[orders[1].number]["external_number"] == '\'=HYPERLINK("http://x","y")'
    assert rows[orders[3].number]["external_number"] == "'@SUM(A1)"
    assert rows[orders[0].number]["external_number"] == "#0"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+49 30", "'+49 30"),
        ("-2+3", "'-2+3"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        (-5, -5),
        (None, ""),
        (True, "yes"),
    ],
)
def test_csv_cell(value, cell):
    assert export.csv_cell(value) == cell


def test_the_export_reads_in_a_fixed_number_of_statements(care, orders, django_assert_num_queries):
    # session, user, "an API account?" (the admin site), the user's own and group permissions,
    # the channel filter's choices, the ship country filter's values, the list's count, then
    # ONE query for every row, however many.
    with django_assert_num_queries(9):
        rows = rows_of(care.get(EXPORT))
    assert len(rows) == 6
    for n in range(6, 20):
        capture(f"X-{n}")
    with django_assert_num_queries(9):
        rows = rows_of(care.get(EXPORT))
    assert len(rows) == 20


def test_only_who_may_see_the_list_exports_it(catalogue, orders):
    nobody = staff_client(username="nobody")
    assert nobody.get(EXPORT).status_code == 403
    warehouse = staff_client(WAREHOUSE, username="wanda")
    assert warehouse.get(EXPORT).status_code == 200
    assert Client().get(EXPORT).status_code == 302  # to the login page


def test_filters_that_do_not_parse_are_a_400(care, orders):
    response = care.get(EXPORT, {"no_such_field__exact": "1"})
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    assert not BackgroundJob.objects.exists()


@pytest.mark.parametrize(
    ("url", "filters"),
    [
        ("/admin/inventory/stocklevel/export.csv", {"location__id__exact": ""}),
        ("/admin/inventory/stockmovement/export.csv", {"kind__exact": "receipt"}),
        ("/admin/fulfilment/shipment/export.csv", {}),
        ("/admin/returns/returnrequest/export.csv", {}),
    ],
)
def test_the_other_lists_export(care, orders, catalogue, url, filters):
    if "location__id__exact" in filters:
        filters = {"location__id__exact": catalogue["wh"].pk}
    response = care.get(url, filters)
    assert response.status_code == 200, response
    rows = rows_of(response)
    if "stocklevel" in url:
        assert {r["sku"] for r in rows} == {"TEE-1", "MUG-1"}
        assert all(int(r["available"]) >= 0 for r in rows)
    if "stockmovement" in url:
        assert {r["kind"] for r in rows} == {"receipt"}
        assert len(rows) == 2


# --- big exports in the background -------------------------------------------------------------


def test_a_big_export_runs_in_the_background_with_progress_and_a_download(
    care, orders, monkeypatch
):
    expected = rows_of(care.get(EXPORT, {"payment_status__exact": "paid"}))
    monkeypatch.setattr(export, "BACKGROUND_ROWS", 2)
    response = care.get(EXPORT, {"payment_status__exact": "paid"})
    job = BackgroundJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/jobs/{job.pk}/"
    assert job.status == "queued"
    assert job.total == 3
    assert job.kind == "export"
    status = care.get(f"/admin/jobs/{job.pk}/status").json()
    assert status["finished"] is False
    assert status["total"] == 3
    page = care.get(f"/admin/jobs/{job.pk}/")
    assert 'id="job-bar"' in page.content.decode()

    assert run_outbox("oms.export_run") == 1
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert job.done == 3
    assert job.result["rows"] == 3
    status = care.get(f"/admin/jobs/{job.pk}/status").json()
    assert status["finished"] is True
    assert status["percent"] == 100
    page = care.get(f"/admin/jobs/{job.pk}/").content.decode()
    assert 'id="job-download"' in page
    assert rows_of(care.get(f"/admin/jobs/{job.pk}/download")) == expected
    assert job.back_url == f"{ORDERS}?payment_status__exact=paid"


def test_a_rerun_export_replaces_what_a_dead_worker_wrote(care, orders, monkeypatch):
    monkeypatch.setattr(export, "BACKGROUND_ROWS", 2)
    care.get(EXPORT)
    job = BackgroundJob.objects.get()
    # A first attempt wrote half a file, then its worker died (the job stays running).
    job_result_write(job, [b"half a file"], name="orders.csv")
    BackgroundJob.objects.filter(pk=job.pk).update(status="running", attempts=1)
    run_outbox("oms.export_run")
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert job.attempts == 2
    rows = rows_of(care.get(f"/admin/jobs/{job.pk}/download"))
    assert len(rows) == 6


def test_a_job_is_its_owners_alone(care, orders, monkeypatch):
    monkeypatch.setattr(export, "BACKGROUND_ROWS", 2)
    care.get(EXPORT)
    job = BackgroundJob.objects.get()
    run_outbox("oms.export_run")
    other = staff_client(CUSTOMER_CARE, username="otto")
    for suffix in ("", "status", "download"):
        assert other.get(f"/admin/jobs/{job.pk}/{suffix}").status_code == 404
    assert job.title in care.get("/admin/jobs/").content.decode()
    assert job.title not in other.get("/admin/jobs/").content.decode()


def test_finished_jobs_are_purged_after_a_week(care, orders, monkeypatch):
    import datetime as dt

    from django.utils import timezone

    from oms.jobs import jobs_purge
    from oms.models import BackgroundJobPart

    monkeypatch.setattr(export, "BACKGROUND_ROWS", 2)
    care.get(EXPORT)
    care.get(EXPORT)
    run_outbox("oms.export_run")
    old, recent = BackgroundJob.objects.order_by("pk")
    BackgroundJob.objects.filter(pk=old.pk).update(
        finished_at=timezone.now() - dt.timedelta(days=8)
    )
    assert jobs_purge() == 1
    assert list(BackgroundJob.objects.all()) == [recent]
    assert not BackgroundJobPart.objects.filter(job_id=old.pk).exists()
