"""A shopper manages a subscription from the link in its e-mails, in a real browser (Chromium
driven by Playwright against pytest-django's live server, at a phone's viewport): skip the next
delivery, change a quantity, pause, resume, cancel with a reason.

Skipped like tests/returns/test_return_browser.py: only when the `playwright` package is
missing, or Debian's chromium is missing outside CI. Everything the browser needs is created
before Playwright starts (its event loop refuses ORM calls); what it did is checked after.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from subscriptions.models import Subscription

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
def test_a_shopper_manages_the_subscription(live_server, tmp_path, make_sub, shop):
    first = dt.datetime(2027, 1, 31, 9, 0, tzinfo=dt.UTC)
    sub = make_sub(next_order_at=first)
    shop["beans"].name = "Espresso beans 1 kg"
    shop["beans"].save()
    page_shot = tmp_path / "subscription-page.png"
    done_shot = tmp_path / "subscription-cancelled.png"
    url = f"{live_server.url}/track/subscription/{sub.manage_token}/"

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
            page = context.new_page()
            page.goto(url)
            sync_api.expect(page.get_by_role("heading", level=1)).to_contain_text(sub.number or "")
            sync_api.expect(page.get_by_test_id("next-date")).to_have_text("Sunday 31 January 2027")
            page.screenshot(path=str(page_shot), full_page=True)
            widths = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1], widths

            page.get_by_role("button", name="Skip the next delivery").click()
            sync_api.expect(page.get_by_role("status")).to_have_text(
                "Done: the next delivery is skipped."
            )
            # One month on from 31 January: the last day of February.
            sync_api.expect(page.get_by_test_id("next-date")).to_have_text(
                "Sunday 28 February 2027"
            )

            page.get_by_label("Quantity of Espresso beans 1 kg").fill("4")
            page.get_by_role("button", name="Save quantities").click()
            sync_api.expect(page.get_by_role("status")).to_have_text(
                "Done: your quantities are saved."
            )
            sync_api.expect(page.get_by_label("Quantity of Espresso beans 1 kg")).to_have_value("4")

            page.get_by_label("Quantity of Espresso beans 1 kg").fill("0")
            page.get_by_label("Quantity of Espresso beans 1 kg").evaluate(
                "el => el.removeAttribute('min')"
            )
            page.get_by_role("button", name="Save quantities").click()
            sync_api.expect(page.get_by_role("alert")).to_contain_text("whole numbers from 1")

            page.get_by_role("button", name="Pause").click()
            sync_api.expect(page.get_by_text("Paused: nothing is ordered")).to_be_visible()
            page.get_by_role("button", name="Resume").click()
            sync_api.expect(page.get_by_role("status")).to_have_text(
                "Done: your subscription is running again."
            )

            page.get_by_label("Why do you cancel?").select_option(label="I have too much of it")
            page.get_by_label("Anything else? (optional)").fill("Moving abroad")
            page.get_by_role("button", name="Cancel my subscription").click()
            sync_api.expect(page.get_by_role("status")).to_contain_text("cancelled")
            sync_api.expect(page.get_by_role("button", name="Pause")).to_have_count(0)
            page.screenshot(path=str(done_shot), full_page=True)
        finally:
            browser.close()

    sub = Subscription.objects.get(pk=sub.pk)
    assert sub.status == "cancelled"
    assert sub.cancel_reason == "I have too much of it: Moving abroad"
    assert sub.lines.get(sku=shop["beans"]).quantity == 4  # lines are replaced on change
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for shot in (page_shot, done_shot):
        shutil.copyfile(shot, SCREENSHOTS / shot.name)


@pytest.mark.django_db(transaction=True)
def test_the_admin_list_and_page_in_a_browser(live_server, make_sub):
    """Staff see the list (every column at 1,400 px) and a page with its renewals, orders and
    timeline; screenshots under var/screenshots/."""
    from django.apps import apps
    from django.conf import settings

    from oms.roles import CUSTOMER_CARE, roles_sync
    from subscriptions import services
    from tests import staff

    roles_sync(apps)
    sub = make_sub()
    services.subscription_renew(subscription=sub)
    services.subscription_skip(subscription=sub)
    other = make_sub(payment_reference="decline_card")
    services.subscription_renew(subscription=other)
    client = staff.admin_client_of(staff.user_of(CUSTOMER_CARE))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            page.goto(f"{live_server.url}/admin/subscriptions/subscription/")
            sync_api.expect(page.locator("#result_list")).to_contain_text(sub.number or "")
            widths = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1], widths
            page.screenshot(path=str(SCREENSHOTS / "subscription-admin-list.png"), full_page=True)
            page.goto(f"{live_server.url}/admin/subscriptions/subscription/{other.pk}/change/")
            sync_api.expect(page.get_by_text("Your card was declined.").first).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / "subscription-admin-page.png"), full_page=True)
            page.goto(f"{live_server.url}/admin/")
            sync_api.expect(page.get_by_text("Failed payments")).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / "subscription-admin-home.png"), full_page=True)
        finally:
            browser.close()
