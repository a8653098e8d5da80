"""Which process is this, and is that one still alive: the identities of the processes that
hold leases (outbox claims, channel syncs), the heartbeats of Celery workers and beat, and the
liveness check behind every lease.

Invariants:
- an identity names one process incarnation: host, pid and the process's start time, so a pid
  reused after a restart is another identity;
- a holder on this host is dead exactly when its process is gone; a holder on another host is
  dead when the heartbeat of its worker stopped or is older than
  OMS_WORKER_HEARTBEAT_STALE_SECONDS; a holder that names no worker (a web process, a
  management command) elsewhere is alive until its lease expires;
- a holder that names nobody is alive until its lease expires;
- the heartbeat thread writes only its own row, on its own connection, and never raises.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from dataclasses import dataclass

from django.conf import settings
from django.db import connections
from django.utils import timezone

logger = logging.getLogger(__name__)

HOSTNAME = socket.gethostname()

HOLDER_MAX = 300
_own: tuple[int, str] | None = None
#: The identity of the Celery worker (or beat) main process, inherited by its pool processes.
_worker_identity = ""


def _start_time(pid: int) -> str:
    """The start time of a process in clock ticks since boot ("" when there is no such process,
    "0" where /proc cannot tell)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The command name may hold spaces and parentheses: split after its last ")".
            return stat.read().rsplit(")", 1)[1].split()[19]
    except FileNotFoundError:
        return ""
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return ""
        except PermissionError:
            pass
        return "0"


def process_identity() -> str:
    """This process: "host:pid:start"."""
    global _own
    pid = os.getpid()
    if _own is None or _own[0] != pid:  # recomputed after a fork
        _own = (pid, f"{HOSTNAME}:{pid}:{_start_time(pid) or '0'}")
    return _own[1]


def worker_identity_set(identity: str) -> None:
    global _worker_identity
    _worker_identity = identity


def holder_identity() -> str:
    """Who holds a lease taken now: this process, and the worker it serves when there is one."""
    own = process_identity()
    # Kept whole in the 300 characters the holder columns have (host names are at most 64).
    return (f"{own}@{_worker_identity}" if _worker_identity else own)[:HOLDER_MAX]


@dataclass(frozen=True)
class Identity:
    host: str
    pid: int
    start: str

    @classmethod
    def parse(cls, text: str) -> Identity | None:
        parts = text.rsplit(":", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        return cls(host=parts[0], pid=int(parts[1]), start=parts[2])

    def on_this_host(self) -> bool:
        return self.host == HOSTNAME

    def process_alive(self) -> bool:
        """Only meaningful on this host."""
        current = _start_time(self.pid)
        if not current:
            return False
        return self.start in ("0", current) or current == "0"


def _stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=settings.OMS_WORKER_HEARTBEAT_STALE_SECONDS)


def holder_alive(holder: str, *, now: dt.datetime | None = None) -> bool:
    """Is the process that took a lease still there (see the module docstring)?"""
    from oms.models import WorkerHeartbeat

    if not holder:
        return True  # nobody named: only the lease can tell
    executor_text, _, worker_text = holder.partition("@")
    executor = Identity.parse(executor_text)
    if executor is None:
        return True  # not ours to judge: the lease decides
    if executor.on_this_host():
        return executor.process_alive()
    if not worker_text:
        return True
    beat = (
        WorkerHeartbeat.objects.filter(identity=worker_text)
        .values_list("seen_at", "stopped_at")
        .first()
    )
    if beat is None:
        return False
    seen_at, stopped_at = beat
    return stopped_at is None and seen_at >= (now or timezone.now()) - _stale_after()


# --- heartbeats -------------------------------------------------------------------------------


def heartbeat_beat(*, identity: str, role: str, nodename: str = "") -> None:
    """Record that the process `identity` is alive now (creates its row the first time)."""
    from oms.models import WorkerHeartbeat

    now = timezone.now()
    updated = WorkerHeartbeat.objects.filter(identity=identity).update(seen_at=now)
    if not updated:
        parsed = Identity.parse(identity)
        WorkerHeartbeat.objects.get_or_create(
            identity=identity,
            defaults={
                "role": role,
                "hostname": parsed.host if parsed else HOSTNAME,
                "pid": parsed.pid if parsed else os.getpid(),
                "nodename": nodename[:255],
                "started_at": now,
                "seen_at": now,
            },
        )


def heartbeat_stopped(identity: str) -> None:
    from oms.models import WorkerHeartbeat

    WorkerHeartbeat.objects.filter(identity=identity, stopped_at__isnull=True).update(
        stopped_at=timezone.now()
    )


def heartbeats_dead_on_this_host() -> list[str]:
    """Mark the processes of this host that are gone as stopped; returns their identities."""
    from oms.models import WorkerHeartbeat

    dead = []
    for identity in WorkerHeartbeat.objects.filter(
        hostname=HOSTNAME, stopped_at__isnull=True
    ).values_list("identity", flat=True):
        parsed = Identity.parse(identity)
        if parsed is not None and not parsed.process_alive():
            dead.append(identity)
    if dead:
        WorkerHeartbeat.objects.filter(identity__in=dead).update(stopped_at=timezone.now())
    return dead


def heartbeats_purge(*, older_than: dt.timedelta = dt.timedelta(days=7)) -> int:
    """Forget processes not seen for a week (their heartbeats and their task metrics)."""
    from oms.models import TaskMetrics, WorkerHeartbeat

    since = timezone.now() - older_than
    deleted, _ = WorkerHeartbeat.objects.filter(seen_at__lt=since).delete()
    purged, _ = TaskMetrics.objects.filter(updated_at__lt=since).delete()
    return deleted + purged


def processes_alive(*, now: dt.datetime | None = None) -> dict[str, int]:
    """How many processes of each role ("worker", "beat") beat now."""
    from django.db.models import Count

    from oms.models import WorkerHeartbeat

    fresh = (now or timezone.now()) - _stale_after()
    return dict(
        WorkerHeartbeat.objects.filter(stopped_at__isnull=True, seen_at__gte=fresh)
        .values_list("role")
        .annotate(n=Count("pk"))
        .values_list("role", "n")
    )


def processes_status(role: str, *, now: dt.datetime | None = None) -> dict[str, object]:
    """The liveness of the `role` processes ("worker" or "beat") for /healthz:

    - alive: beating within OMS_WORKER_HEARTBEAT_STALE_SECONDS;
    - dead: stopped beating without stopping cleanly, within the last
      OMS_HEALTH_DEAD_FORGET_SECONDS (a process killed, a host lost), listed by name;
    - status "ok" (all alive), "some_dead" (some alive, some dead), "down" (none alive, some
      dead: nothing runs the work) or "none" (none seen lately: not started yet, or stopped
      cleanly).
    """
    from oms.models import WorkerHeartbeat

    now = now or timezone.now()
    fresh = now - _stale_after()
    forget = now - dt.timedelta(seconds=settings.OMS_HEALTH_DEAD_FORGET_SECONDS)
    rows = list(
        WorkerHeartbeat.objects.filter(role=role, stopped_at__isnull=True, seen_at__gte=forget)
        .order_by("seen_at")
        .values_list("identity", "nodename", "seen_at")
    )
    alive = [r for r in rows if r[2] >= fresh]
    dead = [
        {
            "identity": identity,
            "name": nodename,
            "seen_seconds_ago": round((now - seen).total_seconds()),
        }
        for identity, nodename, seen in rows
        if seen < fresh
    ]
    status = ("some_dead" if dead else "ok") if alive else ("down" if dead else "none")
    return {"status": status, "alive": len(alive), "dead": dead}


class HeartbeatThread(threading.Thread):
    """Beats every OMS_WORKER_HEARTBEAT_SECONDS until stopped (a daemon: it dies with us)."""

    def __init__(self, *, identity: str, role: str, nodename: str = "") -> None:
        super().__init__(name=f"oms-heartbeat-{role}", daemon=True)
        self.identity, self.role, self.nodename = identity, role, nodename
        self.stopping = threading.Event()

    def run(self) -> None:
        interval = settings.OMS_WORKER_HEARTBEAT_SECONDS
        while True:
            try:
                heartbeat_beat(identity=self.identity, role=self.role, nodename=self.nodename)
            except Exception as exc:  # the database is away: the next beat tries again
                logger.info("Heartbeat of %s not recorded: %s", self.identity, exc)
            finally:
                connections.close_all()  # this thread's connections only
            if self.stopping.wait(interval):
                return

    def stop(self) -> None:
        self.stopping.set()
