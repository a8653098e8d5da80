"""A SKU's stock across locations (inventory.selectors.sku_stock_by_location and its admin page):
on hand, reserved, available and incoming per location with totals, in two queries, reachable
from the SKU's page, the SKU list and the stock level list."""

from __future__ import annotations

import pytest

from inventory import services
from inventory.selectors import sku_stock_by_location
from oms.roles import CUSTOMER_CARE, WAREHOUSE
from tests.factories import LocationFactory, SkuFactory
from tests.inventory.test_admin import receive, reserve, staff_client, text


@pytest.fixture
def network(db):
    wh, store, hub = (LocationFactory(code=c) for c in ("WH", "STORE", "HUB"))
    sku = SkuFactory(code="TEE-BLACK-M", name="Tee, black, M")
    receive(sku, wh, 10)
    receive(sku, store, 6)
    reserve(sku, store, 5)
    # 4 on their way from the warehouse to the hub, which holds none yet.
    transfer = services.transfer_create(from_location=wh, to_location=hub, lines=[(sku, 4)])
    services.transfer_ship(transfer=transfer)
    return {"sku": sku, "wh": wh, "store": store, "hub": hub}


def test_the_stock_of_a_sku_by_location_with_totals(network, django_assert_num_queries):
    with django_assert_num_queries(2):
        stock = sku_stock_by_location(network["sku"])
    figures = [
        (r.location_code, r.on_hand, r.reserved, r.available, r.incoming) for r in stock.rows
    ]
    assert figures == [("HUB", 0, 0, 0, 4), ("STORE", 6, 5, 1, 0), ("WH", 6, 0, 6, 0)]
    assert (stock.on_hand, stock.reserved, stock.available, stock.incoming) == (12, 5, 7, 4)
    assert stock.rows[0].level_id is None


def test_the_page_shows_it_and_is_reachable_from_the_lists(network):
    sku = network["sku"]
    url = f"/admin/inventory/sku/{sku.pk}/stock/"
    client = staff_client(WAREHOUSE, username="wanda")
    page = client.get(url)
    assert page.status_code == 200
    html = text(page)
    assert 'id="total-on-hand">12<' in html
    assert 'id="total-available">7<' in html
    assert 'id="total-incoming">4<' in html
    assert "HUB" in html
    assert url in text(client.get(f"/admin/inventory/sku/{sku.pk}/change/"))
    assert url in text(client.get("/admin/inventory/sku/"))
    assert url in text(client.get("/admin/inventory/stocklevel/"))
    assert client.get("/admin/inventory/sku/999999/stock/").status_code == 404


def test_only_who_may_see_stock_sees_it(network):
    nobody = staff_client(username="nobody")
    assert nobody.get(f"/admin/inventory/sku/{network['sku'].pk}/stock/").status_code == 403
    care = staff_client(CUSTOMER_CARE, username="carla")
    assert care.get(f"/admin/inventory/sku/{network['sku'].pk}/stock/").status_code == 200
