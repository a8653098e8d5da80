"""Celery entry points of the inventory app: thin, stable-named, one service call each.

Invariant: every task is safe to run twice (the forecast refresh replaces the whole table in one
transaction and serializes concurrent runs).
"""

from __future__ import annotations

from typing import Any

from inventory.services.forecast import forecast_refresh as refresh_forecasts
from oms.tasks import oms_task


@oms_task(name="inventory.forecast_refresh")
def forecast_refresh(**_: Any) -> int:
    """Recompute every demand forecast (nightly from beat); return the rows written."""
    return refresh_forecasts()


def _count_job_gave_up(kwargs: dict[str, Any], failure: str) -> None:
    from oms.jobs import job_gave_up

    job_gave_up(kwargs, failure)


@oms_task(
    name="inventory.count_import_job",
    give_up=_count_job_gave_up,
    soft_time_limit=900,
    time_limit=960,
)
def count_import_job_task(*, job_id: int, **_: Any) -> str:
    """The back office's counts CSV, applied as a background job."""
    from inventory.services.count_import import count_import_job_run
    from oms.jobs import job_run

    return job_run(job_id, count_import_job_run)
