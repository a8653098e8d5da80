"""Helpers of the demo loaders (manage.py demo_data): the clock their stories run on.

Invariant: only the demo loaders use this. Inside `story_at(moment)` every `timezone.now()`
(services, auto_now fields, the timeline, the ledger) answers `moment` plus the real time spent
inside, never later than the real now: an order placed twelve days ago was also routed,
shipped and delivered on the days its story says, and its timeline and scans agree. The side
effects a story writes to the outbox (a cancellation's refund, backorders served) run at the
end of the story, on its clock, here: a worker finds the past already done.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

from django.utils import timezone

from oms.outbox import outbox_drain, outbox_held, outbox_last_id

_real_now = timezone.now


@contextmanager
def story_at(moment: dt.datetime) -> Iterator[dt.datetime]:
    """Run the block as if it were `moment` (capped at now); yields the moment used."""
    started = _real_now()
    start = min(moment, started)

    def now() -> dt.datetime:
        real = _real_now()
        return min(start + (real - started), real)

    mark = outbox_last_id()
    with mock.patch("django.utils.timezone.now", now), outbox_held():
        yield start
        outbox_drain(after_id=mark)
