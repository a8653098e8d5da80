"""An order already shipped on the channel when imported, seen in a real browser: its timeline
says so and where its units came from, and the channel's page offers the setting. Screenshots
under var/screenshots/. Skipped like the other browser tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.conf import settings

from channels.services.sync import channel_order_upsert
from oms.roles import MANAGER
from orders.models import Order
from tests import staff
from tests.channels.test_vendor_payloads import PAYLOADS, amazon
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
SHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


@pytest.mark.django_db(transaction=True)
def test_an_order_shipped_elsewhere_says_so_on_its_page(live_server, network):
    from django.apps import apps

    from oms.roles import roles_sync

    roles_sync(apps)
    channel = network["channel"]
    channel.locations.set([network["locations"]["MUC"]])
    channel.shipped_elsewhere_stock = "take"
    channel.save()
    fulfilment.put(network, "MUC", "A", 5)
    raw = json.loads((PAYLOADS / "amazon/getOrder_uk_202-1234567-8901234.json").read_text())
    raw = raw["order"]
    raw["orderItems"][0]["product"]["sellerSku"] = "A"
    channel_order_upsert(channel=channel, record=amazon("A1F83G8C2ARO7P").map_order(raw))
    order = Order.objects.get(external_id="202-1234567-8901234")

    client = staff.admin_client_of(staff.user_of(MANAGER))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1600})
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
            sync_api.expect(
                page.get_by_text(
                    "Already shipped on the channel when imported: never shipped here, "
                    "its units taken from MUC"
                )
            ).to_be_visible()
            page.screenshot(path=str(SHOTS / "order-shipped-elsewhere.png"), full_page=True)
            page.goto(f"{live_server.url}/admin/inventory/channel/{channel.pk}/change/")
            field = page.locator("select[name=shipped_elsewhere_stock]")
            sync_api.expect(field).to_have_value("take")
            field.scroll_into_view_if_needed()
            page.screenshot(path=str(SHOTS / "channel-shipped-elsewhere-setting.png"))
        finally:
            browser.close()
