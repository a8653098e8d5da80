"""Benchmark: webhook fan-out, BENCH_WEBHOOK_EVENTS (10,000) events to BENCH_WEBHOOK_ENDPOINTS
(10) endpoints (webhooks/: recording, then deliveries through the outbox).

Set-up: 100 stock levels; a local receiver (a threaded HTTP server in this process answering
204) and the endpoints, all subscribed to everything. The events are recorded in transactions
of 500 (`events_record`, as the worker records the events its outbox messages noted: one
statement each for those recorded already, the representations, the events, the deliveries and
their outbox messages), held in the outbox (nothing published).
Then BENCH_WEBHOOK_WORKERS threads (4 on PostgreSQL, 1 on SQLite: one writer at a time) run the
`webhooks.deliver` messages as workers do (claim the message, claim the delivery under the
endpoint's lock, sign, POST, record, mark the message done) for at most BENCH_WEBHOOK_SECONDS
(60): `make bench` must fit in about 3 minutes, so on a slow machine only part of the
deliveries is sent and the rate is measured over those.

Prints events recorded per second (with their fan-out), deliveries per second and the
throughput as a ratio to the baseline of ARCHITECTURE.md measured in the same run (one order,
three lines, three StockLevel rows locked and updated in one transaction; bench/_common.py).

PostgreSQL is the reference (SQLite runs too):
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench \
        .venv/bin/python bench/webhooks_fanout.py
"""

from __future__ import annotations

import os
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from _common import (
    baseline_latency,
    baseline_levels,
    describe_database,
    make_locations,
    make_skus,
    p50,
    ratio,
    record,
    stock_up,
    test_database,
)
from django.db import connection, connections

EVENTS = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "10000"))
ENDPOINTS = int(os.environ.get("BENCH_WEBHOOK_ENDPOINTS", "10"))
SECONDS = float(os.environ.get("BENCH_WEBHOOK_SECONDS", "60"))
BATCH = 500


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    received = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        with Receiver.lock:
            Receiver.received += 1
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def record_events(level_ids: list[int]) -> float:
    """Record EVENTS events (batches of BATCH per transaction); seconds taken."""
    from django.db import transaction

    from oms.outbox import outbox_held
    from webhooks.services import Raised, events_record

    started = time.perf_counter()
    done = 0
    with outbox_held():
        while done < EVENTS:
            size = min(BATCH, EVENTS - done)
            with transaction.atomic():
                events_record(
                    Raised(
                        "stock.changed",
                        "stock_level",
                        level_ids[(done + k) % len(level_ids)],
                        done + k + 1,  # the sequence (in service: the outbox message's id)
                    )
                    for k in range(size)
                )
            done += size
    return time.perf_counter() - started


def deliver(workers: int) -> tuple[int, float]:
    """Run the deliveries' outbox messages in `workers` threads for at most SECONDS; (how many
    deliveries succeeded, seconds)."""
    from oms.models import OutboxMessage
    from oms.outbox import OUTBOX_KWARG, task_by_name
    from webhooks.models import WebhookDelivery

    task = task_by_name("webhooks.deliver")
    todo: queue.Queue[tuple[int, dict]] = queue.Queue()
    for pk, kwargs in (
        OutboxMessage.objects.filter(task="webhooks.deliver", state="pending")
        .order_by("pk")
        .values_list("pk", "kwargs")
    ):
        todo.put((pk, kwargs))
    deadline = time.perf_counter() + SECONDS
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while time.perf_counter() < deadline:
                try:
                    pk, kwargs = todo.get_nowait()
                except queue.Empty:
                    return
                task(**kwargs, **{OUTBOX_KWARG: pk})
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return WebhookDelivery.objects.filter(status="succeeded").count(), elapsed


def main() -> None:
    from django.conf import settings

    settings.OMS_WEBHOOKS_ALLOW_PRIVATE = True
    settings.OMS_WEBHOOKS_MAX_IN_FLIGHT = 1000  # the limit is tested elsewhere; measure the path
    from webhooks import models as webhook_models
    from webhooks.services import endpoint_create

    webhook_models.STOCK_COALESCE_SECONDS = 0.0  # every event its own (no folding of the stream)
    sqlite = connection.vendor == "sqlite"
    workers = int(os.environ.get("BENCH_WEBHOOK_WORKERS", "1" if sqlite else "4"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        with test_database():
            # The local receiver speaks http: allowed in development only (test_database
            # turned DEBUG off). Worker threads keep no query log (they open their own
            # connections; the log is bounded anyway).
            settings.DEBUG = True
            base_ids = baseline_levels(30)
            skus = make_skus(100, "WH")
            stock_up(skus, make_locations(1, "WH"), lambda i, j: 10)
            from inventory.models import StockLevel

            levels = list(
                StockLevel.objects.filter(sku__in=skus).order_by("pk").values_list("pk", flat=True)
            )
            for n in range(ENDPOINTS):
                endpoint_create(url=f"{url}?n={n}", description=f"bench {n}")
            before, _ = baseline_latency(base_ids)
            recording_s = record_events(levels)
            delivered, delivering_s = deliver(workers)
            after, _ = baseline_latency(base_ids)
            base_ms = (p50(before) + p50(after)) / 2
            base_rate = 1000 / base_ms
            fanout = EVENTS * ENDPOINTS
            events_rate = EVENTS / recording_s
            rate = delivered / delivering_s
            print(
                f"webhooks fan-out on {describe_database()}: {EVENTS} events to {ENDPOINTS} "
                f"endpoints ({fanout} deliveries), {workers} delivery thread(s), local receiver"
            )
            print(
                f"  recorded {events_rate:8.0f} events/s with their deliveries  "
                f"{ratio(events_rate, base_rate)}"
            )
            print(
                f"  delivered {delivered} of {fanout} in {delivering_s:.1f} s: {rate:8.0f} "
                f"deliveries/s  {ratio(rate, base_rate)}  (receiver got {Receiver.received})"
            )
            record(
                "events recorded with their fan-out",
                events_rate,
                "events/s",
                base_rate,
                "baseline tx/s",
                higher_is_better=True,
            )
            record(
                "webhook deliveries",
                rate,
                "deliveries/s",
                base_rate,
                "baseline tx/s",
                higher_is_better=True,
                note=f"{delivered} of {fanout} in {delivering_s:.0f} s, {workers} thread(s)",
            )
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
