"""Celery entry points of the fulfilment app: ids in, one service call."""

from __future__ import annotations

from typing import Any

from oms.tasks import oms_task


@oms_task(name="fulfilment.backorders_reroute")
def backorders_reroute(*, sku_ids: list[int], **_: Any) -> int:
    from fulfilment.services.routing import backorders_reroute as reroute

    return reroute(sku_ids=sku_ids)
