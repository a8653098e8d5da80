"""Saved filters on the admin lists (oms.admin.saved_filters): named querystrings per person and
list, listed on the list, deletable by their owner only; bad input saves nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from oms.models import SavedFilter
from oms.roles import CUSTOMER_CARE, WAREHOUSE
from tests.orders.test_admin import staff_client

ORDERS = "/admin/orders/order/"
SAVE = "/admin/saved-filters/"


@pytest.fixture
def care(db) -> Client:
    return staff_client(CUSTOMER_CARE, username="carla")


def save(client: Client, **data: str):
    return client.post(SAVE, {"list_key": "orders.order", "name": "Paid", **data})


def test_a_saved_filter_is_listed_on_its_list_and_opens_the_view(care):
    response = save(care, querystring="payment_status__exact=paid&p=3&o=2")
    assert response.status_code == 302
    # The page number is not a filter: it is not kept.
    assert response["Location"] == f"{ORDERS}?payment_status__exact=paid&o=2"
    saved = SavedFilter.objects.get()
    assert saved.querystring == "payment_status__exact=paid&o=2"
    page = care.get(ORDERS)
    assert [f["name"] for f in page.context["saved_filters"]] == ["Paid"]
    assert page.context["saved_filters"][0]["url"] == f"{ORDERS}?payment_status__exact=paid&o=2"
    html = page.content.decode()
    assert 'id="saved-filters"' in html
    assert f"{ORDERS}?payment_status__exact=paid&amp;o=2" in html
    # The same name again replaces it.
    save(care, querystring="payment_status__exact=pending")
    assert SavedFilter.objects.get().querystring == "payment_status__exact=pending"
    # Another list does not show it.
    assert care.get("/admin/returns/returnrequest/").context["saved_filters"] == []


def test_saved_filters_are_their_owners_alone(care):
    save(care, querystring="status__exact=new")
    saved = SavedFilter.objects.get()
    other = staff_client(CUSTOMER_CARE, username="otto")
    assert other.get(ORDERS).context["saved_filters"] == []
    assert other.post(f"/admin/saved-filters/{saved.pk}/delete/").status_code == 404
    assert SavedFilter.objects.exists()
    response = care.post(f"/admin/saved-filters/{saved.pk}/delete/")
    assert response.status_code == 302
    assert response["Location"] == ORDERS
    assert not SavedFilter.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"list_key": "nothing.here"},
        {"list_key": "orders"},
        {"list_key": "auth.permission"},  # not a list of the admin
        {"name": ""},
        {"name": "x" * 81},
        {"querystring": "a=" + "b" * 2000},
    ],
)
def test_bad_input_saves_nothing(care, data):
    response = save(care, **data)
    assert response.status_code == 400
    assert "not saved" in response.content.decode()
    assert not SavedFilter.objects.exists()


def test_a_list_one_may_not_see_cannot_be_saved(db):
    warehouse = staff_client(WAREHOUSE, username="wanda")
    response = warehouse.post(SAVE, {"list_key": "auth.user", "name": "Everyone"})
    assert response.status_code == 400
    assert not SavedFilter.objects.exists()


def test_saving_is_a_post(care):
    assert care.get(SAVE).status_code == 405
