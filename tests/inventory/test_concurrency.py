"""Never oversell: real threads hammer scarce stock with reservations, releases and adjustments.

On PostgreSQL the threads run truly in parallel (row locks decide); on SQLite the IMMEDIATE
transactions serialise them. Either way: reserved never exceeds on hand, nothing goes negative,
successful reservations add up to `reserved`, the ledger equals the levels, and no deadlock.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest
from django.db import connection, connections

from inventory import services
from inventory.models import Reservation, StockLevel
from inventory.selectors import ledger_drift
from inventory.services import ReservationRequest
from oms.errors import Conflict, InsufficientStock
from tests.factories import LocationFactory, SkuFactory

THREADS = 8


def _sampler(stop: float, violations: list[str]) -> None:
    """Until `stop`, records every level seen with more reserved than on hand, or negative."""
    try:
        while time.monotonic() < stop:
            for on_hand, reserved in StockLevel.objects.values_list("on_hand", "reserved"):
                if reserved > on_hand or on_hand < 0 or reserved < 0:
                    violations.append(f"on_hand={on_hand} reserved={reserved}")
            time.sleep(0.01)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_concurrent_reserve_release_adjust_never_oversells():
    seconds = 4.0 if connection.vendor == "postgresql" else 2.0
    skus = [SkuFactory(), SkuFactory()]
    locations = [LocationFactory(), LocationFactory()]
    for sku in skus:
        for location in locations:
            services.stock_adjust(sku=sku, location=location, kind="receipt", quantity=6)
    pairs = [(s.pk, loc.pk) for s in skus for loc in locations]

    errors: list[BaseException] = []
    violations: list[str] = []
    received = Counter()  # (sku, loc) -> net on-hand change by adjustments
    reserved_by_thread: list[Counter] = [Counter() for _ in range(THREADS)]
    outcome = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        rng = random.Random(index)
        held: list[int] = []  # order line ids this thread holds stock for
        next_line = index * 1_000_000
        try:
            while time.monotonic() < stop:
                roll = rng.random()
                try:
                    if roll < 0.5:
                        next_line += 1
                        # Two lines across SKUs and locations in random order: deadlock bait.
                        chosen = rng.sample(pairs, 2)
                        requests = [
                            ReservationRequest(
                                next_line, next_line * 10 + i, s, loc, rng.randint(1, 3)
                            )
                            for i, (s, loc) in enumerate(chosen)
                        ]
                        services.stock_reserve(requests=requests)
                        for r in requests:
                            reserved_by_thread[index][(r.sku_id, r.location_id)] += r.quantity
                            held.append(r.order_line_id)
                        outcome["reserved"] += 1
                    elif roll < 0.75 and held:
                        line = held.pop(rng.randrange(len(held)))
                        for res in Reservation.objects.filter(order_line_id=line, quantity__gt=0):
                            reserved_by_thread[index][(res.sku_id, res.location_id)] -= res.quantity
                        services.stock_release(order_line_id=line, reason="test")
                        outcome["released"] += 1
                    else:
                        sku_id, loc_id = rng.choice(pairs)
                        delta = rng.choice([-2, -1, 1, 2, 3])
                        kind = "receipt" if delta > 0 else "damage"
                        services.stock_adjust(
                            sku=skus[0] if skus[0].pk == sku_id else skus[1],
                            location=locations[0] if locations[0].pk == loc_id else locations[1],
                            kind=kind,
                            quantity=delta,
                        )
                        with lock:
                            received[(sku_id, loc_id)] += delta
                        outcome["adjusted"] += 1
                except (InsufficientStock, Conflict):
                    outcome["refused"] += 1
        except BaseException as exc:  # a deadlock or an integrity error fails the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    threads.append(threading.Thread(target=_sampler, args=(stop, violations)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"

    assert errors == []
    assert violations == []
    assert outcome["reserved"] > 10, outcome  # contended ...
    assert outcome["refused"] > 0, outcome  # ... and scarce
    for sku_id, loc_id in pairs:
        level = StockLevel.objects.get(sku_id=sku_id, location_id=loc_id)
        expected_reserved = sum(c[(sku_id, loc_id)] for c in reserved_by_thread)
        assert level.reserved == expected_reserved
        held = Reservation.objects.filter(sku_id=sku_id, location_id=loc_id)
        assert level.reserved == sum(r.quantity for r in held)
        assert level.on_hand == 6 + received[(sku_id, loc_id)]
        assert 0 <= level.reserved <= level.on_hand
    assert ledger_drift() == []
