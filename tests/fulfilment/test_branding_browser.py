"""The branded tracking page in Chromium: the merchant's name and logo in the header, the logo
allowed by the page's Content-Security-Policy. Playwright answers the logo's https URL itself
(page.route), so nothing leaves the machine. Screenshot: var/screenshots/tracking-branded.png.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from inventory.models import Channel
from tests.fulfilment.test_tracking_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    PNG_MAGIC,
    ROOT,
    make_order,
)

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

LOGO = "https://cdn.example.com/brand/logo.png"
SCREENSHOT = ROOT / "var" / "screenshots" / "tracking-branded.png"
# A 1x1 dark-blue PNG, stretched by the header's CSS.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.mark.django_db(transaction=True)
def test_the_tracking_page_carries_the_merchant_name_and_logo(live_server, network):
    Channel.objects.filter(pk=network["channel"].pk).update(
        merchant_name="Maison Dupont", logo_url=LOGO
    )
    token, _number = make_order(network)
    asked: list[str] = []

    def serve_logo(route: Any) -> None:  # a playwright Route
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=PIXEL)

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport=PHONE, device_scale_factor=2).new_page()
            page.route(LOGO, serve_logo)
            response = page.goto(f"{live_server.url}/track/{token}/")
            assert response is not None
            assert response.status == 200
            logo = page.get_by_role("img", name="Maison Dupont")
            sync_api.expect(logo).to_be_visible()
            # Loaded (the CSP let it through), not a broken image.
            assert page.evaluate("(i) => i.complete && i.naturalWidth > 0", logo.element_handle())
            sync_api.expect(page.locator("header.site")).to_contain_text("Maison Dupont")
            assert asked == [LOGO]
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()
    assert SCREENSHOT.read_bytes().startswith(PNG_MAGIC)
