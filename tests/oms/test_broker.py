"""The embedded broker (oms/broker.py): concurrent producers and consumers in real processes pass
every message exactly once, and a bad file is set aside without stopping the consumer."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from oms.broker import BAD_FOLDER
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
