"""Customer care refunds a line from the order page in a real browser (Chromium driven by
Playwright against pytest-django's live server, at a laptop's 1,366 x 768): the payments panel
shows what was paid and what is refundable, "Refund…" opens the form, the amount of one unit of
a line is previewed, then refunded; the panel shows the refund. Skipped like the other browser
tests; screenshots under var/screenshots/ (order-payments-panel.png, refund-preview.png,
order-refunded.png).

Everything the browser needs is created before Playwright starts (its event loop refuses ORM
calls); what it did is checked after, and the refund is executed by running the outbox as a
worker would."""

from __future__ import annotations

import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from oms.roles import CUSTOMER_CARE
from orders.models import OrderLine
from returns.models import Refund
from tests import staff
from tests.fulfilment.conftest import order, put
from tests.outbox import run_outbox
from tests.returns.conftest import ship_all

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LAPTOP = {"width": 1366, "height": 768}
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"


@pytest.mark.django_db(transaction=True)
def test_care_refunds_a_line_from_the_order_page(live_server, tmp_path, network, reasons):
    from django.apps import apps

    from oms.roles import roles_sync

    roles_sync(apps)
    put(network, "BER", "A", 5)
    put(network, "BER", "B", 5)
    o = ship_all(order("HAMBURG", {"A": 2, "B": 1}))
    OrderLine.objects.filter(order=o, sku_code="A").update(name="Trail runner, size 42")
    OrderLine.objects.filter(order=o, sku_code="B").update(name="Merino socks")
    line_b = OrderLine.objects.get(order=o, sku_code="B")
    client = staff.admin_client_of(staff.user_of(CUSTOMER_CARE))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    shots = [tmp_path / n for n in ("order-payments-panel.png", "refund-preview.png")]
    done_shot = tmp_path / "order-refunded.png"

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=LAPTOP)
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            page.goto(f"{live_server.url}/admin/orders/order/{o.pk}/change/")
            panel = page.locator("#payments")
            sync_api.expect(panel.locator('[data-amount="paid"]')).to_have_text("30.00 EUR")
            sync_api.expect(panel.locator('[data-amount="refundable"]')).to_have_text("30.00 EUR")
            panel.scroll_into_view_if_needed()
            panel.screenshot(path=str(shots[0]))
            panel.get_by_role("link", name="Refund…").click()
            page.wait_for_url(f"**/admin/returns/payment/order/{o.pk}/refund/")

            page.get_by_label("Refund how many of line 2 (B)").fill("1")
            page.get_by_label("Reason").fill("Arrived with a hole")
            page.get_by_role("button", name="Preview the amount").click()
            sync_api.expect(page.locator("#refund-suggested")).to_contain_text(
                "Suggested refund: 10.00 EUR"
            )
            # The form keeps what was chosen.
            sync_api.expect(page.get_by_label("Refund how many of line 2 (B)")).to_have_value("1")
            page.screenshot(path=str(shots[1]), full_page=True)
            page.get_by_role("button", name="Refund", exact=True).click()

            page.wait_for_url(f"**/admin/orders/order/{o.pk}/change/")
            sync_api.expect(page.locator(".messagelist")).to_contain_text(
                "refund of 10.00 EUR requested"
            )
            refunds = page.locator("#payments table", has_text="Refunds")
            sync_api.expect(refunds).to_contain_text("10.00 EUR")
            sync_api.expect(refunds).to_contain_text("Arrived with a hole")
            sync_api.expect(panel.locator('[data-amount="refund-pending"]')).to_have_text(
                "10.00 EUR"
            )
            page.locator("#payments").screenshot(path=str(done_shot))
        finally:
            browser.close()

    refund = Refund.objects.get(order=o)
    assert (refund.amount, refund.status) == (Decimal("10.00"), "pending")
    event = o.events.get(kind="refund_requested")
    assert event.data["lines"] == [{"line": line_b.pk, "quantity": 1}]
    run_outbox("returns.refund_execute")
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for shot in (*shots, done_shot):
        shutil.copyfile(shot, SCREENSHOTS / shot.name)


@pytest.mark.django_db(transaction=True)
def test_care_marks_an_order_paid_and_reads_the_reconciliation(
    live_server, tmp_path, network, reasons
):
    """An order held for its payment: "Mark as paid…" with the transfer's reference releases
    the hold; then the manual reconciliation of the day shows the refund still to confirm."""
    from django.apps import apps
    from django.utils import timezone

    from inventory.models import Channel
    from oms.roles import roles_sync
    from returns import services
    from returns.payments import payment_provider_override

    roles_sync(apps)
    put(network, "BER", "A", 5)
    o = order("HAMBURG", {"A": 1}, payment_status="pending")
    Channel.objects.filter(pk=o.channel_id).update(payment_provider="manual")
    client = staff.admin_client_of(staff.user_of(CUSTOMER_CARE))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    paid_shot, recon_shot = tmp_path / "order-marked-paid.png", tmp_path / "reconciliation.png"
    today = timezone.now().date().isoformat()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=LAPTOP)
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            page.goto(f"{live_server.url}/admin/orders/order/{o.pk}/change/")
            page.locator("#payments").get_by_role("link", name="Mark as paid…").click()
            page.get_by_label("Reference").fill("SEPA-2026-77")
            page.get_by_role("button", name="Mark as paid").click()
            page.wait_for_url(f"**/admin/orders/order/{o.pk}/change/")
            sync_api.expect(page.locator(".messagelist")).to_contain_text(
                "its payment hold is released"
            )
            sync_api.expect(page.locator("#payments")).to_contain_text("SEPA-2026-77")
            page.locator("#payments").screenshot(path=str(paid_shot))
        finally:
            browser.close()

    o.refresh_from_db()
    assert o.payment_status == "paid"
    assert not o.holds.filter(released_at__isnull=True).exists()
    payment_provider_override(None)  # the manual provider: the refund waits for staff
    refund = services.refund_execute(refund=services.refund_create(order=o, amount=Decimal("2")))
    assert refund.waiting_for == "staff"

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=LAPTOP)
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            page.goto(f"{live_server.url}/admin/returns/payment/")
            page.get_by_role("link", name="Reconciliation report").click()
            page.get_by_label("Provider").select_option("manual")
            page.get_by_label("Day (UTC)").fill(today)
            page.get_by_role("button", name="Reconcile").click()
            sync_api.expect(page.locator("#reconciliation")).to_contain_text(
                "Waiting for staff to pay it and confirm it"
            )
            page.screenshot(path=str(recon_shot), full_page=True)
        finally:
            browser.close()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for shot in (paid_shot, recon_shot):
        shutil.copyfile(shot, SCREENSHOTS / shot.name)
