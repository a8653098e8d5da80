"""The shopper's tracking page in a real browser: Chromium (/usr/bin/chromium) driven by
Playwright against pytest-django's live server, at a phone's viewport.

Skipped only when the `playwright` Python package is missing; a missing Chromium fails the
test (CI installs Debian's chromium). Everything the browser needs is created before
Playwright starts: Playwright's sync API runs an event loop, in which Django refuses ORM calls.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
from pathlib import Path

import pytest
from django.utils import timezone

from fulfilment.models import Shipment
from fulfilment.services import tracking
from orders.models import OrderLine
from tests.fulfilment.conftest import put
from tests.fulfilment.test_tracking import Event, capture, ship

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    # A developer machine without Debian's chromium: `make test` still runs everything else;
    # CI (CI=true) installs chromium and never skips.
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
SCREENSHOT = ROOT / "var" / "screenshots" / "tracking-page.png"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# WCAG 2.x contrast of every visible text node against its first opaque background.
CONTRAST_PROBLEMS = """() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const channel = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const lum = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = parse(getComputedStyle(el).backgroundColor);
      if (c && c.a > 0.99) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const problems = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.textContent.trim()) continue;
    const el = node.parentElement;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.visibility === "hidden" || box.width <= 1 || box.height <= 1) continue;
    if (box.bottom < 0) continue;  // the skip link, off screen until focused
    const a = lum(parse(style.color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) {
      problems.push(`${node.textContent.trim().slice(0, 40)}: ${ratio.toFixed(2)}`);
    }
  }
  return problems;
}"""

HEADING_LEVELS = "() => [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1])"


def make_order(network: dict) -> tuple[str, str]:
    """An order of two shipments with events (one out for delivery, one with a problem);
    returns its tracking token and number."""
    put(network, "BER", "A", 5)
    put(network, "MUC", "B", 5)
    order = capture({"A": 2, "B": 1})
    OrderLine.objects.filter(order=order, sku_code="A").update(name="Stoneware mug, midnight blue")
    OrderLine.objects.filter(order=order, sku_code="B").update(name="Organic green tea, 100 g")
    first, second = Shipment.objects.filter(order=order).order_by("pk")
    ship(first, number="00340434161094042557", url="https://carrier.example/track/0034043416")
    ship(second, number="JJD000390007777778812")
    today = timezone.localdate()
    Shipment.objects.filter(pk=first.pk).update(expected_delivery_date=today)
    Shipment.objects.filter(pk=second.pk).update(expected_delivery_date=today + dt.timedelta(1))
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=30)

    def ev(hours: int, status: str, description: str, place: str) -> Event:
        at = start + dt.timedelta(hours=hours, minutes=7 * hours % 60)
        return Event(f"B{hours}", status, description, place, at)

    tracking.tracking_events_record(
        shipment=first,
        events=[
            ev(0, "pre_transit", "Shipping label created", "Berlin, DE"),
            ev(3, "in_transit", "Picked up by the carrier", "Berlin, DE"),
            ev(9, "in_transit", "Arrived at the sorting centre", "Leipzig, DE"),
            ev(20, "in_transit", "Left the sorting centre", "Leipzig, DE"),
            ev(26, "out_for_delivery", "With the driver for delivery today", "Hamburg, DE"),
        ],
        source="test",
    )
    tracking.tracking_events_record(
        shipment=second,
        events=[
            ev(1, "pre_transit", "Shipping label created", "München, DE"),
            ev(5, "in_transit", "Picked up by the carrier", "München, DE"),
            ev(24, "exception", "Address not found: the carrier will try again", "Hamburg"),
        ],
        source="test",
    )
    return order.tracking_token, str(order.number)


@pytest.mark.django_db(transaction=True)
def test_the_tracking_page_on_a_phone(live_server, tmp_path, network):
    token, number = make_order(network)
    shot = tmp_path / "tracking-page.png"

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
            page = context.new_page()
            response = page.goto(f"{live_server.url}/track/{token}/")
            assert response is not None
            assert response.status == 200
            assert response.headers["x-robots-tag"].startswith("noindex")

            heading = page.get_by_role("heading", level=1)
            assert heading.count() == 1
            assert heading.inner_text() == f"Order {number}"
            sync_api.expect(page.get_by_role("heading", name="Parcel 1 of 2")).to_be_visible()
            sync_api.expect(page.get_by_role("heading", name="Parcel 2 of 2")).to_be_visible()
            sync_api.expect(page.get_by_text("00340434161094042557")).to_be_visible()
            link = page.get_by_role("link", name="00340434161094042557")
            assert link.get_attribute("href") == "https://carrier.example/track/0034043416"
            sync_api.expect(page.get_by_text("Arrived at the sorting centre")).to_be_visible()
            sync_api.expect(page.get_by_text("Address not found").first).to_be_visible()
            sync_api.expect(page.get_by_text("Stoneware mug, midnight blue").first).to_be_visible()
            assert page.locator("ol.timeline").count() == 2
            assert page.locator("ol.timeline").first.locator("li").count() == 5

            # No horizontal scroll at 390 px.
            widths = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1], widths

            # A basic accessibility check.
            assert page.evaluate("() => document.documentElement.lang") == "en"
            assert page.evaluate("() => [...document.images].every(i => i.hasAttribute('alt'))")
            assert page.locator("main").count() == 1
            assert page.locator("header").count() >= 1
            levels = page.evaluate(HEADING_LEVELS)
            assert levels[0] == 1
            assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), levels
            assert page.evaluate(CONTRAST_PROBLEMS) == []
            names = page.evaluate(
                "() => [...document.querySelectorAll('a')].map(a => a.textContent.trim())"
            )
            assert all(names), names
            # The status is said in words, not only in colour.
            assert "Delivery problem" in page.locator(".headline .status").inner_text()

            page.screenshot(path=str(shot), full_page=True)
            page.set_viewport_size({"width": 1280, "height": 900})  # and on a desktop
            widths = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1], widths
            page.screenshot(path=str(tmp_path / "tracking-page-desktop.png"), full_page=True)

            missing = page.goto(f"{live_server.url}/track/{'x' * 32}/")
            assert missing is not None
            assert missing.status == 404
            assert page.get_by_role("heading", level=1).count() == 1
        finally:
            browser.close()

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOT)
    for path in (shot, SCREENSHOT):
        assert path.exists()
        assert path.read_bytes()[:8] == PNG_MAGIC
