"""Logging that an operator can read, and that a log pipeline can parse.

Invariants:
- only INFO (and lower) lines of Celery about the housekeeping tasks below are dropped (sent by
  beat, received, succeeded): their failures, and every line of real work (a sync, a push, a
  label, an e-mail), stay. A housekeeping task that did something says so itself;
- production writes one JSON object per line (structlog, OMS_LOG_FORMAT=json, the default when
  DEBUG is off), development the plain lines it always had; both carry the same context;
- the context of a line is the request that caused it (`request_id`, from the request's
  X-Request-ID or a new one), the order it is about (`order_number`, where there is one) and,
  in a worker, the task (`task`, `task_id`). The request id and the order number travel with
  every outbox message a request writes (oms.outbox stores them), so the worker's lines of a
  task that a request caused carry that request's id.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any

import structlog

#: The context keys an outbox message or a Celery message carries from its cause to its task.
CARRIED = ("request_id", "order_number")
#: An X-Request-ID we accept from a client or a proxy; anything else gets a new id.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_new(given: str | None = None) -> str:
    """The id of a request: the caller's X-Request-ID when it is a plain token, else new."""
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def log_context() -> dict[str, Any]:
    """What the current context carries to the tasks it causes (request id, order number)."""
    bound = structlog.contextvars.get_contextvars()
    return {key: bound[key] for key in CARRIED if bound.get(key) not in (None, "")}


def log_bind(**values: Any) -> None:
    """Add to the context of this thread's log lines (values that are None are left out)."""
    structlog.contextvars.bind_contextvars(
        **{key: value for key, value in values.items() if value is not None}
    )


def log_order(number: Any) -> None:
    """The lines from here on (this request, this task) are about order `number`. Outside a
    request or a task (a shell, a management command) nothing is bound: no scope would end it,
    and a later order's messages would carry this one's number."""
    bound = structlog.contextvars.get_contextvars()
    if number and ("request_id" in bound or "task" in bound):
        structlog.contextvars.bind_contextvars(order_number=str(number))


def log_context_set(context: Mapping[str, Any] | None, **values: Any) -> None:
    """Start a fresh context (a task beginning): the carried keys of `context`, then `values`."""
    structlog.contextvars.clear_contextvars()
    carried = {key: context[key] for key in CARRIED if context and context.get(key)}
    log_bind(**carried, **values)


def log_context_clear() -> None:
    structlog.contextvars.clear_contextvars()


# --- formatting -------------------------------------------------------------------------------

#: What every line gets, from a structlog logger or a standard one (Django's, Celery's, ours).
_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
]


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, logger, event, the context, the exception."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
    )


class PlainFormatter(logging.Formatter):
    """The development line: time, level, logger, message, and then the context in brackets
    (`[request_id=... order_number=...]`) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        bound = structlog.contextvars.get_contextvars()
        shown = " ".join(
            f"{key}={bound[key]}" for key in ("request_id", "order_number") if bound.get(key)
        )
        return f"{line} [{shown}]" if shown else line


def structlog_configure() -> None:
    """structlog's own loggers hand their events to the standard library's handlers, so the
    two kinds of logger write the same lines (called once, from the settings)."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


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
