"""Refunds after a crash: the provider is asked before paying again, pending refunds nothing
executes are executed again, spent retries flag the refund for staff, who retry it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from oms.errors import InvalidTransition, TransientError
from oms.models import OutboxMessage
from oms.outbox import OUTBOX_KWARG, outbox_enqueue, task_by_name
from returns import services
from returns.models import Refund
from returns.payments import ProviderRefund, RefundRequest, payment_provider_override
from returns.services.refunds import RECOVER_AFTER, execute_key
from returns.states import RefundStatus
from tests.holders import dead_holder
from tests.outbox import queued, run_outbox
from tests.returns.fakes import FakePaymentAdapter

EXECUTE = "returns.refund_execute"
State = OutboxMessage.State


class SpyAdapter(FakePaymentAdapter):
    """The fake provider, counting the refunds asked for and the look-ups."""

    def __init__(self, journal: Path | None = None) -> None:
        super().__init__(journal)
        self.refunds = 0
        self.lookups = 0

    def refund(self, request: RefundRequest) -> ProviderRefund:
        self.refunds += 1
        return super().refund(request)

    def refund_lookup(self, request: RefundRequest) -> ProviderRefund | None:
        self.lookups += 1
        return super().refund_lookup(request)


class DownAdapter(FakePaymentAdapter):
    """A provider that never answers."""

    def refund(self, request: RefundRequest) -> ProviderRefund:
        raise TransientError("provider timed out")

    def refund_lookup(self, request: RefundRequest) -> ProviderRefund | None:
        raise TransientError("provider timed out")


@pytest.fixture
def provider(monkeypatch):
    """Install a fake provider as the configured one (what the task uses)."""

    def install(adapter: FakePaymentAdapter) -> FakePaymentAdapter:
        payment_provider_override(adapter)  # the autouse fake_payments fixture restores it
        return adapter

    return install


def refund_of(o, amount: str = "5.00") -> Refund:
    return services.refund_create(order=o, amount=Decimal(amount), reason="goodwill")


def paid_without_storing(refund: Refund, journal: Path) -> ProviderRefund:
    """A worker called the provider and died before storing the outcome."""
    result = FakePaymentAdapter(journal=journal).refund(
        services.refunds.refund_request(Refund.objects.get(pk=refund.pk))
    )
    Refund.objects.filter(pk=refund.pk).update(attempts=1)
    return result


def make_old(refund: Refund) -> None:
    Refund.objects.filter(pk=refund.pk).update(
        created_at=timezone.now() - RECOVER_AFTER - dt.timedelta(minutes=1)
    )


def forget_messages(refund: Refund) -> None:
    """The refund's execution message is gone (nothing pending or running executes it)."""
    OutboxMessage.objects.filter(dedupe_key=execute_key(refund.pk)).update(
        state=State.DONE, finished_at=timezone.now()
    )


def test_a_refund_paid_before_a_crash_is_completed_without_paying_twice(shipped, tmp_path):
    o, _ = shipped
    refund = refund_of(o)
    paid = paid_without_storing(refund, tmp_path)
    assert len(list(tmp_path.iterdir())) == 1

    spy = SpyAdapter(journal=tmp_path)
    done = services.refund_execute(refund=refund.pk, adapter=spy)
    assert done.status == RefundStatus.SUCCEEDED
    assert done.provider_reference == paid.reference
    assert (spy.lookups, spy.refunds) == (1, 0)  # asked first, not paid again
    assert len(list(tmp_path.iterdir())) == 1
    assert Refund.objects.get(pk=refund.pk).attempts == 2
    o.refresh_from_db()
    assert o.payment_status == "partially_refunded"
    assert o.events.filter(kind="refund_succeeded").count() == 1


def test_the_first_attempt_pays_without_a_lookup_and_a_second_run_changes_nothing(shipped):
    o, _ = shipped
    refund = refund_of(o)
    spy = SpyAdapter()
    assert services.refund_execute(refund=refund, adapter=spy).status == RefundStatus.SUCCEEDED
    assert (spy.lookups, spy.refunds) == (0, 1)
    services.refund_execute(refund=refund, adapter=spy)
    assert (spy.lookups, spy.refunds) == (0, 1)


def test_a_refund_whose_worker_died_after_paying_is_completed_when_redelivered(
    shipped, settings, tmp_path
):
    from tests.returns.fakes import ConfiguredFake

    settings.OMS_FAKE_PAYMENTS_DIR = str(tmp_path)
    payment_provider_override(ConfiguredFake())
    o, _ = shipped
    refund = refund_of(o)
    [message] = OutboxMessage.objects.filter(dedupe_key=execute_key(refund.pk))
    paid = paid_without_storing(refund, tmp_path)
    OutboxMessage.objects.filter(pk=message.pk).update(
        state=State.RUNNING,
        holder=dead_holder(),
        lease_until=timezone.now() + dt.timedelta(minutes=5),
        attempts=1,
    )
    # The broker redelivers the message (acks_late): the dead worker's claim is taken over.
    assert task_by_name(EXECUTE)(refund_id=refund.pk, **{OUTBOX_KWARG: message.pk}) == "succeeded"
    refund.refresh_from_db()
    assert (refund.status, refund.provider_reference) == (RefundStatus.SUCCEEDED, paid.reference)
    assert len(list(tmp_path.iterdir())) == 1
    message.refresh_from_db()
    assert (message.state, message.attempts) == (State.DONE, 2)


def test_recover_requeues_only_pending_unflagged_old_refunds_with_no_open_message(shipped):
    o, _ = shipped
    lost = refund_of(o, "1.00")
    flagged = refund_of(o, "1.00")
    recent = refund_of(o, "1.00")
    waiting = refund_of(o, "1.00")
    busy = refund_of(o, "1.00")
    succeeded = refund_of(o, "1.00")
    failed = refund_of(o, "1.00")
    for refund in (lost, flagged, recent, succeeded, failed):
        forget_messages(refund)
    OutboxMessage.objects.filter(dedupe_key=execute_key(busy.pk)).update(
        state=State.RUNNING,
        holder=dead_holder(),
        lease_until=timezone.now() + dt.timedelta(minutes=5),
    )
    for refund in (lost, flagged, waiting, busy, succeeded, failed):
        make_old(refund)
    Refund.objects.filter(pk=flagged.pk).update(needs_attention=True)
    Refund.objects.filter(pk=succeeded.pk).update(status=RefundStatus.SUCCEEDED)
    Refund.objects.filter(pk=failed.pk).update(status=RefundStatus.FAILED)
    before = queued(EXECUTE)

    assert services.refunds_recover() == 1
    assert queued(EXECUTE) == [*before, (EXECUTE, {"refund_id": lost.pk})]
    assert OutboxMessage.objects.filter(
        dedupe_key=execute_key(lost.pk), state=State.PENDING
    ).exists()
    assert services.refunds_recover() == 0  # its message is pending now

    # The queued execution pays it.
    assert run_outbox(EXECUTE) >= 1
    lost.refresh_from_db()
    assert lost.status == RefundStatus.SUCCEEDED


def test_spent_retries_flag_the_refund_and_staff_retry_it(shipped, provider):
    o, _ = shipped
    refund = refund_of(o)
    provider(DownAdapter())
    assert run_outbox(EXECUTE) == 9  # max_retries=8: nine attempts, then the give-up hook
    [message] = OutboxMessage.objects.filter(dedupe_key=execute_key(refund.pk))
    assert message.state == State.FAILED
    assert "provider timed out" in message.last_error
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING  # it may have happened
    assert refund.needs_attention
    assert "provider timed out" in refund.attention_message
    [stuck] = o.events.filter(kind="refund_stuck")
    assert stuck.data["refund_id"] == refund.pk

    make_old(refund)
    assert services.refunds_recover() == 0  # flagged: staff decide
    assert queued(EXECUTE) == []

    spy = provider(SpyAdapter())
    services.refund_retry(refund=refund, actor="care")
    refund.refresh_from_db()
    assert (refund.needs_attention, refund.attention_message) == (False, "")
    assert queued(EXECUTE) == [(EXECUTE, {"refund_id": refund.pk})]
    run_outbox(EXECUTE)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert spy.lookups == 1  # not its first attempt: the provider was asked first
    assert spy.refunds == 1


def test_the_give_up_hook_flags_only_a_pending_refund(shipped):
    o, _ = shipped
    refund = refund_of(o)
    services.refund_execute_gave_up(refund_id=refund.pk, reason="TransientError: HTTP 503")
    refund.refresh_from_db()
    assert refund.needs_attention
    assert (
        refund.attention_message == "The payment provider did not answer: TransientError: HTTP 503"
    )
    [stuck] = o.events.filter(kind="refund_stuck")
    assert stuck.data["refund_id"] == refund.pk
    assert stuck.data["reason"] == refund.attention_message

    done = refund_of(o)
    services.refund_execute(refund=done, adapter=FakePaymentAdapter())
    services.refund_execute_gave_up(refund_id=done.pk, reason="late")
    done.refresh_from_db()
    assert not done.needs_attention
    assert o.events.filter(kind="refund_stuck").count() == 1
    services.refund_execute_gave_up(refund_id=10**9, reason="gone")  # no such refund: nothing


def test_retry_is_refused_for_a_refund_that_is_not_pending(shipped):
    o, _ = shipped
    refund = refund_of(o)
    services.refund_execute(refund=refund, adapter=FakePaymentAdapter())
    with pytest.raises(InvalidTransition):
        services.refund_retry(refund=refund.pk)


def test_a_succeeded_refund_is_never_executed_again(shipped, provider):
    o, _ = shipped
    refund = refund_of(o)
    spy = provider(SpyAdapter())
    run_outbox(EXECUTE)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert spy.refunds == 1

    # A stray execution (a message queued twice, a staff retry of an old failed message).
    outbox_enqueue(EXECUTE, refund_id=refund.pk)
    assert run_outbox(EXECUTE) == 1
    make_old(refund)
    assert services.refunds_recover() == 0
    with pytest.raises(InvalidTransition):
        services.refund_retry(refund=refund)
    assert (spy.refunds, spy.lookups) == (1, 0)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert o.events.filter(kind="refund_succeeded").count() == 1


def test_the_back_office_lists_stuck_refunds_and_asks_again(shipped, provider):
    from django.test import Client

    from oms.roles import CUSTOMER_CARE, WAREHOUSE
    from tests.factories import UserFactory

    o, _ = shipped
    refund = refund_of(o)
    services.refund_execute_gave_up(refund_id=refund.pk, reason="TransientError: bank timeout")
    care, warehouse = Client(), Client()
    care.force_login(UserFactory(roles=[CUSTOMER_CARE], is_staff=True))
    warehouse.force_login(UserFactory(roles=[WAREHOUSE], is_staff=True))
    listed = care.get("/admin/returns/refund/?needs_attention__exact=1")
    assert listed.status_code == 200
    assert f"/admin/returns/refund/{refund.pk}/change/" in listed.content.decode()
    assert "execute_again" not in warehouse.get("/admin/returns/refund/").content.decode()

    done = care.post(
        "/admin/returns/refund/",
        {"action": "execute_again", "_selected_action": [refund.pk]},
        follow=True,
    )
    assert done.status_code == 200
    refund.refresh_from_db()
    assert not refund.needs_attention
    assert o.events.filter(kind="refund_retried").exists()
    assert run_outbox("returns.refund_execute") >= 1
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
