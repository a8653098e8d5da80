"""The back-office lists in a real browser at a laptop's 1,366 px, the sidebar open: every column
of the order, shipment, stock level, movement and return lists fits, so the totals, the ship
country and the dates are seen without scrolling sideways; the order list's date drill-down is by
the day the shopper ordered. Screenshots under var/screenshots/list-*.png. Skipped like the other
browser tests."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from django.conf import settings

from fulfilment.models import Shipment
from oms.roles import MANAGER
from orders.models import Order
from returns import services as returns
from tests import staff
from tests.fulfilment.conftest import network, order, put
from tests.returns.conftest import reasons, ship_all

__all__ = ["network", "reasons"]

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WIDTH = 1366
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
LISTS = {
    "orders": "/admin/orders/order/",
    "shipments": "/admin/fulfilment/shipment/",
    "stock-levels": "/admin/inventory/stocklevel/",
    "movements": "/admin/inventory/stockmovement/",
    "returns": "/admin/returns/returnrequest/",
}


def _columns_fit(page, name: str) -> None:
    """The rightmost column's right edge is inside the viewport and inside the list's box (which
    scrolls sideways when a table is wider, hiding the rightmost columns under the filters)."""
    assert page.locator("#result_list tbody tr").count() >= 1, name
    last = page.locator("#result_list thead th").last.bounding_box()
    results = page.locator("#changelist-form .results")
    box = results.bounding_box()
    assert last is not None
    assert box is not None
    right = last["x"] + last["width"]
    assert right <= WIDTH, (name, right)
    assert right <= box["x"] + box["width"] + 0.5, (name, right, box)
    assert results.evaluate("el => el.scrollWidth <= el.clientWidth"), name


@pytest.mark.django_db(transaction=True)
def test_every_column_of_the_lists_fits_at_1366_px(live_server, network, reasons):
    from django.apps import apps

    from oms.roles import roles_sync

    put(network, "BER", "A", 5)
    placed = ship_all(order(lines={"A": 2}))
    Shipment.objects.filter(order=placed).update(tracking_number="1Z999AA10123456784")
    line = placed.lines.get()
    returns.return_create(
        order=placed, lines=[{"order_line": line.pk, "quantity": 1, "reason": "damaged"}]
    )
    Order.objects.filter(pk=placed.pk).update(
        placed_at=dt.datetime(2025, 3, 14, 9, tzinfo=dt.UTC),
        external_id="gid://shopify/Order/5432109876543210987",  # long, as channels send them
    )
    roles_sync(apps)
    client = staff.admin_client_of(staff.user_of(MANAGER))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": WIDTH, "height": 768})
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            for name, path in LISTS.items():
                page.goto(f"{live_server.url}{path}")
                sync_api.expect(page.locator("#nav-sidebar")).to_be_visible()
                page.screenshot(path=str(SHOTS / f"list-{name}.png"))
                _columns_fit(page, name)
            # The date drill-down of the order list goes by the day ordered.
            page.goto(f"{live_server.url}{LISTS['orders']}")
            page.get_by_role("link", name="2025").click()
            page.wait_for_url("**placed_at__year=2025**")
            assert page.locator("#result_list tbody tr").count() == 1
        finally:
            browser.close()
