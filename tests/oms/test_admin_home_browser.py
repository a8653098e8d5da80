"""The operations home in a real browser (Chromium driven by Playwright against the live server),
logged in as a manager: figures, stations and the sales chart visible above the apps, a figure
opening its list; a screenshot under var/screenshots/home.png.

Skipped like tests/reports/test_report_browser.py: only when the `playwright` package is
missing, or Debian's chromium is missing outside CI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from oms.roles import MANAGER
from tests import staff
from tests.fulfilment import conftest as fulfilment
from tests.fulfilment.conftest import network

__all__ = ["network"]

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.mark.django_db(transaction=True)
def test_the_home_shows_the_work_waiting_and_opens_its_lists(live_server, tmp_path, network):
    from django.apps import apps

    from oms.roles import roles_sync
    from reports.services import rollups_refresh_due

    roles_sync(apps)  # a transactional test before this one may have flushed the role groups
    fulfilment.put(network, "BER", "A", 3)
    for _ in range(3):
        fulfilment.order(lines={"A": 2})  # one allocated, two backordered
    rollups_refresh_due()
    client = staff.admin_client_of(staff.user_of(MANAGER))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    shot = tmp_path / "home.png"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            page.goto(f"{live_server.url}/admin/")
            backordered = page.locator("a.home-tile", has_text="Backordered")
            sync_api.expect(backordered.locator(".figure")).to_have_text("2")
            sync_api.expect(backordered).to_have_class("home-tile urgent")
            sync_api.expect(page.get_by_role("link", name="Pack station")).to_be_visible()
            sync_api.expect(page.get_by_role("link", name="Receiving station")).to_be_visible()
            sync_api.expect(page.locator(".home-panel svg")).to_be_visible()
            page.screenshot(path=str(shot), full_page=True)
            backordered.click()
            page.wait_for_url("**status__exact=backordered**")
            assert page.locator("#result_list tbody tr").count() == 2
        finally:
            browser.close()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOTS / shot.name)
