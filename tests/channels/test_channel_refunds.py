"""The `channel` payment provider: a refund of a connector order succeeds only when the channel
(the fake Shopify store, a fake eBay) says it paid it back; a refusal fails it with the
channel's message; a lost answer is settled without paying twice; Amazon and the till are
tasks for staff, confirmed by hand."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from channels.models import ChannelPush
from channels.services import push, sync
from inventory.models import Channel
from orders.models import Order
from returns import services
from returns.models import Refund
from returns.states import RefundStatus
from tests.channels.test_connectors_e2e import shopify
from tests.fulfilment.conftest import network, order, put
from tests.outbox import queued, run_outbox

__all__ = ["network", "shopify"]


@pytest.fixture
def synced(shopify, real_payments):
    channel, store = shopify
    [external] = store.add_orders(1)
    sync.channel_sync(channel=channel)
    placed = Order.objects.get(channel=channel, external_id=str(external))
    assert placed.payment_status == "paid"
    return placed, store


def test_a_shopify_refund_succeeds_only_once_the_store_refunded_it(synced):
    placed, store = synced
    refund = services.refund_create(order=placed, amount=Decimal("5.00"), reason="scratch")
    assert store.refunds == []  # nothing before commit and the worker
    assert run_outbox("returns.refund_execute") == 1
    refund.refresh_from_db()
    [made] = store.refunds
    assert made["key"] == refund.idempotency_key
    assert made["input"]["transactions"][0]["amount"] == "5.00"  # the channel moved money
    assert (refund.status, refund.provider) == (RefundStatus.SUCCEEDED, "channel")
    assert refund.provider_reference == made["id"].rpartition("/")[2]
    assert ChannelPush.objects.get(kind="refund").status == "succeeded"
    # The channel paid it: it is not told again about its own refund.
    assert queued("channels.refund_push") == []


def test_a_refund_the_store_refuses_fails_with_its_message_and_can_be_retried(synced):
    placed, store = synced
    refund = services.refund_create(order=placed, amount=Decimal("5.00"))
    kept = store._orders.pop(int(placed.external_id))  # Shopify no longer has the order
    run_outbox("returns.refund_execute")
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    assert "Shopify has no order" in refund.failure_reason
    placed.refresh_from_db()
    assert placed.payment_status == "paid"

    store._orders[kept.id] = kept
    services.refund_retry(refund=refund, actor="care")
    run_outbox("returns.refund_execute")
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    [made] = store.refunds
    assert made["key"] == f"{refund.idempotency_key}-retry1"


def test_a_lost_answer_from_the_store_is_settled_without_a_second_refund(synced, monkeypatch):
    placed, store = synced
    lost = {"count": 0}

    def answer_lost_once(request: httpx.Request) -> httpx.Response:
        response = store.handler(request)
        if b"refundCreate" in request.content and not lost["count"]:
            lost["count"] += 1
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    monkeypatch.setattr(
        sync, "demo_transport", lambda kind, creds: httpx.MockTransport(answer_lost_once)
    )
    refund = services.refund_create(order=placed, amount=Decimal("6.00"))
    from oms.errors import TransientError

    with pytest.raises(TransientError):
        services.refund_execute(refund=refund)
    assert len(store.refunds) == 1  # the store refunded; we never heard
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.PENDING
    done = services.refund_execute(refund=refund)
    assert done.status == RefundStatus.SUCCEEDED
    assert len(store.refunds) == 1  # asked again under the same key: Shopify replayed it


def test_an_amazon_refund_is_a_task_for_staff_confirmed_by_hand(network, real_payments):
    put(network, "BER", "A", 5)
    placed = order("HAMBURG", {"A": 1}, payment_status="paid")
    Channel.objects.filter(pk=placed.channel_id).update(kind="amazon")
    refund = services.refund_create(order=placed, amount=Decimal("4.00"))
    waiting = services.refund_execute(refund=refund)
    assert (waiting.status, waiting.waiting_for) == (RefundStatus.PENDING, "staff")
    assert waiting.action_url == (
        f"https://sellercentral.amazon.com/orders-v3/order/{placed.external_id}"
    )
    assert "Seller Central" in waiting.attention_message
    assert placed.events.filter(kind="refund_awaiting_confirmation").count() == 1
    # Executed again (a redelivery, the sweep): nothing changes, nothing is asked twice.
    assert services.refund_execute(refund=refund).waiting_for == "staff"
    assert services.refunds_recover() == 0

    from oms.roles import CUSTOMER_CARE
    from tests import staff

    api = staff.api_client_of(staff.user_of(CUSTOMER_CARE))
    response = api.post(
        f"/api/v1/refunds/{refund.pk}/confirm/", {"reference": "AMZ-REF-1"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["provider_reference"], body["provider"]) == (
        "succeeded",
        "AMZ-REF-1",
        "channel",
    )
    placed.refresh_from_db()
    assert placed.payment_status == "partially_refunded"


def test_an_ebay_refund_answered_pending_succeeds_once_ebay_lists_it_refunded(
    network, real_payments, monkeypatch
):
    from channels.adapters.base import PushResult

    class FakeEbay:
        def __init__(self) -> None:
            self.state = "PENDING"
            self.issued = 0

        def refund_push(self, p):
            self.issued += 1
            return PushResult(
                external_id="5010234567",
                detail={"refundId": "5010234567", "refundStatus": "PENDING"},
            )

        def refund_state(self, order_external_id, refund_id):
            assert refund_id == "5010234567"
            return self.state

    ebay = FakeEbay()
    monkeypatch.setattr(push, "channel_adapter", lambda channel, **_: ebay)
    monkeypatch.setattr(push, "order_connected", lambda order_id: True)
    import channels.payments

    monkeypatch.setattr(channels.payments, "order_connected", lambda order_id: True)
    put(network, "BER", "A", 5)
    placed = order("HAMBURG", {"A": 1}, payment_status="paid")
    Channel.objects.filter(pk=placed.channel_id).update(kind="ebay")
    refund = services.refund_create(order=placed, amount=Decimal("4.00"))
    waiting = services.refund_execute(refund=refund)
    assert (waiting.status, waiting.waiting_for) == (RefundStatus.PENDING, "provider")
    assert services.refund_execute(refund=refund).status == RefundStatus.PENDING
    ebay.state = "REFUNDED"
    assert services.refund_execute(refund=refund).status == RefundStatus.SUCCEEDED
    assert ebay.issued == 1
    assert json.dumps(ChannelPush.objects.get(kind="refund").detail)


def test_an_ebay_refund_whose_answer_was_lost_is_found_and_never_issued_twice(
    network, real_payments, monkeypatch
):
    from channels.adapters.base import PushResult
    from oms.errors import TransientError

    class LosingEbay:
        def __init__(self) -> None:
            self.refunds: list[str] = []

        def refund_push(self, p):
            self.refunds.append(f"50100000{len(self.refunds) + 1:02d}")
            raise TransientError("eBay: read timed out")  # eBay refunded; the answer is lost

        def refund_lookup(self, p, known):
            assert p.amount == Decimal("4.00")
            assert not known
            return PushResult(external_id=self.refunds[-1]) if self.refunds else None

    ebay = LosingEbay()
    monkeypatch.setattr(push, "channel_adapter", lambda channel, **_: ebay)
    import channels.payments

    monkeypatch.setattr(channels.payments, "order_connected", lambda order_id: True)
    put(network, "BER", "A", 5)
    placed = order("HAMBURG", {"A": 1}, payment_status="paid")
    Channel.objects.filter(pk=placed.channel_id).update(kind="ebay")
    refund = services.refund_create(order=placed, amount=Decimal("4.00"))
    with pytest.raises(TransientError):
        services.refund_execute(refund=refund)
    done = services.refund_execute(refund=refund)
    assert (done.status, done.provider_reference) == (RefundStatus.SUCCEEDED, "5010000001")
    assert ebay.refunds == ["5010000001"]
    pushed = ChannelPush.objects.get(kind="refund")
    assert (pushed.status, pushed.detail["found_by_lookup"]) == ("succeeded", True)
