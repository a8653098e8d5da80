"""In a real browser: a manager imports the sample CSV from the top of the channel's page, watches
the preview and then the import run in the background to the end (the page polls the job and
shows its result), then exports the order list filtered by the channel as CSV and saves that
filter. Screenshots of each page go to var/screenshots/. Skipped like the other browser tests."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from django.conf import settings

from channels.services.csv_import import SAMPLE_SKUS, orders_csv_sample
from inventory import services as stock
from oms.models import BackgroundJob
from oms.roles import MANAGER
from orders.models import Order
from tests import staff
from tests.factories import ChannelFactory, LocationFactory, SkuFactory
from tests.outbox import run_outbox

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


def _shop():
    wh = LocationFactory(code="WH")
    channel = ChannelFactory(code="web", currency="EUR", locations=[wh])
    for code in SAMPLE_SKUS:
        stock.stock_adjust(sku=SkuFactory(code=code), location=wh, kind="receipt", quantity=20)
    return channel


def _run_jobs_once_the_page_polls(page, result: str) -> None:
    """The page shows the job's progress; a worker runs it; the page's poll shows the end
    (the `result` element) without anybody reloading it."""
    sync_api.expect(page.locator("#job-progress")).to_be_visible()
    assert page.locator("#job-state").inner_text() in {"Queued", "Running"}
    assert page.locator(result).count() == 0
    assert run_outbox("channels.csv_orders_job") == 1
    sync_api.expect(page.locator(result)).to_be_visible(timeout=15_000)
    assert page.locator("#job-state").inner_text() == "Succeeded"


@pytest.mark.django_db(transaction=True)
def test_import_a_csv_with_its_progress_then_export_the_filtered_orders(
    live_server, tmp_path, monkeypatch
):
    from django.apps import apps

    # The test plays the worker between two steps of the page, inside Playwright's sync API
    # (which runs an event loop in this thread): Django's ORM must be let run here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    from oms.roles import roles_sync

    roles_sync(apps)
    channel = _shop()
    sample = tmp_path / "orders-sample.csv"
    sample.write_text(orders_csv_sample(), encoding="utf-8")
    client = staff.admin_client_of(staff.user_of(MANAGER))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 900})
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            # The import link is at the top of the channel's page.
            page.goto(f"{live_server.url}/admin/inventory/channel/{channel.pk}/change/")
            link = page.locator("#csv-import-link")
            box = link.bounding_box()
            assert box is not None
            assert box["y"] < 250
            page.screenshot(path=str(SHOTS / "channel-page-import-link.png"))
            link.click()

            page.locator("#csv-upload input[type=file]").set_input_files(str(sample))
            page.get_by_role("button", name="Check the file").click()
            page.wait_for_url("**?job=*")
            page.screenshot(path=str(SHOTS / "csv-preview-progress.png"))
            _run_jobs_once_the_page_polls(page, "#csv-counts")
            page.screenshot(path=str(SHOTS / "csv-preview.png"), full_page=True)

            page.get_by_role("button", name="Import 2 orders").click()
            page.wait_for_url("**?job=*")
            page.screenshot(path=str(SHOTS / "csv-import-progress.png"))
            _run_jobs_once_the_page_polls(page, "#csv-imported")
            bar = page.locator("#job-bar")
            assert bar.get_attribute("value") == bar.get_attribute("max") == "2"
            page.screenshot(path=str(SHOTS / "csv-import-done.png"))
            assert Order.objects.filter(channel=channel).count() == 2
            assert BackgroundJob.objects.filter(status="succeeded").count() == 2

            # The channel's orders, exported as CSV exactly as filtered.
            page.get_by_role("link", name="See the channel's orders").click()
            page.wait_for_url("**channel__id__exact=*")
            with page.expect_download() as download_info:
                page.locator("#csv-export").click()
            download = download_info.value
            body = Path(download.path()).read_text(encoding="utf-8-sig")
            rows = list(csv.DictReader(io.StringIO(body)))
            assert sorted(r["external_id"] for r in rows) == ["WEB-1001", "WEB-1002"]
            assert download.suggested_filename.startswith("orders-")

            # The same view saved as a filter, listed on the list.
            page.locator("#saved-filters summary").click()
            page.locator("#saved-filter-name").fill("Web shop")
            page.locator("#saved-filters").get_by_role("button", name="Save").click()
            page.wait_for_url("**channel__id__exact=*")
            page.locator("#saved-filters summary").click()
            sync_api.expect(
                page.locator("#saved-filters").get_by_role("link", name="Web shop")
            ).to_be_visible()
            page.screenshot(path=str(SHOTS / "order-list-export-saved-filters.png"))

            # A SKU of the file across locations, from the stock level list.
            page.goto(f"{live_server.url}/admin/inventory/stocklevel/?q={SAMPLE_SKUS[0]}")
            page.get_by_role("link", name="By location").first.click()
            sync_api.expect(page.locator("#total-on-hand")).to_have_text("20")
            sync_api.expect(page.locator("#total-available")).to_have_text("17")  # 3 ordered
            page.screenshot(path=str(SHOTS / "sku-stock-by-location.png"))
        finally:
            browser.close()
