"""The back office's home: the figures staff work from, each linking to the list it counts, the
stations (pack, receive, stock attention) one click away, only what the user may see, and the
apps in the order of the work instead of alphabetically."""

from __future__ import annotations

import re

import pytest
from django.apps import apps

from oms.roles import CUSTOMER_CARE, MANAGER, WAREHOUSE, roles_sync
from orders.services import order_hold
from tests import staff
from tests.fulfilment import conftest as fulfilment
from tests.fulfilment.conftest import network

__all__ = ["network"]


def tiles(html: str) -> dict[str, tuple[str, str]]:
    """title -> (figure, link) of every tile on the page."""
    found = re.findall(
        r'<a class="home-tile[^"]*" href="([^"]+)">\s*<span class="figure">([^<]*)</span>\s*'
        r'<span class="label">([^<]+)</span>',
        html,
    )
    return {title: (figure, href.replace("&amp;", "&")) for href, figure, title in found}


@pytest.fixture(autouse=True)
def _roles():
    roles_sync(apps)


@pytest.mark.django_db
def test_the_home_counts_the_work_waiting_and_each_figure_opens_its_list(network):
    fulfilment.put(network, "BER", "A", 1)
    routed = fulfilment.order(lines={"A": 1})  # a shipment to pick
    fulfilment.order(lines={"A": 2})  # nothing left: backordered
    held = fulfilment.order(lines={"A": 1})  # backordered too, then held
    order_hold(order=held, reason="manual", note="check the address")
    client = staff.admin_client_of(staff.user_of(MANAGER))

    page = client.get("/admin/")
    assert page.status_code == 200
    html = page.content.decode()
    found = tiles(html)
    assert found["On hold"][0] == "1"
    assert found["Backordered"][0] == "2"
    assert found["To pick"][0] == "1"
    assert found["Placed today"][0] == "3"
    for title, (_, href) in found.items():  # every figure opens a list that answers
        answer = client.get(href)
        assert answer.status_code == 200, (title, href, answer.status_code)
        assert "?e=1" not in answer.get("Location", ""), (title, href)
    # The list a figure opens holds what it counted.
    on_hold = client.get(found["On hold"][1]).content.decode()
    assert held.number in on_hold
    assert routed.number not in on_hold
    # Stations and reports are one click away.
    for station in ("Pack station", "Receiving station", "Stock attention", "Sales"):
        assert f">{station}</a>" in html
    assert "<svg" in html  # the sales chart
    # The apps follow the work: orders first, the accounts and plumbing last.
    order = [m.group(1) for m in re.finditer(r'<div class="app-(\w+) module', html)]
    assert order == [
        "orders",
        "fulfilment",
        "inventory",
        "returns",
        "subscriptions",
        "channels",
        "webhooks",
        "reports",
        "your_work",
        "oms",
        "authtoken",
    ]


@pytest.mark.django_db
def test_the_home_shows_only_what_the_user_may_see(network):
    from oms.admin import home

    for role in (WAREHOUSE, CUSTOMER_CARE, MANAGER):
        user = staff.user_of(role)
        html = staff.admin_client_of(user).get("/admin/").content.decode()
        shown = set(tiles(html))
        allowed = {t.title for t in home._tiles if user.has_perm(t.permission)}
        assert shown == allowed, role
        for link in home._links:
            assert (f">{link.title}</a>" in html) == user.has_perm(link.permission), (role, link)
    warehouse = staff.user_of(WAREHOUSE)
    assert "To pick" in tiles(staff.admin_client_of(warehouse).get("/admin/").content.decode())
    care = staff.user_of(CUSTOMER_CARE)
    assert not care.has_perm("inventory.change_stocklevel")  # so "Adjust stock" was hidden


@pytest.mark.django_db
def test_a_home_figure_that_breaks_shows_a_question_mark_not_an_error():
    from oms.admin import home

    def broken() -> int:
        raise RuntimeError("the figure's query failed")

    tile = home.Tile("Orders", "Broken figure", broken, lambda: "/x/", "orders.view_order")
    assert home._count(tile) is None
    with pytest.raises(ValueError, match="Unknown home section"):
        home.home_tile(home.Tile("Nowhere", "x", lambda: 0, lambda: "/", "x.y"))


@pytest.mark.django_db
def test_the_sales_chart_counts_today_as_the_placed_today_figure_does(network):
    """The chart read only the rollups, refreshed every minute by beat (never where beat does
    not run): today's orders were counted by "Placed today" and missing from the chart, flat.
    Today's bar is counted from the orders themselves, as the figure is."""
    from django.utils import timezone

    fulfilment.put(network, "BER", "A", 5)
    for _ in range(3):
        fulfilment.order(lines={"A": 1})  # 10.00 EUR each, no rollup refresh since
    html = staff.admin_client_of(staff.user_of(MANAGER)).get("/admin/").content.decode()
    today = timezone.localdate().isoformat()
    assert tiles(html)["Placed today"][0] == "3"
    assert f"<title>{today}: 30.00</title>" in html  # revenue, base currency
