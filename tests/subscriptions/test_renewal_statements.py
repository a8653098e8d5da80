"""What one renewal costs the database: a paid renewal is charged first, then captured paid and
routed once (no payment hold placed and released, one payment record written once), and its
outcome recorded. The count is exact (per database); bench/subscriptions.py prints it at scale."""

from __future__ import annotations

from django.db import connection

from orders.models import Order, OrderHold
from returns.models import Payment
from subscriptions import services
from subscriptions.models import SubscriptionRenewal
from subscriptions.tasks import renew_due

# The renewal with its subscription and channel, its lines, the channel (capture); capture in
# one transaction (SAVEPOINT, customer looked up and inserted, SKUs, fraud rules, the order with
# its number, its lines, its event, the outbox message, RELEASE: 10); routing in its own (20 on
# PostgreSQL, which reserves and moves stock, and allocates lines and orders, in one statement
# each; 22 on SQLite);
# the payment record with its order event (4); the renewal, the subscription's customer, its
# event and the e-mail's outbox message (7). Before charging first it was 79: captured held
# payment_pending, a pending payment, then the hold released and the order routed.
STATEMENTS = {"postgresql": 44, "sqlite": 46}


def test_statements_of_a_paid_renewal(make_sub, django_assert_num_queries):
    make_sub()
    make_sub(customer={"email": "ben@example.com", "name": "Ben Braun"})
    renew_due()
    first, second = SubscriptionRenewal.objects.order_by("pk")
    services.renewal_process(renewal_id=first.pk)  # caches warm, as in a running worker
    with django_assert_num_queries(STATEMENTS[connection.vendor]):
        services.renewal_process(renewal_id=second.pk)
    second.refresh_from_db()
    assert (second.status, second.attempts) == ("paid", 1)
    order = second.order
    assert order is not None
    assert (order.status, order.payment_status, order.is_on_hold) == ("allocated", "paid", False)
    assert not OrderHold.objects.filter(order=order).exists()  # never held
    assert list(Payment.objects.filter(order=order).values_list("kind", "status")) == [
        ("capture", "succeeded")
    ]
    assert Order.objects.count() == 2
