"""The reconciliation report of the `channel` provider: the refunds the connector pushed and the
channel's answers against the OMS's records (the fake Shopify store); Amazon refunds paid by
hand are listed unflagged (no connector holds them)."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from channels.models import ChannelPush
from returns import services
from returns.models import Refund
from tests.channels.test_channel_refunds import synced
from tests.channels.test_connectors_e2e import shopify
from tests.fulfilment.conftest import network
from tests.outbox import run_outbox

__all__ = ["network", "shopify", "synced"]


def test_channel_refunds_reconcile_against_the_connectors_pushes(synced):
    placed, _ = synced
    ok = services.refund_create(order=placed, amount=Decimal("5.00"), reason="scratch")
    other = services.refund_create(order=placed, amount=Decimal("2.00"))
    run_outbox("returns.refund_execute")
    ok.refresh_from_db()
    assert ok.status == "succeeded"
    today = timezone.now().date()
    report = services.payments_reconcile(provider="channel", day=today)
    assert report["provider_refunds"] == 2
    assert report["differences"] == 0
    lines = {line["refund"]: line for line in report["lines"]}
    assert lines[ok.pk]["reference"] == ok.provider_reference
    assert lines[ok.pk]["provider_amount"] == "5.00"

    # The OMS believes 2.00 went back; the connector's record says the channel failed it.
    ChannelPush.objects.filter(kind="refund", reference=other.key_for_provider).update(
        status="failed"
    )
    # And the channel's record of the other shows another amount.
    push = ChannelPush.objects.get(kind="refund", reference=ok.key_for_provider)
    push.detail = {**push.detail, "amount": "5.50"}
    push.save(update_fields=["detail"])
    report = services.payments_reconcile(provider="channel", day=today)
    problems = {line["refund"]: line["problem"] for line in report["lines"]}
    assert problems == {ok.pk: "amount_differs", other.pk: "status_differs"}
    assert report["differences"] == 2


def test_refunds_paid_by_hand_on_a_channel_are_not_listed_not_flagged(synced):
    placed, _ = synced
    refund = services.refund_create(order=placed, amount=Decimal("3.00"))
    placed.channel.kind = "amazon"
    placed.channel.save(update_fields=["kind"])
    run_outbox("returns.refund_execute")
    refund.refresh_from_db()
    assert (refund.status, refund.waiting_for) == ("pending", "staff")
    services.refund_confirm(refund=refund, reference="AMZ-R-1", actor="care")
    report = services.payments_reconcile(provider="channel", day=timezone.now().date())
    [line] = [ln for ln in report["lines"] if ln["refund"] == refund.pk]
    assert line["problem"] == "not_listed"
    assert report["differences"] == 0
    assert Refund.objects.get(pk=refund.pk).status == "succeeded"
