"""The embedded broker (oms/broker.py): concurrent producers and consumers in real processes pass
every message exactly once, a bad file is set aside without stopping the consumer, and a real
Celery worker runs a task through it."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from oms.broker import BAD_FOLDER, Transport
from oms.models import IdempotencyKey
from oms.tasks import idempotency_keys_purge
from tests.conftest import in_process_worker, point_celery_at
from tests.factories import UserFactory
from tests.oms.broker_race import CONSUMERS, MESSAGES, PRODUCERS, QUEUE, connect, run_race


def test_two_producers_and_two_consumers_pass_every_message_exactly_once(tmp_path: Path):
    outcome = run_race(str(tmp_path))
    print(outcome)
    assert outcome["exit_codes"] == [0] * (PRODUCERS + CONSUMERS)
    assert outcome["errors"] == []
    assert outcome["lost"] == outcome["duplicated"] == outcome["unexpected"] == 0
    assert sum(outcome["per_consumer"]) == MESSAGES
    # Nothing is left behind: not in the queue, not half-written, not claimed.
    queue = tmp_path / "queue"
    assert [p.name for p in queue.iterdir() if p.is_file()] == []
    for sub in ("tmp", "claimed", BAD_FOLDER):
        assert list((queue / sub).iterdir()) == []


@pytest.mark.parametrize(
    ("name", "content"),
    [("invalid-json", b'{"body": "unterminated'), ("empty", b""), ("not-a-message", b"[1, 2]")],
)
def test_an_unreadable_file_is_set_aside_and_the_next_message_still_arrives(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, content: bytes
):
    folder = str(tmp_path)
    with connect(folder) as conn:
        queue = conn.SimpleQueue(QUEUE)
        # Named to sort before any message the transport writes: it is taken first.
        bad_name = f"{0:015d}_{name}.{QUEUE}.msg"
        (tmp_path / "queue" / bad_name).write_bytes(content)
        queue.put({"id": "after"})
        with caplog.at_level(logging.WARNING, logger="oms.broker"):
            message = queue.get(timeout=5)
        message.ack()
        queue.close()
    assert message.payload == {"id": "after"}
    assert (tmp_path / "queue" / BAD_FOLDER / bad_name).read_bytes() == content
    assert not (tmp_path / "queue" / bad_name).exists()
    warnings = [r for r in caplog.records if r.name == "oms.broker"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert bad_name in warnings[0].getMessage()


@pytest.fixture
def embedded_broker(tmp_path, monkeypatch):
    """The embedded broker as `make run` configures it, whatever broker the tests are given."""
    return point_celery_at(
        "filesystem://localhost//", "oms.broker:Transport", tmp_path, monkeypatch
    )


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_runs_a_task_sent_through_the_embedded_broker(embedded_broker):
    IdempotencyKey.objects.create(
        user=UserFactory(),
        key="stale",
        method="POST",
        path="/api/v1/skus/",
        request_hash="0" * 64,
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    with in_process_worker(embedded_broker, ["default"]) as worker:
        assert isinstance(worker.consumer.connection.transport, Transport)
        idempotency_keys_purge.delay()
        deadline = time.monotonic() + 30
        while IdempotencyKey.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    assert not IdempotencyKey.objects.exists()
    with embedded_broker.connection_for_write() as conn:
        assert conn.get_transport_cls() is Transport
    assert str(embedded_broker.conf.broker_url) == "filesystem://localhost//"
