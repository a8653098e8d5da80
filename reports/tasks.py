"""Celery entry points of the reports app (one: the rollup refresh, every minute from beat).

Safe to run twice: a refresh recomputes whole days under the lock of its state row.
"""

from __future__ import annotations

from typing import Any

from oms.tasks import oms_task
from reports.services import rollups_refresh_due
from reports.whatif import whatif_run_execute, whatif_run_fail


@oms_task(name="reports.rollups_refresh", soft_time_limit=240, time_limit=300, max_retries=0)
def rollups_refresh(**_: Any) -> int:
    """Recompute the days touched since the last run; return how many."""
    return rollups_refresh_due()


def _whatif_gave_up(kwargs: dict[str, Any], failure: str) -> None:
    whatif_run_fail(run_id=int(kwargs["run_id"]), error=failure)


@oms_task(
    name="reports.whatif_run",
    give_up=_whatif_gave_up,
    soft_time_limit=840,  # under the broker's visibility timeout (1,200 s)
    time_limit=900,
    max_retries=2,
)
def whatif_run(*, run_id: int, **_: Any) -> str:
    """Replay a what-if run (writes only the run's row); return its status."""
    return whatif_run_execute(run_id=run_id).status
