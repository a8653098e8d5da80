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
