"""Thin Celery entry points of subscriptions: ids in, one service call (each safe to run twice)."""

from __future__ import annotations

from typing import Any

from oms.tasks import oms_task


@oms_task(name="subscriptions.renew_due")
def renew_due(**_: Any) -> dict[str, int]:
    """Beat, every minute: claim the due subscriptions and the due payment retries."""
    from subscriptions.services import subscriptions_renew_due

    run = subscriptions_renew_due()
    return {"claimed": run.claimed, "retries": run.retries}


@oms_task(name="subscriptions.renewal_process")
def renewal_process(renewal_id: int, **_: Any) -> str:
    from subscriptions.services import renewal_process as process

    return process(renewal_id=renewal_id).status


@oms_task(name="subscriptions.email_send")
def email_send(
    subscription_id: int, kind: str, renewal_id: int | None = None, attempt: int = 0, **_: Any
) -> bool:
    from subscriptions.notifications import subscription_email_send

    return subscription_email_send(
        subscription_id=subscription_id, kind=kind, renewal_id=renewal_id, attempt=attempt
    )


@oms_task(name="subscriptions.reminders_send")
def reminders_send(**_: Any) -> int:
    """Beat: the upcoming-renewal e-mails that are due (N days before, per channel)."""
    from subscriptions.notifications import subscription_reminders_enqueue

    return subscription_reminders_enqueue()
