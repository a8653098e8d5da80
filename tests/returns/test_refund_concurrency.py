"""Refunds never exceed what was paid, under concurrency, with the provider's refusals and the
staff's retries interleaved: a hypothesis test whose examples each race threads against one
paid order on PostgreSQL (real row locks), and check the OMS's records against the money that
actually left (the provider's ledger)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from oms.errors import Conflict, PermanentError
from oms.money import from_minor
from orders.models import Order
from orders.services import order_capture
from returns import services
from returns.models import Refund
from returns.payments import ProviderRefund, RefundRequest
from returns.states import RefundStatus
from tests.fulfilment.conftest import CITIES, network, put
from tests.properties import bounded
from tests.returns.fakes import FakePaymentAdapter

__all__ = ["network"]

TOTAL_MINOR = 3000  # the order's total: 30.00 EUR


class RefusingProvider(FakePaymentAdapter):
    """Pays refunds asked with reason "ok"; refuses the first try of those asked with reason
    "refuse" (a retry, under a new key, is paid). Keeps the money that left, per key."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.paid: dict[str, Decimal] = {}

    def refund(self, request: RefundRequest) -> ProviderRefund:
        if request.reason == "refuse" and "-retry" not in request.key:
            raise PermanentError("card declined")
        with self.lock:
            self.paid.setdefault(request.key, request.amount)
        return ProviderRefund(state="succeeded", reference=f"re-{request.key[:12]}")

    def refund_lookup(self, request: RefundRequest) -> ProviderRefund | None:
        with self.lock:
            known = request.key in self.paid
        return ProviderRefund(state="succeeded", reference="re") if known else None


_orders = iter(range(1, 10**6))


def paid_order() -> Order:
    country, postal, city, lat, lon = CITIES["HAMBURG"]
    return order_capture(
        channel="web",
        external_id=f"RACE-{next(_orders)}",
        currency="EUR",
        lines=[{"sku": "A", "quantity": 3, "unit_price": "10.00"}],
        customer={"email": "race@example.com"},
        shipping_address={
            "name": "R",
            "line1": "Street 1",
            "postal_code": postal,
            "city": city,
            "country": country,
            "latitude": lat,
            "longitude": lon,
        },
        payment_status="paid",
    ).order


plans = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=TOTAL_MINOR),  # the amount in cents
        st.booleans(),  # the provider refuses its first try
        st.booleans(),  # staff retry it when it failed
    ),
    min_size=2,
    max_size=6,
)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@bounded(12)
@given(plan=plans)
def test_refunds_never_exceed_what_was_paid_with_refusals_and_retries_racing(network, plan):
    put(network, "BER", "A", 3)
    order = paid_order()
    assert order.total == from_minor(TOTAL_MINOR, "EUR")
    provider = RefusingProvider()
    barrier = threading.Barrier(len(plan))
    errors: list[BaseException] = []

    def customer_care(minor: int, refused: bool, retry: bool) -> None:
        try:
            barrier.wait()
            try:
                refund = services.refund_create(
                    order=order.pk,
                    amount=from_minor(minor, "EUR"),
                    reason="refuse" if refused else "ok",
                )
            except Conflict:
                return
            done = services.refund_execute(refund=refund.pk, adapter=provider)
            if done.status == RefundStatus.FAILED and retry:
                try:
                    services.refund_retry(refund=refund.pk)
                except Conflict:
                    return  # the money it would take was refunded meanwhile
                services.refund_execute(refund=refund.pk, adapter=provider)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=customer_care, args=step) for step in plan]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors

    refunds = list(Refund.objects.filter(order=order))
    live = sum((r.amount for r in refunds if r.status != RefundStatus.FAILED), Decimal(0))
    succeeded = [r for r in refunds if r.status == RefundStatus.SUCCEEDED]
    assert live <= order.total
    # The money that left is exactly what the OMS says succeeded, once per refund.
    assert sum(provider.paid.values(), Decimal(0)) == sum((r.amount for r in succeeded), Decimal(0))
    assert sorted(provider.paid) == sorted(r.key_for_provider for r in succeeded)
    assert all(r.status != RefundStatus.PENDING for r in refunds)
    order.refresh_from_db()
    refunded = sum((r.amount for r in succeeded), Decimal(0))
    expected = (
        "paid" if not refunded else "refunded" if refunded == order.total else "partially_refunded"
    )
    assert order.payment_status == expected
