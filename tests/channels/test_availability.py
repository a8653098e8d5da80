"""Per-channel availability (after the buffer) and the pending changes that the stock push reads."""

import pytest

from channels.models import ChannelStockChange
from channels.selectors import channel_availability, channel_stock_changes
from channels.services import channel_stock_changes_ack
from inventory import services
from inventory.services import ReservationRequest
from tests.factories import ChannelFactory, LocationFactory, SkuFactory


@pytest.fixture
def setup(db):
    wh, store, closed, elsewhere = (
        LocationFactory(code="WH"),
        LocationFactory(code="STORE"),
        LocationFactory(code="CLOSED", is_active=False),
        LocationFactory(code="ELSEWHERE"),
    )
    shop = ChannelFactory(code="shop", stock_buffer=2, locations=[wh, store, closed])
    sku = SkuFactory(code="TEE")
    for location, quantity in ((wh, 5), (store, 3), (closed, 50), (elsewhere, 70)):
        services.stock_adjust(sku=sku, location=location, kind="receipt", quantity=quantity)
    return shop, sku, wh, store


def test_channel_availability_sums_active_locations_less_the_buffer(setup):
    shop, sku, wh, store = setup
    services.stock_reserve(requests=[ReservationRequest(1, 1, sku.pk, wh.pk, 1)])
    services.stock_level_set_thresholds(sku=sku, location=store, safety_stock=1)
    [row] = channel_availability(channel=shop, skus=[sku])
    assert row.locations == [("STORE", 2), ("WH", 4)]
    assert row.available == 4 + 2 - 2


def test_channel_availability_is_never_negative(setup):
    shop, sku, wh, store = setup
    services.stock_adjust(sku=sku, location=wh, kind="damage", quantity=-5)
    services.stock_adjust(sku=sku, location=store, kind="damage", quantity=-2)
    [row] = channel_availability(channel=shop, skus=[sku])
    assert row.available == 0


def test_availability_api_for_one_and_many_skus(manager_api, setup):
    response = manager_api.get("/api/v1/availability/?channel=shop&sku=TEE")
    assert response.status_code == 200
    assert response.json() == [
        {
            "sku": "TEE",
            "available": 6,
            "locations": [
                {"location": "STORE", "available": 3},
                {"location": "WH", "available": 5},
            ],
        }
    ]


def test_availability_of_1000_skus_in_a_constant_number_of_queries(
    manager_api, setup, django_assert_max_num_queries
):
    from inventory.models import Sku

    Sku.objects.bulk_create(Sku(code=f"BULK-{i}", name=f"b{i}") for i in range(999))
    codes = ",".join(["TEE", *(f"BULK-{i}" for i in range(999))])
    # + 1: the user's roles for the API budget (read once a minute per process).
    with django_assert_max_num_queries(8):
        response = manager_api.get("/api/v1/availability/", {"channel": "shop", "sku": codes})
    assert response.status_code == 200
    body = response.json()
    assert len(body) == 1000
    assert body[0]["available"] == 6
    assert body[1] == {
        "sku": "BULK-0",
        "available": 0,
        "locations": [{"location": "STORE", "available": 0}, {"location": "WH", "available": 0}],
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"sku": "TEE"}, "channel"),
        ({"channel": "nope", "sku": "TEE"}, "channel"),
        ({"channel": "shop"}, "sku"),
        ({"channel": "shop", "sku": "TEE,NOPE"}, "sku"),
        ({"channel": "shop", "sku": ",".join(f"S{i}" for i in range(1001))}, "sku"),
    ],
)
def test_bad_availability_queries_are_400(manager_api, setup, query, field):
    response = manager_api.get("/api/v1/availability/", query)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_every_stock_change_marks_the_channels_it_feeds(setup):
    shop, sku, wh, _store = setup
    other_channel = ChannelFactory(code="other", locations=[wh])
    pending = {c.sku_id for c in channel_stock_changes(channel=shop)}
    assert pending == {sku.pk}
    assert ChannelStockChange.objects.filter(channel=other_channel).count() == 0  # made before

    seen = [(c.sku_id, c.token) for c in channel_stock_changes(channel=shop)]
    services.stock_reserve(requests=[ReservationRequest(1, 1, sku.pk, wh.pk, 1)])
    # The reservation happened after the read: acknowledging the old token keeps the mark.
    assert channel_stock_changes_ack(channel=shop, seen=seen) == 0
    assert len(channel_stock_changes(channel=shop)) == 1
    assert ChannelStockChange.objects.filter(channel=other_channel, sku=sku).exists()

    fresh = [(c.sku_id, c.token) for c in channel_stock_changes(channel=shop)]
    assert channel_stock_changes_ack(channel=shop, seen=fresh) == 1
    assert channel_stock_changes(channel=shop) == []


def test_a_change_at_a_location_that_feeds_no_channel_marks_nothing(setup):
    _shop, sku, *_ = setup
    ChannelStockChange.objects.all().delete()
    elsewhere = LocationFactory(code="NOWHERE")
    services.stock_adjust(sku=sku, location=elsewhere, kind="receipt", quantity=1)
    assert not ChannelStockChange.objects.exists()


def test_a_failed_reservation_marks_nothing(setup):
    _shop, sku, wh, _ = setup
    ChannelStockChange.objects.all().delete()
    from oms.errors import InsufficientStock

    with pytest.raises(InsufficientStock):
        services.stock_reserve(requests=[ReservationRequest(1, 1, sku.pk, wh.pk, 99)])
    assert not ChannelStockChange.objects.exists()
