"""SKU prices through the API (/api/v1/sku-prices/): set, list and filter, change the amount,
remove; every bad input is a 400 (a duplicate a 409) problem that writes nothing."""

from decimal import Decimal

import pytest

from inventory.models import SkuPrice
from inventory.services import sku_price_set
from tests.factories import ChannelFactory, SkuFactory

URL = "/api/v1/sku-prices/"


@pytest.fixture
def catalogue(db):
    return {
        "beans": SkuFactory(code="BEANS"),
        "filters": SkuFactory(code="FILTERS"),
        "web": ChannelFactory(code="web", currency="EUR"),
        "jp": ChannelFactory(code="jp", currency="JPY"),
    }


def test_an_integrator_sets_a_default_and_a_channel_price(integrator_api, catalogue):
    default = integrator_api.post(
        URL, {"sku": "BEANS", "currency": "eur", "amount": "11.5"}, format="json"
    )
    assert default.status_code == 201, default.content
    body = default.json()
    assert (body["sku"], body["channel"], body["currency"], body["amount"]) == (
        "BEANS",
        None,
        "EUR",
        "11.50",
    )
    web = integrator_api.post(
        URL, {"sku": "BEANS", "channel": "web", "currency": "EUR", "amount": "10.00"}, format="json"
    )
    assert web.status_code == 201, web.content
    assert web.json()["channel"] == "web"
    assert integrator_api.get(f"{URL}{body['id']}/").json() == body
    assert SkuPrice.objects.count() == 2


def test_a_second_price_for_the_same_sku_channel_and_currency_is_a_409(manager_api, catalogue):
    price = sku_price_set(sku=catalogue["beans"], currency="EUR", amount=Decimal("11.00"))
    response = manager_api.post(
        URL, {"sku": "BEANS", "currency": "EUR", "amount": "12.00"}, format="json"
    )
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "price_exists"
    assert str(price.pk) in response.json()["detail"]
    assert SkuPrice.objects.get().amount == Decimal("11.00")


def test_patch_changes_the_amount_only_and_delete_removes(manager_api, catalogue):
    price = sku_price_set(
        sku=catalogue["beans"], channel=catalogue["web"], currency="EUR", amount=Decimal(9)
    )
    changed = manager_api.patch(f"{URL}{price.pk}/", {"amount": "9.99"}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["amount"] == "9.99"
    for body in ({"currency": "USD"}, {"sku": "FILTERS"}, {"channel": None}):
        refused = manager_api.patch(f"{URL}{price.pk}/", body, format="json")
        assert refused.status_code == 400, body
        assert refused["Content-Type"] == "application/problem+json"
    price.refresh_from_db()
    assert (price.sku_id, price.channel_id, price.currency, price.amount) == (
        catalogue["beans"].pk,
        catalogue["web"].pk,
        "EUR",
        Decimal("9.99"),
    )
    assert manager_api.delete(f"{URL}{price.pk}/").status_code == 204
    assert not SkuPrice.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sku": "NOPE", "currency": "EUR", "amount": "1.00"}, "sku"),
        ({"sku": "BEANS", "channel": "nope", "currency": "EUR", "amount": "1.00"}, "channel"),
        ({"sku": "BEANS", "currency": "XYZ", "amount": "1.00"}, "currency"),
        ({"sku": "BEANS", "currency": "EURO", "amount": "1.00"}, "currency"),
        ({"sku": "BEANS", "currency": "DEM", "amount": "1.00"}, "currency"),  # withdrawn
        ({"sku": "BEANS", "currency": "EUR", "amount": "0"}, "amount"),
        ({"sku": "BEANS", "currency": "EUR", "amount": "-1.00"}, "amount"),
        ({"sku": "BEANS", "currency": "EUR", "amount": 1.5}, "amount"),
        ({"sku": "BEANS", "currency": "EUR", "amount": "1.001"}, "amount"),
        ({"sku": "BEANS", "currency": "JPY", "amount": "100.5"}, "amount"),
        ({"sku": "BEANS", "currency": "EUR", "amount": "abc"}, "amount"),
        ({"sku": "BEANS", "currency": "EUR"}, "amount"),
        ({"sku": "BEANS", "currency": "EUR", "amount": "1.00", "extra": 1}, "extra"),
    ],
)
def test_bad_input_is_a_400_problem_that_writes_nothing(manager_api, catalogue, body, field):
    response = manager_api.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"], response.json()
    assert not SkuPrice.objects.exists()


def test_list_filters_by_sku_channel_currency_and_default(warehouse_api, catalogue):
    beans, filters, web = catalogue["beans"], catalogue["filters"], catalogue["web"]
    sku_price_set(sku=beans, currency="EUR", amount=Decimal("11.00"))
    sku_price_set(sku=beans, channel=web, currency="EUR", amount=Decimal("10.00"))
    sku_price_set(sku=filters, currency="USD", amount=Decimal("3.00"))

    def listed(query: str) -> list[tuple]:
        response = warehouse_api.get(f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return [(r["sku"], r["channel"], r["currency"]) for r in response.json()["results"]]

    assert listed("sku=BEANS") == [("BEANS", None, "EUR"), ("BEANS", "web", "EUR")]
    assert listed("channel=web") == [("BEANS", "web", "EUR")]
    assert listed("currency=usd") == [("FILTERS", None, "USD")]
    assert listed("default=true") == [("BEANS", None, "EUR"), ("FILTERS", None, "USD")]
    assert warehouse_api.get(f"{URL}?default=maybe").status_code == 400


def test_the_list_costs_the_same_queries_for_any_number_of_prices(
    warehouse_api, catalogue, django_assert_num_queries
):
    sku_price_set(sku=catalogue["beans"], currency="EUR", amount=Decimal(1))
    assert warehouse_api.get(URL).status_code == 200  # the first request fills the caches
    # The token with its user, the user's and the groups' permissions, the page (SKU, channel).
    with django_assert_num_queries(4):
        assert len(warehouse_api.get(URL).json()["results"]) == 1
    for sku in SkuFactory.create_batch(3):
        sku_price_set(sku=sku, channel=catalogue["web"], currency="EUR", amount=Decimal(2))
    with django_assert_num_queries(4):
        assert len(warehouse_api.get(URL).json()["results"]) == 4


def test_the_warehouse_reads_but_does_not_set_prices(warehouse_api, catalogue):
    response = warehouse_api.post(
        URL, {"sku": "BEANS", "currency": "EUR", "amount": "1.00"}, format="json"
    )
    assert response.status_code == 403
    assert not SkuPrice.objects.exists()
