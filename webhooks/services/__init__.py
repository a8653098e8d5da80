"""Every write of the webhooks app (see the package docstring)."""

from webhooks.services.delivery import delivery_attempt, delivery_redeliver
from webhooks.services.endpoints import (
    endpoint_create,
    endpoint_delete,
    endpoint_disable,
    endpoint_enable,
    endpoint_rotate_secret,
    endpoint_update,
    url_problem,
)
from webhooks.services.housekeeping import endpoint_disabled_notify, events_prune
from webhooks.services.recording import (
    Raised,
    event_record,
    events_record,
    events_record_messages,
)

__all__ = [
    "Raised",
    "delivery_attempt",
    "delivery_redeliver",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_disable",
    "endpoint_disabled_notify",
    "endpoint_enable",
    "endpoint_rotate_secret",
    "endpoint_update",
    "event_record",
    "events_prune",
    "events_record",
    "events_record_messages",
    "url_problem",
]
