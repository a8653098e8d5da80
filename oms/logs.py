"""Logging that an operator can read: the routine beats of housekeeping stay out of the log.

Invariant: only INFO (and lower) lines of Celery about the housekeeping tasks below are dropped
(sent by beat, received, succeeded): their failures, and every line of real work (a sync, a
push, a label, an e-mail), stay. A housekeeping task that did something says so itself.
"""

from __future__ import annotations

import logging

#: Beat sends these every few seconds or minutes; most runs find nothing to do.
HOUSEKEEPING = (
    "oms.outbox_sweep",
    "oms.outbox_purge",
    "oms.idempotency_keys_purge",
    "channels.sync_due",
    "channels.stock_push_due",
    "channels.webhooks_sweep",
    "oms.inbox_sweep",
    "orders.route_stuck",
    "fulfilment.labels_recover",
    "fulfilment.tracking_poll",
    "returns.refunds_recover",
    "reports.rollups_refresh",
    "webhooks.events_prune",
    # Not beat's, but bookkeeping as routine: every change notes its integrator events, which
    # a worker then records (several per order; its deliveries, real work, stay in the log).
    "webhooks.event_record",
    "webhooks.events_drain",
)


class HousekeepingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        return not any(name in message for name in HOUSEKEEPING)
