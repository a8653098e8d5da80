"""What returns holds of a shopper, for the privacy services (orders.ports.PersonalData).

Invariants: returns, their lines, receipts, dispositions and refunds stay with their amounts
and statuses (the ledger and the money need them); what goes on erasure is the shopper's
comment and the person's values in staff texts (override reasons, refund reasons and
messages). An open return (requested, authorised or partly received: a label, a parcel or a
refund is still on its way) blocks the erasure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from oms.personal_data import Scrubber
from returns.models import Refund, ReturnRequest
from returns.states import ReturnStatus

OPEN = (ReturnStatus.REQUESTED, ReturnStatus.AUTHORISED, ReturnStatus.PARTIALLY_RECEIVED)


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


class ReturnsPersonalData:
    name = "returns"

    def blockers(self, *, order_ids: Sequence[int]) -> list[str]:
        open_returns = ReturnRequest.objects.filter(order_id__in=order_ids, status__in=OPEN)
        return [f"return {r.number} is {r.status}" for r in open_returns.order_by("pk")]

    def export(self, *, order_ids: Sequence[int], emails: Sequence[str]) -> dict[str, Any]:
        returns = (
            ReturnRequest.objects.filter(order_id__in=order_ids)
            .select_related("order")
            .prefetch_related("lines__order_line", "lines__reason")
            .order_by("pk")
        )
        refunds = Refund.objects.filter(order_id__in=order_ids).select_related("order")
        return {
            "returns": [
                {
                    "number": r.number,
                    "order": r.order.number,
                    "status": r.status,
                    "source": r.source,
                    "comment": r.comment,
                    "created_at": _iso(r.created_at),
                    "lines": [
                        {
                            "sku": ln.order_line.sku_code,
                            "quantity": ln.quantity,
                            "reason": ln.reason.label,
                            "received": ln.quantity_received,
                        }
                        for ln in r.lines.all()
                    ],
                }
                for r in returns
            ],
            "refunds": [
                {
                    "order": f.order.number,
                    "amount": str(f.amount),
                    "currency": f.currency,
                    "status": f.status,
                    "reason": f.reason,
                    "created_at": _iso(f.created_at),
                }
                for f in refunds.order_by("pk")
            ],
        }

    def erase(
        self, *, order_ids: Sequence[int], emails: Sequence[str], scrubber: Scrubber
    ) -> dict[str, int]:
        returns = list(ReturnRequest.objects.filter(order_id__in=order_ids).order_by("pk"))
        for ret in returns:
            ret.comment = ""
            ret.override_reason = scrubber.text(ret.override_reason)
        ReturnRequest.objects.bulk_update(returns, ["comment", "override_reason"], batch_size=200)
        refunds = list(Refund.objects.filter(order_id__in=order_ids).order_by("pk"))
        for refund in refunds:
            refund.reason = scrubber.text(refund.reason)
            refund.failure_reason = scrubber.text(refund.failure_reason)
            refund.attention_message = scrubber.text(refund.attention_message)
        Refund.objects.bulk_update(
            refunds, ["reason", "failure_reason", "attention_message"], batch_size=200
        )
        return {"returns": len(returns), "refunds": len(refunds)}

    def erase_channel(self, *, channel_code: str) -> dict[str, int]:
        return {}  # returns belong to orders, erased order by order
