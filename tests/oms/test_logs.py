"""The routine of housekeeping stays out of the log; failures and real work stay in."""

from __future__ import annotations

import logging

from oms.logs import HousekeepingFilter


def record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("celery.app.trace", level, __file__, 1, message, None, None)


def test_routine_sweeps_are_dropped_and_everything_else_kept():
    keep = HousekeepingFilter().filter
    assert not keep(record("Task oms.outbox_sweep[1f] succeeded in 0.003s: 0"))
    assert not keep(record("Scheduler: Sending due task outbox-sweep (oms.outbox_sweep)"))
    assert not keep(record("Task channels.stock_push_due[9a] received"))
    assert keep(record("Task channels.sync[1f] succeeded in 0.3s: {'run': 8}"))
    # An order notes several integrator events: recording them is routine, delivering is not.
    assert not keep(record("Task webhooks.event_record[2c] succeeded in 0.01s: 'recorded'"))
    assert not keep(record("Task reports.rollups_refresh[3d] received"))
    assert keep(record("Task webhooks.deliver[4e] succeeded in 0.2s: 'succeeded'"))
    assert keep(record("Task oms.outbox_sweep[1f] raised unexpected: OperationalError", 40))
