"""The subscription timeline: one append-only SubscriptionEvent per fact."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from subscriptions.models import Subscription, SubscriptionEvent


def subscription_event_add(
    *, subscription: Subscription, kind: str, actor: str = "system", **data: Any
) -> SubscriptionEvent:
    """Append an event to the subscription's timeline (in the caller's transaction)."""
    return SubscriptionEvent.objects.create(
        subscription=subscription, kind=kind, actor=actor, data=data, created_at=timezone.now()
    )
