"""Renewals: the beat claims due subscriptions and each period is ordered exactly once through
the one capture service (SUB-<number>-<sequence>), charged through the payment port, retried on
the dunning schedule, and routed like any order (backordered when out of stock)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from orders.models import Order
from returns.models import Payment
from subscriptions import services
from subscriptions.models import ChannelSubscriptionSettings, Subscription, SubscriptionRenewal
from subscriptions.tasks import renew_due
from tests.outbox import queued, run_outbox

PROCESS = "subscriptions.renewal_process"


def test_beat_claims_due_subscriptions_and_the_renewal_is_ordered_and_paid(make_sub):
    sub = make_sub()
    not_due = make_sub(next_order_at=timezone.now() + dt.timedelta(days=1))
    run = renew_due()
    assert run == {"claimed": 1, "retries": 0}
    assert queued(PROCESS) == [
        (PROCESS, {"renewal_id": SubscriptionRenewal.objects.get(subscription=sub).pk})
    ]
    run_outbox(PROCESS)
    order = Order.objects.get()
    assert order.external_id == f"SUB-{sub.number}-1"
    assert order.channel.code == "web"
    assert order.payment_status == "paid"
    assert order.status == "allocated"  # routed like any order once paid
    assert not order.is_on_hold
    assert str(order.total) == "32.9000"
    payment = Payment.objects.get(order=order)
    assert (payment.kind, payment.status) == ("capture", "succeeded")
    renewal = SubscriptionRenewal.objects.get(subscription=sub)
    assert (renewal.status, renewal.attempts, renewal.order_id) == ("paid", 1, order.pk)
    sub.refresh_from_db()
    assert sub.next_sequence == 2
    assert sub.next_order_at > timezone.now()
    assert not SubscriptionRenewal.objects.filter(subscription=not_due).exists()


def test_two_beats_a_retried_task_and_renew_give_one_order(make_sub):
    sub = make_sub()
    renew_due()
    renew_due()  # nothing is due any more
    renewal = SubscriptionRenewal.objects.get(subscription=sub)
    services.renewal_process(renewal_id=renewal.pk)
    services.renewal_process(renewal_id=renewal.pk)  # a retried task
    # a renew that was sent for the period the beat ordered returns that renewal
    again = services.subscription_renew(subscription=sub, sequence=1)
    assert again.pk == renewal.pk
    run_outbox(PROCESS)
    assert Order.objects.count() == 1
    assert Payment.objects.count() == 1


def test_out_of_stock_renewal_is_captured_and_backordered(make_sub, shop):
    sub = make_sub(lines=[{"sku": "BEANS-1", "quantity": 80, "unit_price": "12.50"}])
    renew_due()
    run_outbox(PROCESS)
    order = Order.objects.get(external_id=f"SUB-{sub.number}-1")
    assert order.status == "backordered"
    assert order.payment_status == "paid"


def test_dunning_retries_on_the_schedule_then_the_subscription_fails(make_sub, shop):
    ChannelSubscriptionSettings.objects.create(channel=shop["channel"], dunning_days=[1, 3, 7])
    due = timezone.now() - dt.timedelta(minutes=1)
    sub = make_sub(payment_reference="decline_card", next_order_at=due)
    renew_due()
    run_outbox(PROCESS)
    renewal = SubscriptionRenewal.objects.get(subscription=sub)
    order = renewal.order
    assert order is not None
    assert order.payment_status == "pending"
    assert order.is_on_hold  # held payment_pending, never shipped unpaid
    assert (renewal.status, renewal.attempts) == ("payment_due", 1)
    assert renewal.next_attempt_at == renewal.due_at + dt.timedelta(days=1)
    expected = [renewal.due_at + dt.timedelta(days=d) for d in (3, 7)]
    for attempt, retry_at in enumerate(expected, start=2):
        # not due yet: the beat leaves it alone
        assert renew_due()["retries"] == 0
        SubscriptionRenewal.objects.filter(pk=renewal.pk).update(next_attempt_at=timezone.now())
        assert renew_due()["retries"] == 1
        run_outbox(PROCESS)
        renewal.refresh_from_db()
        assert renewal.attempts == attempt
        assert renewal.next_attempt_at == retry_at
    SubscriptionRenewal.objects.filter(pk=renewal.pk).update(next_attempt_at=timezone.now())
    renew_due()
    run_outbox(PROCESS)
    renewal.refresh_from_db()
    sub.refresh_from_db()
    assert (renewal.status, renewal.attempts) == ("payment_failed", 4)
    assert sub.status == "failed"
    assert sub.failed_at is not None
    assert Payment.objects.filter(order=order, status="failed").count() == 4
    run_outbox("subscriptions.email_send")
    subjects = [m.subject for m in mail.outbox if sub.number in m.subject]
    assert sum("could not take the payment" in s for s in subjects) == 3
    assert sum("on hold" in s for s in subjects) == 1
    assert sum("on its way" in s for s in subjects) == 1
    assert all(f"/track/subscription/{sub.manage_token}/" in m.body for m in mail.outbox)


def test_payment_fixed_after_a_failure_pays_the_order(make_sub, shop):
    sub = make_sub(payment_reference="decline_card")
    renew_due()
    run_outbox(PROCESS)
    services.subscription_update(subscription=sub, data={"payment_reference": "cus_2:pm_2"})
    renewal = SubscriptionRenewal.objects.get(subscription=sub)
    SubscriptionRenewal.objects.filter(pk=renewal.pk).update(next_attempt_at=timezone.now())
    renew_due()
    run_outbox(PROCESS)
    renewal.refresh_from_db()
    assert renewal.status == "paid"
    assert renewal.order is not None
    assert renewal.order.payment_status == "paid"
    assert not renewal.order.is_on_hold


def test_the_term_ends_after_n_orders(make_sub):
    sub = make_sub(ends_after_orders=2)
    services.subscription_renew(subscription=sub)
    sub.refresh_from_db()
    assert sub.status == "active"
    services.subscription_renew(subscription=sub)
    sub.refresh_from_db()
    assert sub.status == "cancelled"
    assert Order.objects.count() == 2


def test_paused_subscriptions_do_not_renew(make_sub):
    sub = make_sub()
    services.subscription_pause(subscription=sub)
    assert renew_due()["claimed"] == 0
    assert not Subscription.objects.get(pk=sub.pk).renewals.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_concurrent_beats_and_renews_of_one_period_give_one_order(shop, make_sub):
    """Real threads on PostgreSQL: two beats, two renews of the period and two processings of
    whatever was claimed, all released at once."""
    import threading

    from django.db import connections

    sub = make_sub()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def beat() -> None:
        try:
            barrier.wait(timeout=30)
            services.subscriptions_renew_due()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def renew() -> None:
        try:
            barrier.wait(timeout=30)
            services.subscription_renew(subscription=sub.pk, sequence=1)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=f) for f in (beat, beat, renew, renew)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    run_outbox(PROCESS)
    assert SubscriptionRenewal.objects.filter(subscription=sub).count() == 1
    assert Order.objects.filter(external_id__startswith=f"SUB-{sub.number}-").count() == 1
    assert Payment.objects.count() == 1
    sub.refresh_from_db()
    assert sub.next_sequence == 2
