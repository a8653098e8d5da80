"""Delivered orders complete once their return window has closed (beat:
`returns.orders_complete`).

Only returns knows the return window (returns.selectors: the channel's `return_window_days`
from the latest arrival of the order's shipments), so the move lives here; the order's status
changes through orders' own service (`order_status_set`: the transition table and the
timeline's `status_changed` event).

Invariants:
- an order completes only when it is delivered, its window closed before `now`, it is not on
  hold (customer care is working on it) and it has no open return (requested, authorised,
  partially received or received: the return settles first, the next run completes the order);
- the work is done in bounded batches (keyset pagination by primary key), one transaction per
  batch; each batch locks its orders with SKIP LOCKED (what another run holds is left to it)
  and checks the rule again under the lock, so a run twice, or two runs at once, complete each
  order once and never one that a concurrent return reached first (return_create locks the
  order too).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from orders.models import Order
from orders.services import order_status_set
from orders.states import OrderStatus
from returns.selectors import orders_past_return_window

ACTOR = "system"
#: Orders per transaction, and transactions per run (the next run goes on from there).
BATCH_SIZE = 200
MAX_BATCHES = 50


def orders_complete_after_return_window(
    *,
    now: dt.datetime | None = None,
    batch_size: int = BATCH_SIZE,
    max_batches: int = MAX_BATCHES,
) -> int:
    """Complete the delivered orders whose return window has closed (see the module
    docstring); returns how many this run completed."""
    now = now or timezone.now()
    completed, after = 0, 0
    for _ in range(max_batches):
        batch = orders_past_return_window(now=now, after_pk=after, limit=batch_size)
        if not batch:
            break
        completed += _complete(batch, now=now)
        after = batch[-1]
        if len(batch) < batch_size:
            break
    return completed


@transaction.atomic
def _complete(order_ids: Sequence[int], *, now: dt.datetime) -> int:
    locked = list(
        Order.objects.select_for_update(skip_locked=True)
        .filter(pk__in=list(order_ids), status=OrderStatus.DELIVERED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not locked:
        return 0
    # The rule again, under the locks: a return or a hold may have come meanwhile.
    due = orders_past_return_window(now=now, order_ids=locked)
    for order_id in due:
        order_status_set(order=order_id, status=OrderStatus.COMPLETED, actor=ACTOR)
    return len(due)
