"""A shipment picked, packed and shipped from its page in a real browser (Chromium driven by
Playwright against the live server, a laptop's 1,366 x 768): the buttons are enabled by the
shipment's state, the status reads "Picked" right after "Mark picked", the pack station is full
screen and resumes its scans after a reload. Screenshots under var/screenshots/. Skipped like
the other browser tests when Playwright or Debian's chromium is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from fulfilment.models import PackProgress, Shipment
from tests import staff
from tests.fulfilment import conftest as fulfilment
from tests.fulfilment.conftest import network
from tests.outbox import run_outbox

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


def disabled(page, name: str) -> bool:
    button = page.locator(".shipment-buttons li", has_text=name).first
    return button.locator('[aria-disabled="true"]').count() == 1


@pytest.mark.django_db(transaction=True)
def test_pick_pack_and_ship_a_shipment_from_its_page(live_server, network):
    fulfilment.put(network, "BER", "A", 5)
    placed = fulfilment.order(lines={"A": 2})
    shipment = Shipment.objects.get(order=placed)
    client = staff.admin_client_of(staff.user_of(staff.SUPERUSER))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    SHOTS.mkdir(parents=True, exist_ok=True)
    page_url = f"{live_server.url}/admin/fulfilment/shipment/{shipment.pk}/change/"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=LAPTOP)
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            page.goto(page_url)
            # Pending: pick (and pack, which picks too) enabled; ship and the label not yet.
            assert not disabled(page, "Mark picked")
            assert disabled(page, "Ship (in-house carrier)")
            assert disabled(page, "Label (PDF)")
            page.screenshot(path=str(SHOTS / "shipment-pending.png"))
            page.get_by_role("button", name="Mark picked").click()
            page.wait_for_url(page_url)
            sync_api.expect(page.locator(".messagelist")).to_contain_text("it is now picked")
            status = page.locator(".field-status .readonly")
            sync_api.expect(status).to_have_text("Picked")
            assert disabled(page, "Mark picked")
            page.screenshot(path=str(SHOTS / "shipment-picked.png"))

            # The pack station: full screen, and a reload keeps the scans.
            page.get_by_role("link", name="Pack at the pack station").click()
            assert page.locator("#nav-sidebar").count() == 0
            page.fill("input[name=scan]", "A")
            page.press("input[name=scan]", "Enter")
            sync_api.expect(page.locator("#pack-progress")).to_have_text("1 of 2 units scanned.")
            page.goto(f"{live_server.url}/admin/fulfilment/shipment/pack/?shipment={shipment.pk}")
            sync_api.expect(page.locator("#pack-progress")).to_have_text("1 of 2 units scanned.")
            page.fill("input[name=scan]", "A")
            page.press("input[name=scan]", "Enter")
            sync_api.expect(page.locator("#pack-progress")).to_have_text("2 of 2 units scanned.")
            page.fill("input[name='parcels-0-weight_grams']", "850")
            page.screenshot(path=str(SHOTS / "pack-station.png"))
            page.get_by_role("button", name=f"Pack SH-{shipment.pk}").click()
            sync_api.expect(page.locator(".messagelist")).to_contain_text("packed: 2 units")

            page.goto(page_url)
            sync_api.expect(status).to_have_text("Packed")
            assert disabled(page, "Pack at the pack station")
            page.get_by_role("link", name="Ship (in-house carrier)").click()
            page.get_by_role("button", name="Ship with in-house carrier").click()
            page.wait_for_url(page_url)
            sync_api.expect(page.locator(".messagelist")).to_contain_text("ships with the")
            page.screenshot(path=str(SHOTS / "shipment-shipping.png"), full_page=True)
        finally:
            browser.close()
    assert not PackProgress.objects.exists()  # packed: the scans are forgotten
    run_outbox()  # the worker buys the in-house label, which ships the shipment
    assert Shipment.objects.get(pk=shipment.pk).status == "shipped"
