"""Refunds: suggested amounts, never more than paid (also concurrently), idempotent execution."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from oms.errors import Conflict, InvalidTransition, PermanentError, TransientError
from oms.states import assert_transition
from orders.models import Order
from returns import services, tasks
from returns.models import Refund
from returns.payments import ProviderRefund, RefundRequest
from returns.states import REFUND_TRANSITIONS, RefundStatus, ReturnStatus
from tests.returns.fakes import FakePaymentAdapter


class CountingAdapter(FakePaymentAdapter):
    def __init__(self, error: Exception | None = None) -> None:
        super().__init__()
        self.count = 0
        self.error = error

    def refund(self, request: RefundRequest) -> ProviderRefund:
        self.count += 1
        if self.error is not None:
            raise self.error
        return super().refund(request)


def _received_return(o, lines):
    ret = services.return_create(
        order=o,
        lines=[
            {"order_line": lines["A"].pk, "quantity": 2, "reason": "changed_mind"},
            {"order_line": lines["B"].pk, "quantity": 1, "reason": "damaged"},
        ],
    )
    services.return_authorise(return_request=ret)
    return services.return_receive(
        return_request=ret,
        location="BER",
        lines=[
            {"order_line": lines["A"].pk, "quantity": 2, "condition": "sellable"},
            {"order_line": lines["B"].pk, "quantity": 1, "condition": "defective"},
        ],
    )


@pytest.mark.parametrize(
    ("current", "target"),
    [(a, b) for a in RefundStatus.values for b in RefundStatus.values],
)
def test_every_refund_transition_pair(current, target):
    if target in REFUND_TRANSITIONS[current]:
        assert_transition(REFUND_TRANSITIONS, current, target, what="Refund")
    else:
        with pytest.raises(InvalidTransition):
            assert_transition(REFUND_TRANSITIONS, current, target, what="Refund")


def test_suggested_amount_less_restocking_fee(shipped):
    o, lines = shipped
    assert o.total == Decimal("30")
    ret = _received_return(o, lines)
    # A: 2 x 10.00 less 10 % restocking fee; B: 10.00 without a fee.
    assert services.refund_suggested_amount(return_request=ret) == Decimal("28.00")


def test_return_refund_completes_the_return_and_execution_updates_the_order(
    shipped, django_capture_on_commit_callbacks
):
    o, lines = shipped
    ret = _received_return(o, lines)
    with django_capture_on_commit_callbacks() as callbacks:
        refund = services.return_refund(return_request=ret, reason="return")
    assert len(callbacks) == 1  # the task is enqueued only after commit
    assert refund.amount == Decimal("28.00")
    assert refund.status == RefundStatus.PENDING
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.COMPLETED
    services.refund_execute(refund=refund, adapter=CountingAdapter())
    o.refresh_from_db()
    assert o.payment_status == "partially_refunded"
    rest = services.refund_create(order=o, amount=Decimal("2.00"), reason="goodwill")
    services.refund_execute(refund=rest)
    o.refresh_from_db()
    assert o.payment_status == "refunded"
    kinds = list(o.events.values_list("kind", flat=True))
    assert kinds.count("refund_succeeded") == 2


def test_refund_above_refundable_is_conflict_and_writes_nothing(shipped):
    o, _ = shipped
    services.refund_create(order=o, amount=Decimal("20"))
    with pytest.raises(Conflict) as err:
        services.refund_create(order=o, amount=Decimal("10.01"))
    assert err.value.code == "refund_exceeds_paid"
    assert Refund.objects.count() == 1
    assert o.events.filter(kind="refund_requested").count() == 1


def test_unpaid_order_cannot_be_refunded(shipped):
    o, _ = shipped
    Order.objects.filter(pk=o.pk).update(payment_status="authorized")
    with pytest.raises(Conflict):
        services.refund_create(order=o, amount=Decimal("1"))


def test_execution_is_idempotent(shipped):
    o, _ = shipped
    refund = services.refund_create(order=o, amount=Decimal("5"))
    adapter = CountingAdapter()
    first = services.refund_execute(refund=refund, adapter=adapter)
    second = services.refund_execute(refund=refund.pk, adapter=adapter)
    assert first.status == second.status == RefundStatus.SUCCEEDED
    assert adapter.count == 1
    assert o.events.filter(kind="refund_succeeded").count() == 1
    # The Celery task of a refund done already changes nothing.
    assert tasks.refund_execute(refund_id=refund.pk) == "succeeded"
    assert o.events.filter(kind="refund_succeeded").count() == 1


def test_the_task_is_enqueued_after_commit(shipped, django_capture_on_commit_callbacks):
    o, _ = shipped
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        refund = services.refund_create(order=o, amount=Decimal("4"))
    assert len(callbacks) == 1
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING  # a worker executes it


def test_replayed_idempotency_key_returns_the_same_refund(shipped):
    o, _ = shipped
    first = services.refund_create(order=o, amount=Decimal("5"), idempotency_key="k-1")
    again = services.refund_create(order=o, amount=Decimal("5"), idempotency_key="k-1")
    assert first.pk == again.pk
    assert Refund.objects.count() == 1


def test_failed_refund_frees_the_amount(shipped):
    o, _ = shipped
    refund = services.refund_create(order=o, amount=Decimal("30"))
    failed = services.refund_execute(
        refund=refund, adapter=CountingAdapter(PermanentError("card closed"))
    )
    assert failed.status == RefundStatus.FAILED
    o.refresh_from_db()
    assert o.payment_status == "paid"
    assert services.refund_create(order=o, amount=Decimal("30")).status == RefundStatus.PENDING


def test_transient_error_leaves_the_refund_pending(shipped):
    o, _ = shipped
    refund = services.refund_create(order=o, amount=Decimal("3"))
    with pytest.raises(TransientError):
        services.refund_execute(refund=refund, adapter=CountingAdapter(TransientError("503")))
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING


@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_never_exceed_the_paid_total(shipped):
    """Row locks on PostgreSQL; IMMEDIATE transactions serialise the threads on SQLite."""
    o, _ = shipped
    amount = (o.total * Decimal("0.4")).quantize(Decimal("0.01"))
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def attempt() -> None:
        try:
            barrier.wait()
            services.refund_create(order=o.pk, amount=amount, reason="race")
            outcomes.append("ok")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 2
    assert outcomes.count("refund_exceeds_paid") == 6
    total = sum(Refund.objects.filter(order=o).values_list("amount", flat=True), Decimal(0))
    assert total <= o.total


# --- API -----------------------------------------------------------------------------------


def test_api_refunds(care_api, manager_api, shipped):
    o, _ = shipped
    created = care_api.post(
        "/api/v1/refunds/", {"order": o.pk, "amount": "25.00", "reason": "late"}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["status"] == "pending"
    assert created.json()["currency"] == "EUR"
    assert created.json()["return_request"] is None
    over = care_api.post("/api/v1/refunds/", {"order": o.pk, "amount": "5.01"}, format="json")
    assert over.status_code == 409
    assert over["Content-Type"].startswith("application/problem+json")
    assert over.json()["code"] == "refund_exceeds_paid"
    listed = manager_api.get(f"/api/v1/refunds/?order={o.pk}")
    assert listed.status_code == 200
    assert len(listed.json()["results"]) == 1


def test_api_return_refund(care_api, shipped):
    o, lines = shipped
    ret = _received_return(o, lines)
    response = care_api.post(
        f"/api/v1/returns/{ret.pk}/refund/", {"include_shipping": True}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert Decimal(response.json()["amount"]) == Decimal("28.00")
    again = care_api.post(f"/api/v1/returns/{ret.pk}/refund/", {"amount": "5"}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "refund_exceeds_paid"
