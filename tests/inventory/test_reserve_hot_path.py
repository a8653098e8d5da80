"""The reservation hot path (stock_reserve on PostgreSQL): one statement locks, guards and
updates the level rows and writes the movements, the reservations and the channels' pending
pushes; StockChanged's other writes (the webhook event) come before the rows are locked.

What must hold: the same writes as the general path, nothing written when a guard fails, and no
deadlock against the paths that lock levels then marks (adjustments, releases) on a SKU whose
locations feed a channel.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from channels.models import ChannelStockChange
from inventory import services
from inventory.models import Reservation, StockLevel, StockMovement
from inventory.selectors import ledger_drift
from inventory.services import ReservationRequest
from oms.errors import Conflict, InsufficientStock
from oms.models import OutboxMessage
from tests.factories import ChannelFactory, LocationFactory, SkuFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the one-statement hot path is PostgreSQL's"
)


@pytest.fixture
def shop(db):
    sku, other = SkuFactory(), SkuFactory()
    wh, store = LocationFactory(code="WH"), LocationFactory(code="STORE")
    channel = ChannelFactory()
    channel.locations.set([wh, store])
    for s in (sku, other):
        for loc in (wh, store):
            services.stock_adjust(sku=s, location=loc, kind="receipt", quantity=5)
    ChannelStockChange.objects.all().delete()
    OutboxMessage.objects.all().delete()
    return sku, other, wh, store, channel


def test_a_reservation_is_three_statements_between_its_savepoint_and_release(shop):
    sku, other, wh, _, channel = shop
    with CaptureQueriesContext(connection) as ctx:
        services.stock_reserve(
            requests=[
                ReservationRequest(1, 10, sku.pk, wh.pk, 2),
                ReservationRequest(1, 11, other.pk, wh.pk, 1),
            ]
        )
    sql = [q["sql"].split(" ", 1)[0] for q in ctx.captured_queries]
    listing = "\n".join(q["sql"][:150] for q in ctx.captured_queries)
    # The levels (one read), the webhook events (before any row is locked), the locking write.
    assert sql == ["SAVEPOINT", "SELECT", "INSERT", "WITH", "RELEASE"], listing
    assert "oms_outboxmessage" in ctx.captured_queries[2]["sql"]
    assert StockLevel.objects.get(sku=sku, location=wh).reserved == 2
    assert StockLevel.objects.get(sku=other, location=wh).reserved == 1
    assert sorted(Reservation.objects.values_list("order_line_id", "quantity")) == [
        (10, 2),
        (11, 1),
    ]
    assert StockMovement.objects.filter(kind="reservation").count() == 2
    marked = set(ChannelStockChange.objects.values_list("channel_id", "sku_id"))
    assert marked == {(channel.pk, sku.pk), (channel.pk, other.pk)}
    assert OutboxMessage.objects.filter(task="webhooks.event_record").count() == 2
    assert ledger_drift() == []


def test_a_second_reservation_renews_the_mark(shop):
    sku, _, wh, _, channel = shop
    services.stock_reserve(requests=[ReservationRequest(1, 10, sku.pk, wh.pk, 1)])
    first = ChannelStockChange.objects.get(channel=channel, sku=sku).token
    services.stock_reserve(requests=[ReservationRequest(2, 20, sku.pk, wh.pk, 1)])
    assert ChannelStockChange.objects.get(channel=channel, sku=sku).token != first


def test_a_refused_reservation_writes_nothing(shop):
    sku, other, wh, store, _ = shop
    with pytest.raises(InsufficientStock) as err:
        services.stock_reserve(
            requests=[
                ReservationRequest(1, 10, sku.pk, wh.pk, 5),
                ReservationRequest(1, 11, other.pk, store.pk, 6),
            ]
        )
    assert "STORE" in str(err.value)
    assert list(StockLevel.objects.values_list("reserved", flat=True)) == [0, 0, 0, 0]
    assert not Reservation.objects.exists()
    assert not StockMovement.objects.filter(kind="reservation").exists()
    assert not ChannelStockChange.objects.exists()
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_hot_reservations_and_adjustments_of_a_channel_sku_never_deadlock():
    """Reservations (levels locked, then the mark in the same statement) against adjustments
    and releases (levels, then the mark in a statement of its own) on the same rows."""
    skus = [SkuFactory(), SkuFactory()]
    locations = [LocationFactory(), LocationFactory()]
    channel = ChannelFactory()
    channel.locations.set(locations)
    for s in skus:
        for loc in locations:
            services.stock_adjust(sku=s, location=loc, kind="receipt", quantity=10**6)
    pairs = [(s, loc) for s in skus for loc in locations]
    errors: list[BaseException] = []
    done = {"reserved": 0, "adjusted": 0, "released": 0}
    lock = threading.Lock()
    stop = time.monotonic() + 3.0

    def worker(index: int) -> None:
        rng = random.Random(index)
        line = index * 10**6
        held: list[int] = []
        try:
            while time.monotonic() < stop:
                roll = rng.random()
                try:
                    if roll < 0.6:
                        line += 1
                        chosen = rng.sample(pairs, 2)  # random order: deadlock bait
                        services.stock_reserve(
                            requests=[
                                ReservationRequest(line, line * 10 + i, s.pk, loc.pk, 1)
                                for i, (s, loc) in enumerate(chosen)
                            ]
                        )
                        held += [line * 10, line * 10 + 1]
                        kind = "reserved"
                    elif roll < 0.8 and held:
                        services.stock_release(order_line_id=held.pop(), reason="test")
                        kind = "released"
                    else:
                        s, loc = rng.choice(pairs)
                        services.stock_adjust(sku=s, location=loc, kind="receipt", quantity=1)
                        kind = "adjusted"
                    with lock:
                        done[kind] += 1
                except (InsufficientStock, Conflict):
                    pass
        except BaseException as exc:  # a deadlock fails the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert done["reserved"] > 0, done
    assert done["adjusted"] > 0, done
    assert ledger_drift() == []
    reserved = sum(StockLevel.objects.values_list("reserved", flat=True))
    assert reserved == sum(Reservation.objects.values_list("quantity", flat=True))
    assert set(ChannelStockChange.objects.values_list("sku_id", flat=True)) == {s.pk for s in skus}
