"""Under real concurrency (PostgreSQL: the threads run in parallel): the outbox messages of one
object's changes get increasing ids in commit order, so the events recorded from them are in
that order by sequence, whatever order the workers run them in; the feed never steps over an
event whose transaction commits after a later one's; workers never hold more deliveries to one
endpoint in flight than its limit."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections, transaction

from oms import events
from oms.models import OutboxMessage
from oms.outbox import OUTBOX_KWARG, outbox_batch, task_by_name
from orders.events import OrderHeld
from orders.services import order_get_for_update
from webhooks.models import Event
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
def test_sequences_increase_in_commit_order_whatever_order_the_workers_run(network):
    from tests.webhooks.conftest import order, put

    put(network, "BER", "A", 5)
    pk = order(lines={"A": 1}).pk
    Event.objects.all().delete()
    OutboxMessage.objects.all().delete()
    commits: list[str] = []  # the changes in the order they committed
    lock = threading.Lock()

    def work(n: int) -> None:
        for r in range(ROUNDS):
            with transaction.atomic(), outbox_batch():
                order_get_for_update(pk)  # as a service would: the next waits for the commit
                with lock:
                    commits.append(f"{n}-{r}")
                time.sleep(0.002)
                events.publish(OrderHeld(order_id=pk, reason=f"{n}-{r}"))

    assert in_threads(work, THREADS) == []
    messages = list(
        OutboxMessage.objects.filter(task="webhooks.event_record")
        .order_by("pk")
        .values_list("pk", "kwargs")
    )
    assert [kwargs["change"]["reason"] for _, kwargs in messages] == commits
    # Workers run them newest first: the sequences still tell the commit order.
    task = task_by_name("webhooks.event_record")
    for message_id, kwargs in reversed(messages):
        task(**kwargs, **{OUTBOX_KWARG: message_id})
    ids = [message_id for message_id, _ in messages]
    recorded = list(Event.objects.filter(object_type="order", object_id=pk).order_by("sequence"))
    assert [e.change["reason"] for e in recorded] == commits
    assert [e.sequence for e in recorded] == ids
    assert [e.pk for e in recorded] == sorted((e.pk for e in recorded), reverse=True)


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
            events_record([Raised("order.held", "stock_level", level, 10**9)])
            started.set()
            release.wait(timeout=30)

    thread = threading.Thread(target=in_threads, args=(slow, 1))
    thread.start()
    assert started.wait(timeout=30)
    with transaction.atomic():  # a later transaction commits first
        later = events_record([Raised("order.released", "stock_level", level, 10**9 + 1)])
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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_workers_never_have_more_than_the_limit_in_flight_to_one_endpoint(network, settings):
    """6 workers attempt 6 deliveries to one slow endpoint at once, the limit 2: the receiver
    never holds more than 2 requests at a time; the others are put back for later."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.webhooks.conftest import order, put
    from webhooks.models import WebhookDelivery
    from webhooks.services import delivery_attempt, endpoint_create

    settings.OMS_WEBHOOKS_MAX_IN_FLIGHT = 2
    state = {"now": 0, "most": 0}
    lock = threading.Lock()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
            time.sleep(0.5)
            with lock:
                state["now"] -= 1
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        endpoint, _ = endpoint_create(url=url, events=["order.created"], description="slow")
        put(network, "BER", "A", 10)
        for _ in range(6):
            order(lines={"A": 1})
        ids = list(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("pk", flat=True))
        assert len(ids) == 6
        outcomes: list[str] = []
        errors = in_threads(lambda n: outcomes.append(delivery_attempt(delivery_id=ids[n])), 6)
    finally:
        server.shutdown()
    assert not errors
    assert state["most"] <= 2, state
    assert sorted(o.split(":")[0] for o in outcomes).count("succeeded") >= 2, outcomes
    assert all(o == "succeeded" or o.startswith("busy") for o in outcomes), outcomes
