"""The tracking page of a German channel in Chromium: German headings, statuses, steps and
dates ("Heute, ..."), the page's language declared for screen readers and hyphenation.
Screenshot: var/screenshots/tracking-de.png."""

from __future__ import annotations

import pytest
from django.utils import timezone, translation

from inventory.models import Channel
from oms.i18n import format_day
from tests.fulfilment.test_tracking_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    PNG_MAGIC,
    ROOT,
    make_order,
)

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

SCREENSHOT = ROOT / "var" / "screenshots" / "tracking-de.png"


@pytest.mark.django_db(transaction=True)
def test_the_tracking_page_of_a_german_channel_reads_german(live_server, network):
    Channel.objects.filter(pk=network["channel"].pk).update(language="de")
    token, number = make_order(network)
    with translation.override("de"):
        today = format_day(timezone.localdate(), "short_weekday")  # "Mo., 7. Dez."
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport=PHONE, device_scale_factor=2).new_page()
            response = page.goto(f"{live_server.url}/track/{token}/")
            assert response is not None
            assert response.status == 200
            assert page.evaluate("document.documentElement.lang") == "de"
            sync_api.expect(page).to_have_title(f"Bestellung {number}: Zustellproblem")
            sync_api.expect(page.get_by_role("heading", level=1)).to_have_text(
                f"Bestellung {number}"
            )
            sync_api.expect(page.get_by_role("heading", name="Ihre Pakete")).to_be_visible()
            sync_api.expect(page.get_by_role("heading", name="Paket 1 von 2")).to_be_visible()
            steps = page.get_by_role("list", name="Fortschritt")
            sync_api.expect(steps).to_contain_text("In Zustellung")
            sync_api.expect(page.locator(".eta")).to_contain_text("Voraussichtliche Zustellung")
            sync_api.expect(page.locator("main")).to_contain_text(f"Heute, {today}")
            sync_api.expect(page.locator("main")).to_contain_text("Sendungsverlauf")
            assert "Your parcels" not in page.content()
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    assert SCREENSHOT.read_bytes().startswith(PNG_MAGIC)
