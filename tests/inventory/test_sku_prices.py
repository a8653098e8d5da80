"""SKU prices in the back office: a channel's price list or a SKU's default price, written
through inventory.services.sku_price_set (a bad amount is a form error that writes nothing);
the warehouse only reads them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inventory.models import SkuPrice
from oms.roles import MANAGER, WAREHOUSE
from tests import staff
from tests.factories import ChannelFactory, SkuFactory

pytestmark = pytest.mark.django_db
ADD = "/admin/inventory/skuprice/add/"


def test_a_manager_sets_prices_and_a_bad_amount_writes_nothing():
    sku, web = SkuFactory(code="BEANS-1"), ChannelFactory(code="web")
    client = staff.admin_client_of(staff.user_of(MANAGER))
    form = {"sku": sku.pk, "channel": web.pk, "currency": "eur", "amount": "10.50"}
    assert client.post(ADD, form).status_code == 302
    price = SkuPrice.objects.get()
    assert (price.channel_id, price.currency, price.amount) == (web.pk, "EUR", Decimal("10.5"))
    bad = client.post(ADD, {**form, "channel": "", "amount": "1.001"})
    assert bad.status_code == 200
    for amount, currency in (("0", "EUR"), ("1.00", "DEM")):  # as the API: > 0, current codes
        refused = client.post(ADD, {**form, "channel": "", "amount": amount, "currency": currency})
        assert refused.status_code == 200
        assert refused.context["adminform"].form.errors
    assert SkuPrice.objects.count() == 1
    listed = client.get("/admin/inventory/skuprice/").content.decode()
    assert "BEANS-1" in listed


def test_the_warehouse_reads_prices_but_does_not_set_them():
    SkuFactory()
    client = staff.admin_client_of(staff.user_of(WAREHOUSE))
    assert client.get("/admin/inventory/skuprice/").status_code == 200
    assert client.get(ADD).status_code == 403
