"""Lease holders for tests of crash recovery (oms.workers): this process, a process of this host
that does not exist, and processes of another host."""

from __future__ import annotations

import os

from oms.workers import HOSTNAME, process_identity

#: A host that is not this one (holders there are judged by their worker's heartbeat).
OTHER_HOST = f"elsewhere-{HOSTNAME}"


def dead_pid() -> int:
    """A pid no process of this host has."""
    pid = 999_999
    while os.path.exists(f"/proc/{pid}"):
        pid += 1
    return pid


def dead_holder() -> str:
    """A process of this host that is gone (a worker that crashed)."""
    return f"{HOSTNAME}:{dead_pid()}:1"


def live_holder() -> str:
    """This process: alive for as long as the test runs."""
    return process_identity()
