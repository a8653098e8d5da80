"""Process identities, liveness of lease holders and the heartbeats of workers (oms.workers)."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from django.utils import timezone

from oms.models import WorkerHeartbeat
from oms.workers import (
    HOSTNAME,
    HeartbeatThread,
    heartbeat_beat,
    heartbeat_stopped,
    heartbeats_dead_on_this_host,
    holder_alive,
    holder_identity,
    process_identity,
    worker_identity_set,
)
from tests.holders import OTHER_HOST, dead_holder, dead_pid, live_holder

#: A worker of another host, and a process of its pool that holds a lease.
REMOTE_WORKER = f"{OTHER_HOST}:4242:1000"
REMOTE_HOLDER = f"{OTHER_HOST}:4250:1010@{REMOTE_WORKER}"


def test_process_identity_is_host_pid_and_start_time_and_stable():
    identity = process_identity()
    host, pid, start = identity.rsplit(":", 2)
    assert (host, int(pid)) == (HOSTNAME, os.getpid())
    assert start.isdigit()
    assert start != "0"  # /proc tells the start time here
    assert process_identity() == identity
    with open(f"/proc/{os.getpid()}/stat") as stat:
        assert stat.read().rsplit(")", 1)[1].split()[19] == start


def test_holder_identity_names_the_worker_the_process_serves(monkeypatch):
    monkeypatch.setattr("oms.workers._worker_identity", "")
    assert holder_identity() == process_identity()
    worker_identity_set(REMOTE_WORKER)  # restored by monkeypatch
    assert holder_identity() == f"{process_identity()}@{REMOTE_WORKER}"


@pytest.mark.django_db
def test_a_holder_of_this_host_is_alive_exactly_while_its_process_is():
    assert holder_alive(live_holder()) is True
    assert holder_alive(f"{live_holder()}@{REMOTE_WORKER}") is True  # its own process decides
    assert holder_alive(dead_holder()) is False
    assert holder_alive(f"{dead_holder()}@{live_holder()}") is False
    # The pid of this process under another start time: a reused pid is another process.
    assert holder_alive(f"{HOSTNAME}:{os.getpid()}:1") is False


def beat(identity: str, *, seen_ago: float = 0, stopped: bool = False) -> WorkerHeartbeat:
    now = timezone.now()
    host, pid, _ = identity.rsplit(":", 2)
    return WorkerHeartbeat.objects.create(
        identity=identity,
        hostname=host,
        pid=int(pid),
        seen_at=now - dt.timedelta(seconds=seen_ago),
        stopped_at=now if stopped else None,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("heartbeat", "alive"),
    [
        pytest.param({"seen_ago": 5}, True, id="fresh"),
        pytest.param({"seen_ago": 61}, False, id="stale"),
        pytest.param({"seen_ago": 5, "stopped": True}, False, id="stopped"),
        pytest.param(None, False, id="no-heartbeat"),
    ],
)
def test_a_holder_of_another_host_is_alive_while_its_worker_beats(settings, heartbeat, alive):
    settings.OMS_WORKER_HEARTBEAT_STALE_SECONDS = 60
    if heartbeat is not None:
        beat(REMOTE_WORKER, **heartbeat)
    assert holder_alive(REMOTE_HOLDER) is alive


@pytest.mark.django_db
def test_staleness_is_judged_at_the_moment_given(settings):
    settings.OMS_WORKER_HEARTBEAT_STALE_SECONDS = 60
    beat(REMOTE_WORKER, seen_ago=5)
    assert holder_alive(REMOTE_HOLDER, now=timezone.now() + dt.timedelta(seconds=30)) is True
    assert holder_alive(REMOTE_HOLDER, now=timezone.now() + dt.timedelta(seconds=90)) is False


@pytest.mark.django_db
def test_a_holder_that_names_no_worker_or_nobody_is_alive_and_the_lease_decides():
    assert holder_alive("") is True
    assert holder_alive(f"{OTHER_HOST}:4250:1010") is True  # a web process elsewhere
    assert holder_alive("not an identity") is True


@pytest.mark.django_db
def test_heartbeats_dead_on_this_host_marks_only_dead_local_processes_stopped():
    alive = beat(live_holder())
    gone = beat(dead_holder())
    reused = beat(f"{HOSTNAME}:{os.getpid()}:1")  # this pid, an earlier incarnation
    remote = beat(f"{OTHER_HOST}:{dead_pid()}:1")  # not ours to judge by pid
    already = beat(f"{HOSTNAME}:{dead_pid() + 1}:1", stopped=True)
    stopped_before = WorkerHeartbeat.objects.get(pk=already.pk).stopped_at

    assert sorted(heartbeats_dead_on_this_host()) == sorted([gone.identity, reused.identity])
    stopped = dict(WorkerHeartbeat.objects.values_list("identity", "stopped_at"))
    assert stopped[alive.identity] is None
    assert stopped[gone.identity] is not None
    assert stopped[reused.identity] is not None
    assert stopped[remote.identity] is None
    assert stopped[already.identity] == stopped_before
    assert heartbeats_dead_on_this_host() == []  # marked once


@pytest.mark.django_db
def test_a_beat_creates_the_row_once_then_moves_seen_at():
    identity = f"{HOSTNAME}:{os.getpid()}:123"
    heartbeat_beat(identity=identity, role="worker", nodename="celery@test")
    row = WorkerHeartbeat.objects.get(identity=identity)
    assert (row.hostname, row.pid, row.role, row.nodename) == (
        HOSTNAME,
        os.getpid(),
        "worker",
        "celery@test",
    )
    WorkerHeartbeat.objects.filter(pk=row.pk).update(
        seen_at=timezone.now() - dt.timedelta(minutes=5)
    )
    heartbeat_beat(identity=identity, role="worker")
    assert WorkerHeartbeat.objects.count() == 1
    assert (timezone.now() - WorkerHeartbeat.objects.get().seen_at).total_seconds() < 5
    heartbeat_stopped(identity)
    assert WorkerHeartbeat.objects.get().stopped_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_beats_until_stopped(settings):
    settings.OMS_WORKER_HEARTBEAT_SECONDS = 0.05
    identity = f"{HOSTNAME}:{os.getpid()}:thread-test"
    thread = HeartbeatThread(identity=identity, role="beat", nodename="beat")
    thread.start()
    try:
        seen: set[dt.datetime] = set()
        deadline = time.monotonic() + 5
        while len(seen) < 3 and time.monotonic() < deadline:
            row = WorkerHeartbeat.objects.filter(identity=identity).first()
            if row is not None:
                seen.add(row.seen_at)
            time.sleep(0.02)
        assert len(seen) >= 3, "the thread did not beat repeatedly"
    finally:
        thread.stop()
        thread.join(timeout=2)
    assert not thread.is_alive()
    assert thread.daemon
    row = WorkerHeartbeat.objects.get(identity=identity)
    assert (row.role, row.nodename, row.stopped_at) == ("beat", "beat", None)
    last = row.seen_at
    time.sleep(0.2)
    assert WorkerHeartbeat.objects.get(identity=identity).seen_at == last  # it stopped beating
