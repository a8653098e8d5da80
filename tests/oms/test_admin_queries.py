"""The back office's main pages send a fixed number of statements, whatever the number of rows:
each page is rendered with N objects, then with 3N, and must send exactly the same statements
(no query per row: related rows joined or prefetched, counts estimated on the big lists).

A list grows by its rows; an object's page grows by its own rows (an order's lines, a
shipment's lines, a return's lines, a subscription's lines); the per-SKU view by the locations
holding the SKU. bench/admin_pages.py times the same pages on the demo data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import F
from django.utils import timezone

from fulfilment.models import Shipment
from fulfilment.services import shipment_pick
from inventory import services as stock
from inventory.models import StockLevel
from orders.models import Order
from returns import services as returns
from subscriptions.services import subscription_create
from tests import staff
from tests.factories import ChannelFactory, LocationFactory, SkuFactory
from tests.fulfilment.conftest import network, order
from tests.returns.conftest import reasons, ship_all

__all__ = ["network", "reasons"]

N = 2


class Shop:
    """The demo-like shop the pages show: grows by `add(n)` n of every kind of row."""

    def __init__(self, network: dict[str, Any]) -> None:
        self.network = network
        self.berlin = network["locations"]["BER"]
        self.skus: list[Any] = []
        self.orders: list[Any] = []
        self.returns: list[Any] = []
        self.subscriptions: list[Any] = []

    def sku(self) -> Any:
        sku = SkuFactory()
        stock.stock_adjust(sku=sku, location=self.berlin, kind="receipt", quantity=1000)
        self.skus.append(sku)
        return sku

    def order(self, lines: int = 2) -> Any:
        skus = [self.sku() for _ in range(lines)]
        placed = order("BERLIN", {sku.code: 1 for sku in skus})
        self.orders.append(placed)
        return placed

    def returned(self, lines: int = 2) -> Any:
        placed = ship_all(self.order(lines))
        request = returns.return_create(
            order=placed,
            lines=[
                {"order_line": line.pk, "quantity": 1, "reason": "damaged"}
                for line in placed.lines.all()
            ],
        )
        self.returns.append(request)
        return request

    def subscription(self, lines: int = 2) -> Any:
        skus = [self.sku() for _ in range(lines)]
        created = subscription_create(
            channel="web",
            customer={"email": "anna@example.com", "name": "Anna Schmidt"},
            shipping_address={
                "name": "Anna Schmidt",
                "line1": "Torstraße 1",
                "city": "Berlin",
                "postal_code": "10119",
                "country": "DE",
            },
            lines=[
                {"sku": sku.code, "quantity": 1, "unit_price": Decimal("12.50")} for sku in skus
            ],
            currency="EUR",
            interval="month",
            next_order_at=timezone.now() + dt.timedelta(days=3),
            payment_reference="cus_1:pm_1",
        )
        self.subscriptions.append(created)
        return created

    def add(self, n: int) -> None:
        """n more of everything the lists show, some of it needing attention."""
        for _ in range(n):
            self.returned()
            self.order()
            self.subscription()
            ChannelFactory(locations=[self.berlin])
            where = LocationFactory()
            stock.stock_adjust(sku=self.skus[0], location=where, kind="receipt", quantity=3)
        StockLevel.objects.filter(location=self.berlin).update(
            reorder_point=F("on_hand"), needs_count=True
        )


@pytest.fixture
def shop(network, reasons):
    return Shop(network)


@pytest.fixture
def client():
    return staff.admin_client_of(staff.user_of(staff.SUPERUSER))


LISTS: dict[str, tuple[str, int]] = {
    "ops home": ("/admin/", 32),  # 3 for the sales chart's today, counted from the orders
    "order list": ("/admin/orders/order/", 8),
    "shipment list": ("/admin/fulfilment/shipment/", 7),
    "stock level list": ("/admin/inventory/stocklevel/", 6),
    "movements list": ("/admin/inventory/stockmovement/", 7),
    "returns list": ("/admin/returns/returnrequest/", 7),
    "subscriptions list": ("/admin/subscriptions/subscription/", 7),
    "channels list": ("/admin/inventory/channel/", 6),
    "attention page": ("/admin/inventory/stocklevel/attention/", 5),
    "pack station": ("/admin/fulfilment/shipment/pack/", 2),
}


@pytest.mark.parametrize("page", LISTS)
def test_a_list_sends_the_same_statements_for_n_and_3n_rows(
    page, shop, client, django_assert_num_queries
):
    url, expected = LISTS[page]
    shop.add(N)
    client.get(url)  # the first request of a session fills what is kept for the next
    with django_assert_num_queries(expected):
        assert client.get(url).status_code == 200
    shop.add(2 * N)
    with django_assert_num_queries(expected):
        assert client.get(url).status_code == 200


def _order_page(shop: Shop, n: int) -> tuple[str, str]:
    return f"/admin/orders/order/{shop.order(n).pk}/change/", shop.skus[-1].code


def _shipment_page(shop: Shop, n: int) -> tuple[str, str]:
    shipment = Shipment.objects.get(order=shop.order(n))
    return f"/admin/fulfilment/shipment/{shipment.pk}/change/", shop.skus[-1].code


def _return_page(shop: Shop, n: int) -> tuple[str, str]:
    return f"/admin/returns/returnrequest/{shop.returned(n).pk}/change/", shop.skus[-1].code


def _subscription_page(shop: Shop, n: int) -> tuple[str, str]:
    made = shop.subscription(n)
    return f"/admin/subscriptions/subscription/{made.pk}/change/", shop.skus[-1].code


def _sku_stock(shop: Shop, n: int) -> tuple[str, str]:
    sku = shop.sku()
    for _ in range(n):
        where = LocationFactory()
        stock.stock_adjust(sku=sku, location=where, kind="receipt", quantity=2)
    return f"/admin/inventory/sku/{sku.pk}/stock/", where.code


def _packing(shop: Shop, n: int) -> tuple[str, str]:
    shipment = Shipment.objects.get(order=shop.order(n))
    shipment_pick(
        shipment=shipment, lines=[(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()]
    )
    return f"/admin/fulfilment/shipment/pack/?shipment=SH-{shipment.pk}", shop.skus[-1].code


PAGES: dict[str, tuple[Callable[[Shop, int], tuple[str, str]], int]] = {
    "order page": (_order_page, 19),
    "shipment page": (_shipment_page, 9),
    "return page": (_return_page, 10),
    "subscription page": (_subscription_page, 7),
    "per-SKU view": (_sku_stock, 5),
    "pack station, a shipment scanned": (_packing, 5),
}


@pytest.mark.parametrize("page", PAGES)
def test_an_objects_page_sends_the_same_statements_for_n_and_3n_of_its_rows(
    page, shop, client, django_assert_num_queries
):
    make, expected = PAGES[page]
    shop.add(1)
    (small, _), (big, last_row) = make(shop, N), make(shop, 3 * N)
    client.get(small)
    with django_assert_num_queries(expected):
        assert client.get(small).status_code == 200
    with django_assert_num_queries(expected):
        answer = client.get(big)
    assert answer.status_code == 200
    assert last_row in answer.content.decode()  # the rows are there, each of them shown


def test_the_date_drill_down_offers_the_periods_from_the_first_row_to_the_last(shop, client):
    """The years, then the months, then the days between the list's first and last row (one
    MIN/MAX query), each a link that filters the list."""
    shop.add(1)
    first, last = shop.orders[0], shop.orders[1]
    Order.objects.exclude(pk__in=[first.pk, last.pk]).delete()
    Order.objects.filter(pk=first.pk).update(placed_at=dt.datetime(2025, 11, 3, 12, tzinfo=dt.UTC))
    Order.objects.filter(pk=last.pk).update(placed_at=dt.datetime(2026, 2, 5, 12, tzinfo=dt.UTC))

    years = client.get("/admin/orders/order/").content.decode()
    assert "?placed_at__year=2025" in years
    assert "?placed_at__year=2026" in years
    months = client.get("/admin/orders/order/?placed_at__year=2025").content.decode()
    assert "?placed_at__month=11&amp;placed_at__year=2025" in months
    assert "placed_at__month=10" not in months
    days = client.get("/admin/orders/order/?placed_at__year=2025&placed_at__month=11")
    assert "?placed_at__day=3&amp;placed_at__month=11&amp;placed_at__year=2025" in (
        days.content.decode()
    )
    assert first.number in days.content.decode()
    assert last.number not in days.content.decode()


def test_a_row_is_selected_for_an_action_by_its_checkbox(shop, client):
    """The checkbox each row draws for the actions: the admin's own markup."""
    shop.add(1)
    html = client.get("/admin/orders/order/").content.decode()
    placed = shop.orders[-1]
    assert (
        f'<input type="checkbox" name="_selected_action" value="{placed.pk}" '
        f'class="action-select" aria-label="Select this object for an action - {placed}">'
    ) in html
