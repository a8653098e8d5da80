"""A what-if result in a real browser (Chromium driven by Playwright against the live server),
logged in as a manager, with screenshots under var/screenshots/: a run still replaying (its
progress bar) and a finished one (current against draft, the chart, the changed orders).

Skipped like tests/reports/test_report_browser.py: only when the `playwright` package is
missing, or Debian's chromium is missing outside CI. Everything is created before Playwright
starts (its event loop refuses ORM calls), the session cookie included.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from oms.roles import MANAGER
from reports.models import RunStatus, WhatIfRun
from reports.whatif import routing_draft_create, whatif_run_create, whatif_run_execute
from tests import staff
from tests.reports import whatif_history as h

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.mark.django_db(transaction=True)
def test_a_what_if_result_opens_side_by_side(live_server, tmp_path):
    from django.apps import apps

    from oms.roles import roles_sync

    roles_sync(apps)  # a transactional test before this one may have flushed the role groups
    past = h.seed()
    ham = past["locations"]["HAM"]
    draft = routing_draft_create(
        name="Hamburg off", actor="manager", locations={ham.pk: {"ships_online": False}}
    )
    done = whatif_run_create(draft=draft, start=h.START, end=h.END, actor="manager")
    whatif_run_execute(run_id=done.pk)
    waiting = whatif_run_create(draft=draft, start=h.START, end=h.END, actor="manager")
    WhatIfRun.objects.filter(pk=waiting.pk).update(
        status=RunStatus.RUNNING, orders_total=5, orders_done=2
    )
    client = staff.admin_client_of(staff.user_of(MANAGER))
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
            page.goto(f"{live_server.url}/admin/reports/whatifrun/{waiting.pk}/change/")
            bar = page.locator("progress")
            sync_api.expect(bar).to_be_visible()
            assert bar.get_attribute("value") == "2"
            assert bar.get_attribute("max") == "5"
            shot = tmp_path / "whatif-progress.png"
            page.screenshot(path=str(shot), full_page=True)
            shots.append(shot)

            page.goto(f"{live_server.url}/admin/reports/whatifrun/{done.pk}/change/")
            sync_api.expect(page.get_by_text("Current rules against the draft")).to_be_visible()
            sync_api.expect(page.locator("svg.report-chart")).to_be_visible()
            figures = page.locator("table.whatif").first
            row = figures.locator("tr", has_text="Shipments per order")
            assert row.locator("td").all_inner_texts()[:3] == ["Shipments per order", "0.8", "0.8"]
            sync_api.expect(page.get_by_text("Orders whose decision changed: 3")).to_be_visible()
            assert page.locator(".whatif-changed").count() == 3
            assert page.locator(".routing-explanation").count() == 6
            sync_api.expect(page.get_by_role("link", name="Publish this draft")).to_be_visible()
            shot = tmp_path / "whatif-result.png"
            page.screenshot(path=str(shot), full_page=True)
            shots.append(shot)
        finally:
            browser.close()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for shot in shots:
        shutil.copyfile(shot, SCREENSHOTS / shot.name)
