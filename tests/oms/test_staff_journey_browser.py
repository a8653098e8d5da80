"""A staff member's day in the real back office (issue 21, "Done when"), in one journey through
Chromium driven by Playwright against the live server, at a laptop's 1,366 x 768:

log in; find an order by the customer's e-mail from the order list's search; open it; hold it
(with its reason) and release it from the page's buttons; refund one line from the payments
panel (the suggested amount previewed, the refund's status shown, pending then succeeded once
the worker ran); open its shipment and pick, pack (scanning at the pack station) and ship it
from the shipment page's buttons, then read its tracking number; import a CSV of orders from
the channel's page and watch its progress bar reach the end; filter the order list by that
channel and export it as CSV (the downloaded rows are the filtered ones); read the background
jobs from the navigation.

Every page is saved under var/screenshots/journey-NN-<step>.png (var/ is not versioned): they
are what a person looks at to judge the pages. What the test asserts is what the person sees
(messages, statuses, figures, the downloaded file), and the database only where the page says
something happened. The worker is played by the test between two steps (`run_outbox`), as in
the other browser tests. Skipped like them when Playwright or Debian's chromium is missing."""

from __future__ import annotations

import csv
import io
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from fulfilment.models import Shipment
from orders.models import Order
from returns.models import Refund
from tests.fulfilment.conftest import network, put
from tests.outbox import run_outbox
from tests.returns.conftest import reasons

__all__ = ["network", "reasons"]

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LAPTOP = {"width": 1366, "height": 768}
SHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
EMAIL = "ana.ruiz@example.com"
PASSWORD = "journey-through-the-back-office"


class Journey:
    """The browser page, the live server's address, and the numbered screenshots."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.step = 0

    def shot(self, name: str, *, full_page: bool = True) -> None:
        self.step += 1
        path = SHOTS / f"journey-{self.step:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)

    def message(self, text: str) -> None:
        sync_api.expect(self.page.locator(".messagelist")).to_contain_text(text)


def _staff_member() -> Any:
    """One person with the back office's three day-to-day roles (not a superuser)."""
    from django.apps import apps
    from django.contrib.auth.models import Group

    from oms.roles import CUSTOMER_CARE, MANAGER, WAREHOUSE, roles_sync
    from tests.factories import UserFactory

    roles_sync(apps)
    user = UserFactory(username="carla", is_staff=True)
    user.set_password(PASSWORD)
    user.save()
    user.groups.add(*Group.objects.filter(name__in=[CUSTOMER_CARE, MANAGER, WAREHOUSE]))
    return user


def _the_order(network: dict[str, Any]) -> Order:
    """Ana's paid order of 2 A and 1 B (10.00 EUR each), routed to Berlin, among others'."""
    from orders.services import order_capture
    from tests.fulfilment.conftest import order

    for sku in ("A", "B"):
        put(network, "BER", sku, 20)
    order(lines={"A": 1})  # somebody else's orders, which the search must leave out
    order(lines={"B": 1})
    return order_capture(
        channel="web",
        external_id="ANA-1",
        currency="EUR",
        lines=[
            {"sku": "A", "quantity": 2, "unit_price": "10.00", "name": "Trail runner, size 42"},
            {"sku": "B", "quantity": 1, "unit_price": "10.00", "name": "Merino socks"},
        ],
        customer={"email": EMAIL, "first_name": "Ana", "last_name": "Ruiz"},
        shipping_address={
            "name": "Ana Ruiz",
            "line1": "Hafenstraße 3",
            "postal_code": "20095",
            "city": "Hamburg",
            "country": "DE",
        },
        payment_status="paid",
    ).order


def _csv_channel() -> Any:
    """A second shop whose orders come as a CSV file (the sample file's SKUs in stock)."""
    from channels.services.csv_import import SAMPLE_SKUS
    from inventory import services as stock
    from tests.factories import ChannelFactory, LocationFactory, SkuFactory

    wh = LocationFactory(code="CSV-WH")
    channel = ChannelFactory(code="marketplace", name="Marketplace orders", currency="EUR")
    channel.locations.set([wh])
    for code in SAMPLE_SKUS:
        stock.stock_adjust(sku=SkuFactory(code=code), location=wh, kind="receipt", quantity=20)
    return channel


@pytest.mark.django_db(transaction=True)
def test_a_staff_member_s_journey_through_the_back_office(
    live_server, network, reasons, tmp_path, monkeypatch
):
    from channels.services.csv_import import orders_csv_sample

    # The test plays the worker between two steps, inside Playwright's sync API (an event loop
    # in this thread): Django's ORM must be let run here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    _staff_member()
    ana = _the_order(network)
    shipment = Shipment.objects.get(order=ana)
    channel = _csv_channel()
    sample = tmp_path / "orders-sample.csv"
    sample.write_text(orders_csv_sample(), encoding="utf-8")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=LAPTOP, accept_downloads=True)
            journey = Journey(context.new_page(), live_server.url)
            _log_in(journey)
            _find_the_order(journey, ana)
            _hold_and_release(journey, ana)
            _refund_a_line(journey, ana)
            _pick_pack_and_ship(journey, ana, shipment)
            _import_a_csv(journey, channel, sample)
            _export_the_filtered_list(journey, channel)
            _read_the_background_jobs(journey)
        finally:
            browser.close()
    assert Order.objects.filter(channel=channel).count() == 2
    assert Shipment.objects.get(pk=shipment.pk).status == "shipped"


def _log_in(journey: Journey) -> None:
    page = journey.page
    page.goto(f"{journey.base}/admin/")
    page.wait_for_url("**/admin/login/**")
    page.get_by_label("Username").fill("carla")
    page.get_by_label("Password").fill(PASSWORD)
    journey.shot("login", full_page=False)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{journey.base}/admin/")
    # The operations home: the work waiting, and the person's own background jobs at hand.
    sync_api.expect(page.locator("#content-main")).to_contain_text("Pack station")
    sync_api.expect(page.get_by_role("link", name="Your background jobs").first).to_be_visible()
    journey.shot("home")


def _find_the_order(journey: Journey, ana: Order) -> None:
    page = journey.page
    page.goto(f"{journey.base}/admin/orders/order/")
    page.locator("#searchbar").fill(EMAIL)
    page.locator("#changelist-search input[type=submit]").click()
    page.wait_for_url("**?q=*")
    rows = page.locator("#result_list tbody tr")
    sync_api.expect(rows).to_have_count(1)
    sync_api.expect(rows.first).to_contain_text(ana.number)
    journey.shot("order-search")
    rows.first.get_by_role("link", name=ana.number).click()
    page.wait_for_url(f"**/admin/orders/order/{ana.pk}/change/**")
    sync_api.expect(page.locator("#content")).to_contain_text(ana.number)
    journey.shot("order-page")


def _hold_and_release(journey: Journey, ana: Order) -> None:
    page = journey.page
    url = f"{journey.base}/admin/orders/order/{ana.pk}/change/"
    events = page.locator(".order-timeline > ol > li")
    page.locator(".object-tools a", has_text="Hold").first.click()
    page.fill("textarea[name=note]", "Ana asked us to wait for her new address.")
    journey.shot("hold-form")
    page.get_by_role("button", name="Hold").click()
    page.wait_for_url(url)
    journey.message("on hold (Manual)")
    sync_api.expect(events.first).to_contain_text(
        "Put on hold (manual): Ana asked us to wait for her new address."
    )
    journey.shot("order-held")
    page.locator(".object-tools a", has_text="Release holds").click()
    journey.shot("release-form")
    page.get_by_role("button", name="Release").click()
    page.wait_for_url(url)
    sync_api.expect(events.first).to_contain_text("Hold released: manual.")
    journey.shot("order-released")


def _refund_a_line(journey: Journey, ana: Order) -> None:
    page = journey.page
    panel = page.locator("#payments")
    sync_api.expect(panel.locator('[data-amount="paid"]')).to_have_text("30.00 EUR")
    sync_api.expect(panel.locator('[data-amount="refundable"]')).to_have_text("30.00 EUR")
    panel.get_by_role("link", name="Refund…").click()
    page.wait_for_url(f"**/admin/returns/payment/order/{ana.pk}/refund/")
    page.get_by_label("Refund how many of line 2 (B)").fill("1")
    page.get_by_label("Reason").fill("The socks arrived with a hole")
    page.get_by_role("button", name="Preview the amount").click()
    sync_api.expect(page.locator("#refund-suggested")).to_contain_text(
        "Suggested refund: 10.00 EUR"
    )
    journey.shot("refund-preview")
    page.get_by_role("button", name="Refund", exact=True).click()
    page.wait_for_url(f"**/admin/orders/order/{ana.pk}/change/")
    journey.message("refund of 10.00 EUR requested")
    refunds = page.locator("#payments table", has_text="Refunds")
    sync_api.expect(refunds).to_contain_text("The socks arrived with a hole")
    sync_api.expect(refunds).to_contain_text("Pending")
    sync_api.expect(panel.locator('[data-amount="refund-pending"]')).to_have_text("10.00 EUR")
    journey.shot("order-refund-pending")
    assert run_outbox("returns.refund_execute") == 1  # the worker pays it back
    page.reload()
    sync_api.expect(refunds).to_contain_text("Succeeded")
    sync_api.expect(panel.locator('[data-amount="refundable"]')).to_have_text("20.00 EUR")
    panel.scroll_into_view_if_needed()
    journey.shot("order-refunded", full_page=False)
    refund = Refund.objects.get(order=ana)
    assert (refund.amount, refund.status) == (Decimal("10.00"), "succeeded")


def _pick_pack_and_ship(journey: Journey, ana: Order, shipment: Shipment) -> None:
    page = journey.page
    page.goto(f"{journey.base}/admin/orders/order/{ana.pk}/change/")
    page.locator(f'a[href="/admin/fulfilment/shipment/{shipment.pk}/change/"]').first.click()
    url = f"{journey.base}/admin/fulfilment/shipment/{shipment.pk}/change/"
    page.wait_for_url(url)
    status = page.locator(".field-status .readonly")
    sync_api.expect(status).to_have_text("Pending")
    journey.shot("shipment-pending")
    page.get_by_role("button", name="Mark picked").click()
    page.wait_for_url(url)
    journey.message("it is now picked")
    sync_api.expect(status).to_have_text("Picked")
    journey.shot("shipment-picked")

    page.get_by_role("link", name="Pack at the pack station").click()
    progress = page.locator("#pack-progress")
    sync_api.expect(progress).to_have_text("0 of 3 units scanned.")
    journey.shot("pack-station-start")
    for n, code in enumerate(("A", "B", "A"), start=1):
        page.fill("input[name=scan]", code)
        page.press("input[name=scan]", "Enter")
        sync_api.expect(progress).to_have_text(f"{n} of 3 units scanned.")
    page.fill("input[name='parcels-0-weight_grams']", "1200")
    journey.shot("pack-station-scanned")
    page.get_by_role("button", name=f"Pack SH-{shipment.pk}").click()
    journey.message("packed: 3 units in 1 parcel")
    journey.shot("pack-station-packed")

    page.goto(url)
    sync_api.expect(status).to_have_text("Packed")
    page.get_by_role("link", name="Ship (in-house carrier)").click()
    journey.shot("ship-form")
    page.get_by_role("button", name="Ship with in-house carrier").click()
    page.wait_for_url(url)
    journey.message("ships with the")
    assert run_outbox() >= 1  # the worker buys the label, which ships the shipment
    page.reload()
    sync_api.expect(status).to_have_text("Shipped")
    tracking = Shipment.objects.get(pk=shipment.pk).tracking_number
    assert tracking
    sync_api.expect(page.locator("#content")).to_contain_text(tracking)
    journey.shot("shipment-shipped")


def _import_a_csv(journey: Journey, channel: Any, sample: Path) -> None:
    page = journey.page
    page.goto(f"{journey.base}/admin/inventory/channel/{channel.pk}/change/")
    journey.shot("channel-page", full_page=False)
    page.locator("#csv-import-link").click()
    page.locator("#csv-upload input[type=file]").set_input_files(str(sample))
    journey.shot("csv-upload")
    page.get_by_role("button", name="Check the file").click()
    page.wait_for_url("**?job=*")
    _watch_the_job_to_its_end(journey, "#csv-counts", "csv-preview")
    page.get_by_role("button", name="Import 2 orders").click()
    page.wait_for_url("**?job=*")
    _watch_the_job_to_its_end(journey, "#csv-imported", "csv-import")
    bar = page.locator("#job-bar")
    assert bar.get_attribute("value") == bar.get_attribute("max") == "2"  # the bar at its end
    sync_api.expect(page.locator("#csv-imported")).to_contain_text("Imported 2 new orders")


def _watch_the_job_to_its_end(journey: Journey, result: str, name: str) -> None:
    """The page shows the job queued with its bar and a Cancel button; a worker runs it; the
    page's poll shows the end without anybody reloading it."""
    page = journey.page
    sync_api.expect(page.locator("#job-progress")).to_be_visible()
    sync_api.expect(page.locator("#job-cancel")).to_be_visible()
    assert page.locator("#job-state").inner_text() in {"Queued", "Running"}
    journey.shot(f"{name}-queued", full_page=False)
    assert run_outbox("channels.csv_orders_job") == 1
    sync_api.expect(page.locator(result)).to_be_visible(timeout=15_000)
    assert page.locator("#job-state").inner_text() == "Succeeded"
    assert page.locator("#job-cancel").count() == 0
    journey.shot(f"{name}-done")


def _export_the_filtered_list(journey: Journey, channel: Any) -> None:
    page = journey.page
    page.goto(f"{journey.base}/admin/orders/order/")
    sync_api.expect(page.locator("#result_list tbody tr")).to_have_count(5)
    page.locator("#changelist-filter").get_by_role("link", name=str(channel)).click()
    page.wait_for_url("**channel__id__exact=*")
    rows = page.locator("#result_list tbody tr")
    sync_api.expect(rows).to_have_count(2)
    shown = sorted(rows.nth(n).locator("th a, td a").first.inner_text() for n in range(2))
    journey.shot("order-list-filtered")
    with page.expect_download() as download_info:
        page.locator("#csv-export").click()
    download = download_info.value
    assert download.suggested_filename.startswith("orders-")
    body = Path(download.path()).read_text(encoding="utf-8-sig")
    exported = list(csv.DictReader(io.StringIO(body)))
    assert sorted(r["external_id"] for r in exported) == ["WEB-1001", "WEB-1002"]
    assert sorted(r["number"] for r in exported) == shown
    assert {r["channel"] for r in exported} == {channel.code}


def _read_the_background_jobs(journey: Journey) -> None:
    """The person's background jobs, from the navigation: the check and the import, done."""
    page = journey.page
    page.locator("#nav-sidebar").get_by_role("link", name="Your background jobs").click()
    page.wait_for_url("**/admin/jobs/")
    rows = page.locator("#job-list tbody tr")
    sync_api.expect(rows).to_have_count(2)
    for n in range(2):
        sync_api.expect(rows.nth(n)).to_contain_text("Succeeded")
    assert page.locator(".job-cancel").count() == 0  # nothing left to cancel
    journey.shot("background-jobs")
