"""Celery entry points of the reports app (one: the rollup refresh, every minute from beat).

Safe to run twice: a refresh recomputes whole days under the lock of its state row.
"""

from __future__ import annotations

from typing import Any

from oms.tasks import oms_task
from reports.services import rollups_refresh_due


@oms_task(name="reports.rollups_refresh", soft_time_limit=240, time_limit=300, max_retries=0)
def rollups_refresh(**_: Any) -> int:
    """Recompute the days touched since the last run; return how many."""
    return rollups_refresh_due()
