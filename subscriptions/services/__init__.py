"""Every write of the subscriptions app. Import services from here."""

from subscriptions.services.manage import (
    schedule_date,
    subscription_cancel,
    subscription_create,
    subscription_pause,
    subscription_resume,
    subscription_skip,
    subscription_update,
)
from subscriptions.services.renewals import (
    DueRun,
    renewal_process,
    subscription_renew,
    subscriptions_renew_due,
)
from subscriptions.services.timeline import subscription_event_add

__all__ = [
    "DueRun",
    "renewal_process",
    "schedule_date",
    "subscription_cancel",
    "subscription_create",
    "subscription_event_add",
    "subscription_pause",
    "subscription_renew",
    "subscription_resume",
    "subscription_skip",
    "subscription_update",
    "subscriptions_renew_due",
]
