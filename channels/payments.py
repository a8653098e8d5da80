"""The `channel` payment provider: refunds paid back by the channel that took the money.

Invariants:
- a refund of an order that came in through a connector that can refund (Shopify
  `refundCreate`, WooCommerce refunds with `api_refund`, eBay `issue_refund`) is pushed to the
  channel, keyed by the refund's provider key (one ChannelPush per key, never sent twice);
  it succeeds only when the channel answered that it refunded, fails with the channel's
  message when the channel refused, and stays pending (TransientError) otherwise;
- before a push whose earlier answer was lost is sent again, the channel is asked for the
  refund (channels.services.push.refund_push_lookup: eBay takes no key of ours); a refund the
  channel is still paying (eBay answers PENDING) stays pending until the channel lists it as
  refunded (or failed) when asked again;
- channels that cannot refund such orders from here (Amazon, the POS till, an order not
  received through a connector) get a task for staff, with a link where there is one: the
  refund waits, pending, until staff confirm it with the channel's reference;
- the reconciliation report's channel side (`refunds_on`) is what the connectors know: each
  refund push of the day to a channel paid through `channel`, with the channel's refund id,
  the amount pushed and the channel's answer. Refunds made on a channel's own site are not
  read back by any connector, and channels paid by hand (BY_HAND, or orders not received
  through a connector) have no such record (`covers` is false for them).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from channels.models import ChannelPush
from channels.services.push import (
    order_connected,
    refund_push,
    refund_push_lookup,
    refund_push_state,
)
from channels.states import PushKind, PushStatus
from oms.errors import PermanentError
from oms.money import money_format
from returns.payments import ProviderRecord, ProviderRefund, RefundRequest
from returns.payments.manual import staff_task

#: Channel kinds with no refund API for orders of this kind: what staff do instead.
BY_HAND = {
    "amazon": (
        "Refund {amount} {currency} of Amazon order {order} in Seller Central, then confirm "
        "the refund here with Amazon's reference.",
        "https://sellercentral.amazon.com/orders-v3/order/{order}",
    ),
    "pos": (
        "Refund {amount} {currency} of store sale {order} at the till, then confirm the "
        "refund here with the till's receipt number.",
        "",
    ),
}


class ChannelRefunds:
    name = "channel"

    def refund(self, request: RefundRequest) -> ProviderRefund:
        task = self._by_hand(request)
        if task is not None:
            return task
        push = refund_push(
            order_id=request.order_id,
            reference=request.key,
            amount=money_format(request.amount, request.currency),
            currency=request.currency,
            reason=request.reason,
            move_money=True,
        )
        if push is None:  # the channel is inactive now, or fulfilled the order itself
            return self._task(request, "The channel cannot be reached from here.")
        if push.status != PushStatus.SUCCEEDED:
            raise PermanentError(f"{request.channel_code} refused the refund: {push.error}")
        return _outcome(push)

    def refund_lookup(self, request: RefundRequest) -> ProviderRefund | None:
        if self._by_hand(request) is not None:
            return None
        push = refund_push_lookup(
            order_id=request.order_id,
            reference=request.key,
            amount=money_format(request.amount, request.currency),
            currency=request.currency,
        )
        if push is None or push.status != PushStatus.SUCCEEDED:
            return None
        outcome = _outcome(push)
        if outcome.state != "pending":
            return outcome
        state = refund_push_state(order_id=request.order_id, reference=request.key)
        if state == "REFUNDED":
            return ProviderRefund(state="succeeded", reference=outcome.reference)
        if state == "FAILED":
            return ProviderRefund(
                state="failed",
                reference=outcome.reference,
                message=f"{request.channel_code} could not pay the refund back.",
            )
        return outcome

    def refunds_on(self, day: dt.date) -> list[ProviderRecord]:
        """The refund pushes of `day` (UTC) to channels that pay their refunds back, as the
        channel answered them (see the module docstring)."""
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        pushes = ChannelPush.objects.filter(
            kind=PushKind.REFUND,
            channel__payment_provider="channel",
            created_at__gte=start,
            created_at__lt=start + dt.timedelta(days=1),
        ).select_related("channel")
        return [_record(push) for push in pushes.order_by("pk")]

    def covers(self, refund: Any) -> bool:
        """Whether a connector holds a record of this refund: not for channels paid by hand."""
        return refund.order.channel.kind not in BY_HAND and order_connected(refund.order_id)

    def _by_hand(self, request: RefundRequest) -> ProviderRefund | None:
        if request.channel_kind in BY_HAND:
            message, url = BY_HAND[request.channel_kind]
            fields = {
                "amount": money_format(request.amount, request.currency),
                "currency": request.currency,
                "order": request.order_external_id,
            }
            return staff_task(message.format(**fields), url.format(**fields))
        if not order_connected(request.order_id):
            return self._task(request, "The order did not come in through a connector.")
        return None

    def _task(self, request: RefundRequest, why: str) -> ProviderRefund:
        return staff_task(
            f"{why} Refund {request.money} of order "
            f"{request.order_external_id} on {request.channel_code}, then confirm the refund "
            "here with the channel's reference."
        )


def _record(push: ChannelPush) -> ProviderRecord:
    detail: dict[str, Any] = push.detail or {}
    try:
        amount = Decimal(str(detail.get("amount") or "0"))
    except InvalidOperation:
        amount = Decimal(0)
    if push.status == PushStatus.SUCCEEDED:
        state = _outcome(push).state
    else:
        state = "failed" if push.status == PushStatus.FAILED else "pending"
    return ProviderRecord(
        reference=push.external_id or push.reference,
        key=push.reference,
        amount=amount,
        currency=str(detail.get("currency") or ""),
        state=state,
    )


def _outcome(push: ChannelPush) -> ProviderRefund:
    """A refund the channel accepted: succeeded, unless the channel said it is still moving the
    money (eBay's refundStatus PENDING): then pending until the channel's look-up says so."""
    reference = push.external_id or push.reference
    if str((push.detail or {}).get("refundStatus") or "").upper() == "PENDING":
        return ProviderRefund(
            state="pending",
            reference=reference,
            waiting_for="provider",
            message=f"{push.channel.code} is paying the refund back.",
        )
    return ProviderRefund(state="succeeded", reference=reference)
