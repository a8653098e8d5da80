"""The order list in a real browser at 1,400 px wide, the sidebar open: every column fits, so
the totals, the ship country and the date ordered are seen without scrolling sideways, and the
date drill-down is by the day the shopper ordered. Skipped like the other browser tests."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.conf import settings

from oms.roles import MANAGER
from orders.models import Order
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
WIDTH = 1400


@pytest.mark.django_db(transaction=True)
def test_every_column_of_the_order_list_fits_at_1400_px(live_server, network):
    from django.apps import apps

    from oms.roles import roles_sync

    roles_sync(apps)
    fulfilment.put(network, "BER", "A", 5)
    placed = fulfilment.order(lines={"A": 1})
    Order.objects.filter(pk=placed.pk).update(
        placed_at=dt.datetime(2025, 3, 14, 9, tzinfo=dt.UTC),
        external_id="gid://shopify/Order/5432109876543210987",  # long, as channels send them
    )
    client = staff.admin_client_of(staff.user_of(MANAGER))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": WIDTH, "height": 900})
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            page.goto(f"{live_server.url}/admin/orders/order/")
            for header in ("Total (base)", "Ship country", "Placed at"):
                cell = page.locator("#result_list thead th", has_text=header)
                sync_api.expect(cell).to_be_visible()
                box = cell.bounding_box()
                assert box is not None
                assert box["x"] + box["width"] <= WIDTH, header
            # The date drill-down goes by the day ordered.
            page.get_by_role("link", name="2025").click()
            page.wait_for_url("**placed_at__year=2025**")
            assert page.locator("#result_list tbody tr").count() == 1
        finally:
            browser.close()
