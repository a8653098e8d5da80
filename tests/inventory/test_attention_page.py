"""The stock attention page at the size of a real catalogue: 50 rows a page, a search on the SKU
code, filters by location and reason, and from each row the actions that fix it (count, adjust,
a transfer in with the destination and SKU filled in, the level's ledger)."""

from __future__ import annotations

import re

import pytest

from inventory.models import StockLevel
from oms.roles import CUSTOMER_CARE, WAREHOUSE
from tests.factories import SkuFactory
from tests.inventory.test_admin import ATTENTION, receive, staff_client, store, text, wh

__all__ = ["store", "wh"]


def rows(html: str) -> list[str]:
    """The SKU codes of the rows shown, in order."""
    return re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a></th>', html)


@pytest.fixture
def flagged(wh, store):
    """120 levels flagged for a count (80 at WH, 40 at STORE) and 1 at or below its reorder
    point."""
    codes = []
    for n in range(120):
        sku = SkuFactory(code=f"CNT-{n:03d}")
        receive(sku, wh if n < 80 else store, 5)
        codes.append(sku.code)
    StockLevel.objects.filter(sku__code__startswith="CNT-").update(needs_count=True)
    low = SkuFactory(code="LOW-1")
    receive(low, wh, 2)
    StockLevel.objects.filter(sku=low).update(reorder_point=5)
    return codes


@pytest.mark.django_db
def test_the_page_shows_fifty_rows_at_a_time_and_pages_through_all(flagged):
    client = staff_client(WAREHOUSE)
    first = text(client.get(ATTENTION))
    assert "121 levels need attention" in first
    assert rows(first)[0] == "LOW-1"  # the most urgent first
    assert len(rows(first)) == 50
    assert "Page 1 of 3" in first
    seen = rows(first)
    for page in (2, 3):
        html = text(client.get(ATTENTION, {"p": page}))
        seen += rows(html)
    assert len(seen) == 121
    assert len(set(seen)) == 121
    # A page out of range shows the last one, never an error.
    assert rows(text(client.get(ATTENTION, {"p": 99}))) == seen[100:]


@pytest.mark.django_db
def test_search_and_filters_narrow_the_list_and_paging_keeps_them(flagged):
    client = staff_client(WAREHOUSE)
    found = text(client.get(ATTENTION, {"q": "cnt-01"}))
    assert rows(found) == [f"CNT-{n:03d}" for n in range(10, 20)]
    assert "10 match the filters" in found
    at_store = text(client.get(ATTENTION, {"location": "STORE"}))
    assert len(rows(at_store)) == 40
    assert all(code >= "CNT-080" for code in rows(at_store))
    reorder = text(client.get(ATTENTION, {"why": "reorder"}))
    assert rows(reorder) == ["LOW-1"]
    counts = text(client.get(ATTENTION, {"why": "count", "location": "WH"}))
    assert "Page 1 of 2" in counts
    assert "?location=WH&amp;why=count&amp;p=2" in counts
    nothing = text(client.get(ATTENTION, {"q": "no-such-sku"}))
    assert "Nothing that needs attention matches these filters." in nothing
    assert rows(nothing) == []


@pytest.mark.django_db
def test_each_row_offers_the_actions_that_fix_it_to_those_who_may(flagged, store):
    html = text(staff_client(WAREHOUSE).get(ATTENTION, {"q": "CNT-100"}))
    assert "action=count" in html
    transfer = re.search(r'href="(/admin/inventory/transfer/add/\?[^"]+)"', html)
    assert transfer is not None
    link = transfer.group(1).replace("&amp;", "&")
    assert f"to_location={store.pk}" in link
    assert "sku=CNT-100" in link
    assert "/admin/inventory/stockmovement/?sku__id__exact=" in html
    form = text(staff_client(WAREHOUSE).get(link))
    assert 'value="CNT-100"' in form
    assert re.search(rf'<option value="{store.pk}" selected>', form)
    care = text(staff_client(CUSTOMER_CARE).get(ATTENTION, {"q": "CNT-100"}))
    assert "action=count" not in care
    assert "/admin/inventory/transfer/add/" not in care
