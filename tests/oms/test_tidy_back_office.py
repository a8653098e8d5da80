"""Tidy back office (issue 21, point 8): one place for rates (django-money's stored rates are
read-only), only current ISO 4217 currencies offered, no red cross for a normal state, SKU codes
on one line in the stock list."""

from __future__ import annotations

import pytest
from djmoney.contrib.exchange.models import ExchangeBackend, Rate

from oms.money import currency_choices, current_currencies
from tests.factories import ChannelFactory, LocationFactory, SkuFactory, UserFactory


@pytest.fixture
def boss(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_only_current_currencies_are_offered():
    codes = {code for code, _ in currency_choices()}
    assert {"EUR", "USD", "GBP", "JPY", "CHF", "SEK"} <= codes
    for gone in ("ADP", "DEM", "FRF", "HRK", "XAU", "XXX"):  # peseta, mark, franc, kuna, gold
        assert gone not in codes, gone
    assert codes <= current_currencies()


def test_the_channel_form_offers_current_currencies_and_keeps_a_channel_s_old_one(boss):
    page = boss.get("/admin/inventory/channel/add/").content.decode()
    assert '<option value="EUR"' in page
    assert '<option value="ADP"' not in page  # Andorran peseta
    from channels.admin import ChannelAdminForm

    old = ChannelFactory(code="legacy", currency="HRK")
    form = ChannelAdminForm(instance=old)
    assert ("HRK", "HRK (no longer current)") in form.fields["currency"].choices


def test_stored_rates_are_read_only_and_point_to_the_overrides(boss):
    backend = ExchangeBackend.objects.create(name="ecb", base_currency="EUR")
    rate = Rate.objects.create(currency="USD", value="1.08", backend=backend)
    page = boss.get("/admin/exchange/rate/")
    assert page.status_code == 200
    assert "read-only: set a rate with a rate override" in page.content.decode()
    assert "/admin/exchange/rate/add/" not in page.content.decode()
    assert boss.get("/admin/exchange/rate/add/").status_code == 403
    assert boss.post(f"/admin/exchange/rate/{rate.pk}/change/", {"value": "9"}).status_code == 403
    assert boss.post(f"/admin/exchange/rate/{rate.pk}/delete/", {"post": "yes"}).status_code == 403
    assert str(Rate.objects.get(pk=rate.pk).value) == "1.080000"


def test_rates_sit_in_one_section_of_the_navigation_beside_the_overrides(boss):
    response = boss.get("/admin/")
    apps = {app["app_label"]: app for app in response.context["app_list"]}
    assert "exchange" not in apps  # no second "Exchange" section
    names = [model["name"] for model in apps["orders"]["models"]]
    assert "Rate overrides" in names
    assert "Rates" in names
    rates = next(m for m in apps["orders"]["models"] if m["name"] == "Rates")
    assert rates["admin_url"] == "/admin/exchange/rate/"
    assert rates["add_url"] is None  # read-only: nothing to add there


def test_your_background_jobs_are_in_the_navigation_of_every_staff_member(client, db):
    client.force_login(UserFactory(is_staff=True))  # no model permission at all
    home = client.get("/admin/")
    assert [app["name"] for app in home.context["app_list"]] == ["Your work"]
    assert '<a href="/admin/jobs/">Your background jobs</a>' in home.content.decode()
    # The sidebar of any page carries it too.
    boss = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(boss)
    page = client.get("/admin/orders/order/").content.decode()
    assert 'href="/admin/jobs/"' in page
    assert client.get("/admin/jobs/").status_code == 200


def test_a_stock_level_without_a_count_due_shows_no_red_cross(boss):
    from inventory.services import stock_adjust

    location = LocationFactory(code="WH")
    fine, due = SkuFactory(code="HIK-PNT-BLACK-34"), SkuFactory(code="APR-SHO-GREY-40")
    for sku in (fine, due):
        stock_adjust(sku=sku, location=location, kind="receipt", quantity=3)
    from inventory.models import StockLevel

    StockLevel.objects.filter(sku=due).update(needs_count=True)
    page = boss.get("/admin/inventory/stocklevel/").content.decode()
    assert "icon-no.svg" not in page  # Django's red cross for False
    assert page.count("Count it") == 1
    assert "No count needed" in page  # said to screen readers, not drawn
    assert "td.field-sku_code" in page  # white-space: nowrap
