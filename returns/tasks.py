"""Thin Celery entry points of returns: ids in, one service call."""

from __future__ import annotations

from typing import Any

from oms.tasks import oms_task


@oms_task(name="returns.refund_execute")
def refund_execute(refund_id: int, **_: Any) -> str:
    from returns.services import refund_execute as execute

    return execute(refund=refund_id).status
