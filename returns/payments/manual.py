"""Refunds paid back by hand: cash or a bank transfer (`manual`), or on a channel's own site when
the channel has no refund API for such orders (a task for staff, with a link).

Invariant: such a refund is never `succeeded` by itself: it stays pending, waiting for staff,
until they confirm it with a reference (returns.services.refund_confirm).
"""

from __future__ import annotations

from returns.payments.port import ProviderRefund, RefundRequest


def staff_task(message: str, action_url: str = "") -> ProviderRefund:
    return ProviderRefund(
        state="pending", waiting_for="staff", message=message[:500], action_url=action_url
    )


class ManualProvider:
    """Cash or bank transfer: staff pay it, then confirm it with the transfer's reference."""

    name = "manual"

    def refund(self, request: RefundRequest) -> ProviderRefund:
        return staff_task(
            f"Pay {request.money} back to the shopper of order "
            f"{request.order_number or request.order_id} (cash or bank transfer), then confirm "
            "the refund with the transfer's reference."
        )

    def refund_lookup(self, request: RefundRequest) -> ProviderRefund | None:
        return None  # nothing outside the OMS to ask: staff confirm it


class ChannelTaskProvider:
    """A channel that cannot refund through a connector: staff refund on its site."""

    name = "channel"

    def refund(self, request: RefundRequest) -> ProviderRefund:
        return staff_task(
            f"Refund {request.money} on {request.channel_code} "
            f"(order {request.order_external_id}), then confirm the refund with the channel's "
            "refund reference."
        )

    def refund_lookup(self, request: RefundRequest) -> ProviderRefund | None:
        return None
