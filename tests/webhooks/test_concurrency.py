"""Per-object sequence numbers under real concurrency (PostgreSQL: the threads run in
parallel): gap-free, unique, and increasing in commit order; the feed never steps over an
event whose transaction commits after a later one's."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections, transaction

from webhooks.models import Event, EventSequence
from webhooks.selectors import event_feed
from webhooks.services import Raised, events_record

THREADS = 8
ROUNDS = 10


def in_threads(work, count: int) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(n)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sequences_are_gap_free_and_follow_commit_order(network):
    from inventory.models import StockLevel
    from tests.webhooks.conftest import put

    put(network, "BER", "A", 1)
    put(network, "MUC", "A", 1)
    levels = list(StockLevel.objects.order_by("pk").values_list("pk", flat=True))
    Event.objects.all().delete()
    EventSequence.objects.all().delete()
    commits: list[tuple[int, int]] = []  # (level, sequence) in the order they committed
    lock = threading.Lock()

    def work(n: int) -> None:
        for r in range(ROUNDS):
            # Both levels, in an order that differs per thread: never a deadlock.
            pair = levels if (n + r) % 2 else list(reversed(levels))
            with transaction.atomic():
                recorded = events_record(Raised("order.held", "stock_level", pk) for pk in pair)
                time.sleep(0.002)
                with lock:  # held across the commit: the list is in commit order
                    transaction.on_commit(
                        lambda rec=recorded: commits.extend((e.object_id, e.sequence) for e in rec)
                    )

    assert in_threads(work, THREADS) == []
    for pk in levels:
        numbers = list(
            Event.objects.filter(object_type="stock_level", object_id=pk)
            .order_by("sequence")
            .values_list("sequence", flat=True)
        )
        assert numbers == list(range(1, THREADS * ROUNDS + 1))
        in_commit_order = [s for level, s in commits if level == pk]
        assert in_commit_order == sorted(in_commit_order)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_feed_waits_for_an_earlier_transaction_still_open(network):
    from tests.webhooks.conftest import put

    put(network, "BER", "A", 1)
    Event.objects.update(sealed=True)
    from inventory.models import StockLevel

    level = StockLevel.objects.get().pk
    started = threading.Event()
    release = threading.Event()

    def slow(_: int) -> None:
        with transaction.atomic():
            events_record([Raised("order.held", "stock_level", level)])
            started.set()
            release.wait(timeout=30)

    thread = threading.Thread(target=in_threads, args=(slow, 1))
    thread.start()
    assert started.wait(timeout=30)
    with transaction.atomic():  # a later transaction commits first
        later = events_record([Raised("order.released", "stock_level", level)])
    ids = [e.pk for e in event_feed()]
    assert later[0].pk not in ids  # behind the open transaction: not served yet
    release.set()
    thread.join(timeout=60)
    # Served once every transaction older than it has ended (the cluster's, other databases'
    # too: on a shared server that may take a moment).
    deadline = time.monotonic() + 60
    while later[0].pk not in (ids := [e.pk for e in event_feed()]):
        assert time.monotonic() < deadline, "the feed never served the later event"
        time.sleep(0.2)
    assert len(ids) == Event.objects.count()
    first_slow = Event.objects.filter(type="order.held").get().pk
    assert ids.index(first_slow) < ids.index(later[0].pk)
