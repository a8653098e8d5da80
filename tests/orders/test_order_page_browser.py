"""The order page on a laptop (1,366 x 768) in a real browser (Chromium driven by Playwright
against the live server): its commands are buttons in the first screen, hold and release work
from them, the timeline reads newest first, and the page stays short (secondary tables
collapsed, older events folded). A screenshot under var/screenshots/. Skipped like the other
browser tests when Playwright or Debian's chromium is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from fulfilment import services as fulfilment_services
from fulfilment.models import Shipment
from orders import services
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
LAPTOP = {"width": 1366, "height": 768}
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
#: About two and a half laptop screens: the page measured 1,760 px with this order in Debian's
#: Chromium, 1,985 px with the payments panel (paid, refunded, refundable, the capture) that
#: came after it (the issue measured 4,200 px before); the bound leaves room for fonts, not for
#: a secondary table left open or the whole timeline unfolded.
MAX_HEIGHT = 2000


@pytest.mark.django_db(transaction=True)
def test_the_order_page_fits_a_laptop_and_its_commands_are_buttons(live_server, network):
    fulfilment.put(network, "BER", "A", 5)
    fulfilment.put(network, "BER", "B", 5)
    placed = fulfilment.order(lines={"A": 2, "B": 1})
    fulfilment_services.order_route(order_id=placed.pk, trigger="test")
    shipment = Shipment.objects.get(order=placed)
    fulfilment_services.shipment_pick(
        shipment=shipment, lines=[(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()]
    )
    for n in range(10):  # a busy order: more events than the timeline shows unfolded
        services.order_note_add(order=placed, text=f"Call {n} with the shopper.", actor="carla")
    client = staff.admin_client_of(staff.user_of(staff.SUPERUSER))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    SHOTS.mkdir(parents=True, exist_ok=True)
    url = f"{live_server.url}/admin/orders/order/{placed.pk}/change/"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=LAPTOP)
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            page.goto(url)
            for name in ("Hold", "Cancel…", "Edit shipping address", "Add a note"):
                button = page.locator(".object-tools a", has_text=name).first
                box = button.bounding_box()
                assert box is not None, name
                assert box["y"] + box["height"] <= LAPTOP["height"], name  # no hunting
            height = page.evaluate("document.documentElement.scrollHeight")
            assert height <= MAX_HEIGHT, height
            events = page.locator(".order-timeline > ol > li")
            assert events.count() == 8
            sync_api.expect(events.first).to_contain_text("Note: Call 9 with the shopper.")
            sync_api.expect(page.locator(".order-timeline details summary")).to_contain_text(
                "older events"
            )
            page.screenshot(path=str(SHOTS / "order-page.png"), full_page=True)

            # Hold and release from the page's buttons.
            page.locator(".object-tools a", has_text="Hold").first.click()
            page.fill("textarea[name=note]", "The shopper asked us to wait.")
            page.get_by_role("button", name="Hold").click()
            page.wait_for_url(url)
            sync_api.expect(page.locator(".messagelist")).to_contain_text("on hold (Manual)")
            sync_api.expect(events.first).to_contain_text(
                "Put on hold (manual): The shopper asked us to wait."
            )
            page.locator(".object-tools a", has_text="Release holds").click()
            page.get_by_role("button", name="Release").click()
            page.wait_for_url(url)
            sync_api.expect(events.first).to_contain_text("Hold released: manual.")
            page.screenshot(path=str(SHOTS / "order-page-released.png"))
        finally:
            browser.close()
