"""Every report page in a real browser (Chromium driven by Playwright against the live server),
logged in as a warehouse user, with a screenshot each under var/screenshots/.

Skipped like tests/returns/test_return_browser.py: only when the `playwright` package is missing,
or Debian's chromium is missing outside CI. Everything is created before Playwright starts (its
event loop refuses ORM calls), the session cookie included.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from oms.roles import WAREHOUSE
from reports.services import rollups_refresh
from tests import staff
from tests.reports.conftest import APRIL, D1

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PAGES = {
    "Sales": "salesday",
    "Fulfilment": "fulfilmentday",
    "Inventory": "inventoryday",
    "Returns": "returnskuday",
    "Channels": "channelday",
}


@pytest.mark.django_db(transaction=True)
def test_every_report_opens_with_its_chart(live_server, tmp_path, history):
    from django.apps import apps

    from oms.roles import roles_sync

    roles_sync(apps)  # a transactional test before this one may have flushed the role groups
    rollups_refresh(start=D1, end=APRIL)
    client = staff.admin_client_of(staff.user_of(WAREHOUSE))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    shots = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            for title, model in PAGES.items():
                page.goto(f"{live_server.url}/admin/reports/{model}/?from=2025-03-01&to=2025-03-31")
                sync_api.expect(page.locator("#content h1, #content-main h2").first).to_be_visible()
                sync_api.expect(page.locator("svg.report-chart")).to_be_visible()
                sync_api.expect(page.locator("table.report tr.total")).to_be_visible()
                assert page.get_by_role("link", name="Download CSV").get_attribute("href")
                # The filters are a form: grouping by week reloads the page with it.
                page.get_by_label("Group by").select_option("week")
                page.get_by_role("button", name="Show").click()
                page.wait_for_url("**group=week**")
                # March 2025 touches 6 weeks (from Monday 24 February to Monday 31 March),
                # each a row, then the totals.
                assert page.locator("table.report").first.locator("tbody tr").count() == 6 + 1
                shot = tmp_path / f"report-{title.lower()}.png"
                page.screenshot(path=str(shot), full_page=True)
                shots.append(shot)
        finally:
            browser.close()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for shot in shots:
        shutil.copyfile(shot, SCREENSHOTS / shot.name)
