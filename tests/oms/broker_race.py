"""Producer and consumer processes for tests/oms/test_broker.py, in a module of their own: a
spawned process imports it, and it must not import Django models (the child has no Django)."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import Counter
from queue import Empty
from typing import Any

from kombu import Connection

from oms.broker import Transport

QUEUE = "race"
PRODUCERS = 2
CONSUMERS = 2
MESSAGES = 5_000
#: A failure must not hang the suite: whatever is not done by then counts as lost.
DEADLINE_SECONDS = 90


def folder_options(folder: str) -> dict[str, Any]:
    return {
        "data_folder_in": os.path.join(folder, "queue"),
        "data_folder_out": os.path.join(folder, "queue"),
        "control_folder": os.path.join(folder, "control"),
        "processed_folder": os.path.join(folder, "processed"),
        "store_processed": False,
        "polling_interval": 0.01,
    }


def connect(folder: str, transport: Any = Transport) -> Connection:
    for path in ("queue", "control", "processed"):
        os.makedirs(os.path.join(folder, path), exist_ok=True)
    return Connection(transport=transport, transport_options=folder_options(folder))


def produce(folder: str, producer: int, count: int, transport: Any) -> None:
    with connect(folder, transport) as conn:
        queue = conn.SimpleQueue(QUEUE)
        for number in range(count):
            queue.put({"id": f"{producer}-{number}"})
        queue.close()


def consume(folder: str, producers_done: Any, results: Any, transport: Any) -> None:
    """Take messages until the producers are done and the queue is empty; report their ids."""
    received: list[str] = []
    error = ""
    try:
        with connect(folder, transport) as conn:
            queue = conn.SimpleQueue(QUEUE)
            while True:
                finished = producers_done.is_set()
                try:
                    message = queue.get(timeout=0.5)
                except Empty:
                    if finished:
                        break
                    continue
                received.append(message.payload["id"])
                message.ack()
            queue.close()
    except Exception as exc:  # reported to the parent, which shows it
        error = f"{type(exc).__name__}: {exc}"
    results.put((received, error))


def run_race(folder: str, transport: Any = Transport) -> dict[str, Any]:
    """PRODUCERS and CONSUMERS processes pass MESSAGES through one folder."""
    with connect(folder, transport) as conn:
        conn.SimpleQueue(QUEUE).close()  # the exchange table exists before the race starts
    context = multiprocessing.get_context("spawn")
    producers_done = context.Event()
    results = context.Queue()
    consumers = [
        context.Process(target=consume, args=(folder, producers_done, results, transport))
        for _ in range(CONSUMERS)
    ]
    producers = [
        context.Process(target=produce, args=(folder, n, MESSAGES // PRODUCERS, transport))
        for n in range(PRODUCERS)
    ]
    started = time.monotonic()
    for process in consumers + producers:
        process.start()
    for process in producers:
        process.join(timeout=DEADLINE_SECONDS)
    producers_done.set()
    reports = collect(results, consumers, started + DEADLINE_SECONDS)
    for process in consumers + producers:
        process.join(timeout=5)
        if process.is_alive():
            process.terminate()
    counts = Counter(message_id for received, _ in reports for message_id in received)
    expected = {f"{p}-{n}" for p in range(PRODUCERS) for n in range(MESSAGES // PRODUCERS)}
    return {
        "seconds": round(time.monotonic() - started, 1),
        "exit_codes": [process.exitcode for process in consumers + producers],
        "errors": [error for _, error in reports if error],
        "per_consumer": [len(received) for received, _ in reports],
        "lost": len(expected - set(counts)),
        "duplicated": sum(count - 1 for count in counts.values()),
        "unexpected": len(set(counts) - expected),
    }


def collect(results: Any, consumers: list[Any], deadline: float) -> list[tuple[list[str], str]]:
    """Each consumer's report, without waiting for one that died."""
    reports: list[tuple[list[str], str]] = []
    while len(reports) < len(consumers) and time.monotonic() < deadline:
        alive = any(process.is_alive() for process in consumers)
        try:
            reports.append(results.get(timeout=1))
        except Empty:
            if not alive:
                break
    return reports
