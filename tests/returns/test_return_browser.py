"""A shopper starts a return from the tracking page in a real browser (Chromium driven by
Playwright against pytest-django's live server, at a phone's viewport) and gets the label.

Skipped like tests/fulfilment/test_tracking_browser.py: only when the `playwright` package is
missing, or Debian's chromium is missing outside CI. Everything the browser needs is created
before Playwright starts (its event loop refuses ORM calls); what it did is checked after.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from orders.models import OrderLine
from returns.models import ReturnRequest
from tests.fulfilment.conftest import order, put
from tests.returns.conftest import ship_all

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"


@pytest.mark.django_db(transaction=True)
def test_a_shopper_returns_an_item_from_the_tracking_page(live_server, tmp_path, network, reasons):
    put(network, "BER", "A", 5)
    put(network, "BER", "B", 5)
    o = ship_all(order("HAMBURG", {"A": 2, "B": 1}))
    OrderLine.objects.filter(order=o, sku_code="A").update(name="Trail runner, size 42")
    OrderLine.objects.filter(order=o, sku_code="B").update(name="Merino socks")
    line_a = OrderLine.objects.get(order=o, sku_code="A")
    form_shot = tmp_path / "return-form.png"
    done_shot = tmp_path / "return-done.png"

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport=PHONE, device_scale_factor=2, is_mobile=True, accept_downloads=True
            )
            page = context.new_page()
            page.goto(f"{live_server.url}/track/{o.tracking_token}/")
            page.get_by_role("link", name="Return items").click()
            page.wait_for_url(f"**/track/{o.tracking_token}/return/")
            assert page.get_by_role("heading", level=1).inner_text() == "Return items"

            # Without choosing anything: the form comes back with the error.
            page.get_by_role("button", name="Send return request").click()
            sync_api.expect(page.get_by_text("Choose at least one item")).to_be_visible()

            item = page.get_by_role("group", name="Trail runner, size 42")
            item.get_by_label("Quantity").select_option("1")
            item.get_by_label("Reason").select_option(label="Wrong size or fit")
            page.get_by_label("Anything we should know?").fill("A size too small")
            page.screenshot(path=str(form_shot), full_page=True)
            widths = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1], widths
            page.get_by_role("button", name="Send return request").click()

            page.wait_for_url("**/return/*-R1/")
            sync_api.expect(page.get_by_role("heading", level=1)).to_contain_text("Return")
            sync_api.expect(page.get_by_text("Accepted")).to_be_visible()
            link = page.get_by_role("link", name="Download the return label (PDF)")
            sync_api.expect(link).to_be_visible()
            href = link.get_attribute("href")
            assert href is not None
            assert href.endswith("/label.pdf")
            page.screenshot(path=str(done_shot), full_page=True)
            with page.expect_download() as download_info:
                link.click()
            download = download_info.value
            assert download.suggested_filename.startswith("return-label-")
            saved = tmp_path / "label.pdf"
            download.save_as(str(saved))
            assert saved.read_bytes().startswith(b"%PDF")

            # Back on the tracking page, the return is listed.
            page.goto(f"{live_server.url}/track/{o.tracking_token}/")
            sync_api.expect(page.get_by_role("link", name="Your return and label")).to_be_visible()
        finally:
            browser.close()

    ret = ReturnRequest.objects.get(order=o)
    assert (ret.status, ret.source, ret.comment) == ("authorised", "shopper", "A size too small")
    assert [(rl.order_line_id, rl.quantity) for rl in ret.lines.all()] == [(line_a.pk, 1)]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for shot in (form_shot, done_shot):
        shutil.copyfile(shot, SCREENSHOTS / shot.name)
