"""Channels through the API: locations by code, currency checks, write-only credentials."""

import pytest

from inventory.models import Channel
from tests.factories import ChannelFactory, LocationFactory


@pytest.fixture
def locations(db):
    return [LocationFactory(code="BER-WH"), LocationFactory(code="VNL-WH")]


@pytest.mark.django_db
def test_create_a_channel_with_locations_and_credentials(manager_api, locations):
    response = manager_api.post(
        "/api/v1/channels/",
        {
            "code": "shop-eu",
            "name": "Shop EU",
            "kind": "shopify",
            "currency": "eur",
            "locations": ["BER-WH", "VNL-WH"],
            "stock_buffer": 2,
            "credentials": {"access_token": "shpat_secret"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["currency"] == "EUR"
    assert body["locations"] == ["BER-WH", "VNL-WH"]
    assert body["has_credentials"] is True
    assert "credentials" not in body
    assert "shpat_secret" not in response.content.decode()
    channel = Channel.objects.get(code="shop-eu")
    assert "shpat_secret" not in channel.credentials_encrypted
    assert channel.credentials() == {"access_token": "shpat_secret"}


@pytest.mark.django_db
def test_credentials_never_appear_in_reads(manager_api, locations):
    channel = ChannelFactory()
    manager_api.patch(
        f"/api/v1/channels/{channel.id}/", {"credentials": {"key": "s3cr3t"}}, format="json"
    )
    for url in ("/api/v1/channels/", f"/api/v1/channels/{channel.id}/"):
        text = manager_api.get(url).content.decode()
        assert "s3cr3t" not in text
        assert "credentials_encrypted" not in text


@pytest.mark.django_db
def test_unknown_location_code_is_400_and_writes_nothing(manager_api, locations):
    response = manager_api.post(
        "/api/v1/channels/",
        {"code": "c", "name": "c", "kind": "api", "currency": "EUR", "locations": ["NOPE"]},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["locations"]
    assert not Channel.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("currency", ["EURO", "ZZZ", "XXX", "12"])
def test_a_currency_that_is_not_iso_4217_is_400(manager_api, currency):
    response = manager_api.post(
        "/api/v1/channels/",
        {"code": "c", "name": "c", "kind": "api", "currency": currency},
        format="json",
    )
    assert response.status_code == 400
    assert "currency" in response.json()["errors"]


@pytest.mark.django_db
def test_patch_replaces_the_locations(manager_api, locations):
    channel = ChannelFactory(locations=locations)
    response = manager_api.patch(
        f"/api/v1/channels/{channel.id}/", {"locations": ["VNL-WH"]}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["locations"] == ["VNL-WH"]


@pytest.mark.django_db
def test_duplicate_channel_code_is_400(manager_api):
    ChannelFactory(code="shop")
    response = manager_api.post(
        "/api/v1/channels/",
        {"code": "shop", "name": "again", "kind": "api", "currency": "EUR"},
        format="json",
    )
    assert response.status_code == 400
    assert "code" in response.json()["errors"]
    assert Channel.objects.count() == 1


@pytest.mark.django_db
def test_channel_list_uses_a_constant_number_of_queries(
    manager_api, locations, django_assert_max_num_queries
):
    for _ in range(20):
        ChannelFactory(locations=locations)
    with django_assert_max_num_queries(6):  # token, roles, perms x2, page, locations
        response = manager_api.get("/api/v1/channels/")
    results = response.json()["results"]
    assert len(results) == 20
    assert all(r["locations"] == ["BER-WH", "VNL-WH"] for r in results)
