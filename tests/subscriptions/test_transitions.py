"""Every (from, to) pair of the subscription state table, through the services."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from oms.errors import InvalidTransition
from subscriptions import services
from subscriptions.models import Subscription, SubscriptionEvent
from subscriptions.services.manage import status_change
from subscriptions.states import TRANSITIONS, SubscriptionStatus

S = SubscriptionStatus
PAIRS = [(a, b) for a in S.values for b in S.values if a != b]


def _put(sub: Subscription, status: str) -> Subscription:
    Subscription.objects.filter(pk=sub.pk).update(status=status)
    sub.refresh_from_db()
    return sub


@pytest.mark.parametrize(("current", "target"), PAIRS)
def test_every_pair_follows_the_table(make_sub, current, target):
    sub = _put(make_sub(next_order_at=timezone.now() + dt.timedelta(days=1)), current)
    allowed = target in TRANSITIONS[current]
    if allowed:
        status_change(sub, target, actor="test", kind="test")
        sub.refresh_from_db()
        assert sub.status == target
        event = SubscriptionEvent.objects.filter(subscription=sub, kind="status_changed").last()
        assert event is not None
        assert event.data == {"from": current, "to": target}
    else:
        with pytest.raises(InvalidTransition):
            status_change(sub, target, actor="test", kind="test")
        sub.refresh_from_db()
        assert sub.status == current


COMMANDS = {
    "pause": (services.subscription_pause, {S.ACTIVE: S.PAUSED, S.PAUSED: S.PAUSED}),
    "resume": (
        services.subscription_resume,
        {S.PAUSED: S.ACTIVE, S.FAILED: S.ACTIVE, S.ACTIVE: S.ACTIVE},
    ),
    "cancel": (
        services.subscription_cancel,
        {
            S.ACTIVE: S.CANCELLED,
            S.PAUSED: S.CANCELLED,
            S.FAILED: S.CANCELLED,
            S.CANCELLED: S.CANCELLED,
        },
    ),
    "skip": (services.subscription_skip, {S.ACTIVE: S.ACTIVE, S.PAUSED: S.PAUSED}),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("current", S.values)
def test_commands_from_every_status(make_sub, command, current):
    service, outcomes = COMMANDS[command]
    sub = _put(make_sub(next_order_at=timezone.now() + dt.timedelta(days=1)), current)
    if current in outcomes:
        done = service(subscription=sub)
        assert done.status == outcomes[current]
    else:
        with pytest.raises(InvalidTransition):
            service(subscription=sub)
        sub.refresh_from_db()
        assert sub.status == current


def test_resume_after_a_long_pause_does_not_order_the_missed_periods(make_sub):
    start = timezone.now() - dt.timedelta(days=100)
    sub = make_sub(next_order_at=start, interval="week")
    services.subscription_pause(subscription=sub)
    resumed = services.subscription_resume(subscription=sub)
    assert timezone.now() < resumed.next_order_at <= timezone.now() + dt.timedelta(days=7)
    # still on the schedule: a whole number of weeks from the anchor
    assert (resumed.next_order_at - start) % dt.timedelta(weeks=1) == dt.timedelta(0)


def test_skip_moves_one_interval(make_sub):
    first = dt.datetime(2027, 1, 31, 9, 0, tzinfo=dt.UTC)
    sub = make_sub(next_order_at=first)
    sub = services.subscription_skip(subscription=sub)
    assert sub.next_order_at == dt.datetime(2027, 2, 28, 9, 0, tzinfo=dt.UTC)
    sub = services.subscription_skip(subscription=sub)
    assert sub.next_order_at == dt.datetime(2027, 3, 31, 9, 0, tzinfo=dt.UTC)
