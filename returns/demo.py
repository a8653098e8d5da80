"""Demo returns of Northwind Outdoor: returns in every status (requested, authorised, rejected,
cancelled, partially received, received, completed with refunds), a write-off, an exchange
with its replacement order and an appeasement refund, on the delivered demo orders, through the
real services.

Idempotent: each demo return is marked by its comment ("[demo] <slot>"), each slot is done in
its own transaction, and a slot already done is skipped, so running it again adds nothing.
Each return happens two days after its order was delivered (oms.demo.story_at), so the return
window and the timeline agree with the order's dates.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Protocol

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from fulfilment.models import Shipment
from oms.demo import story_at
from oms.errors import DomainError
from oms.money import money_quantum
from orders.models import Order, OrderLine
from orders.services import order_convert_total
from orders.states import OrderStatus
from returns import services
from returns.models import Refund, ReturnRequest
from returns.states import ReturnSource

MARK = "[demo]"
APPEASEMENT_REASON = "[demo] late delivery, goodwill"


class Writer(Protocol):
    def write(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


def _candidates() -> list[Order]:
    """Delivered demo orders shipped to shoppers (not store sales), oldest first."""
    return list(
        Order.objects.filter(
            external_id__startswith="DEMO-",
            status__in=[OrderStatus.DELIVERED, OrderStatus.COMPLETED],
            payment_status="paid",
        )
        .exclude(channel__kind="pos")
        .exclude(returns__isnull=False)
        .select_related("channel")
        .order_by("pk")[:60]
    )


def _after_delivery(order: Order) -> datetime:
    """Two days after the order's last parcel arrived (now, if that is later than now)."""
    delivered = (
        Shipment.objects.filter(order=order, delivered_at__isnull=False)
        .order_by("-delivered_at")
        .values_list("delivered_at", flat=True)
        .first()
    )
    return (delivered or timezone.now()) + timedelta(days=2)


def _lines(order: Order) -> list[OrderLine]:
    return list(order.lines.filter(quantity_shipped__gt=0).order_by("line_number"))


def _location(order: Order) -> str:
    shipment = (
        Shipment.objects.filter(order=order, shipped_at__isnull=False)
        .select_related("location")
        .order_by("id")
        .first()
    )
    return shipment.location.code if shipment else ""


def _create(
    order: Order, slot: str, lines: list[dict[str, Any]], *, shopper: bool = False, **kw: Any
) -> ReturnRequest:
    comment = f"{MARK} {slot}"
    if shopper:
        try:
            with transaction.atomic():
                return services.return_create(
                    order=order,
                    lines=lines,
                    comment=comment,
                    source=ReturnSource.SHOPPER,
                    actor="shopper",
                )
        except DomainError:
            pass  # the window closed since the demo orders were delivered: staff accept it
    return services.return_create(
        order=order,
        lines=lines,
        comment=comment,
        override_reason="demo data",
        actor="demo",
        **kw,
    )


def _all(lines: list[OrderLine], reason: str, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"order_line": ln.pk, "quantity": ln.quantity_shipped, "reason": reason, **extra}
        for ln in lines
    ]


def _receive(
    ret: ReturnRequest, order: Order, items: list[tuple[OrderLine, int, str, str]]
) -> ReturnRequest:
    return services.return_receive(
        return_request=ret,
        location=_location(order),
        lines=[
            {"order_line": ln.pk, "quantity": q, "condition": c, "disposition": d}
            for ln, q, c, d in items
        ],
        actor="demo",
    )


def _refund(ret: ReturnRequest) -> Refund:
    refund = services.return_refund(return_request=ret, reason="return", actor="demo")
    return services.refund_execute(refund=refund)


# --- the slots: (order, its shipped lines) -> what to do ------------------------------------------


def _requested(order: Order, lines: list[OrderLine]) -> None:
    _create(order, "requested", _all(lines[:1], "wrong_size"))


def _authorised(order: Order, lines: list[OrderLine]) -> None:
    _create(order, "authorised", _all(lines[:1], "changed_mind"), shopper=True, authorise=True)


def _rejected(order: Order, lines: list[OrderLine]) -> None:
    ret = _create(order, "rejected", _all(lines[:1], "not_as_described"))
    services.return_reject(
        return_request=ret, reason="The item was used and cannot be resold.", actor="demo"
    )


def _cancelled(order: Order, lines: list[OrderLine]) -> None:
    ret = _create(order, "cancelled", _all(lines[:1], "changed_mind"), authorise=True)
    services.return_cancel(return_request=ret, reason="The shopper kept it.", actor="demo")


def _partially_received(order: Order, lines: list[OrderLine]) -> None:
    ret = _create(order, "partially received", _all(lines, "wrong_size"), authorise=True)
    _receive(ret, order, [(lines[0], 1, "sellable", "restock")])


def _received(order: Order, lines: list[OrderLine]) -> None:
    ret = _create(order, "received", _all(lines[:1], "late"), authorise=True)
    _receive(ret, order, [(lines[0], lines[0].quantity_shipped, "sellable", "restock")])


def _completed(order: Order, lines: list[OrderLine]) -> None:
    ret = _create(order, "completed", _all(lines[:1], "wrong_size"), shopper=True, authorise=True)
    _receive(ret, order, [(lines[0], lines[0].quantity_shipped, "sellable", "restock")])
    _refund(ret)


def _damaged(order: Order, lines: list[OrderLine]) -> None:
    ret = _create(order, "damaged and written off", _all(lines[:1], "damaged"), authorise=True)
    quantity = lines[0].quantity_shipped
    items = [(lines[0], 1, "defective", "write_off")]
    if quantity > 1:
        items.append((lines[0], quantity - 1, "damaged", "quarantine"))
    _receive(ret, order, items)
    _refund(ret)


def _exchange(order: Order, lines: list[OrderLine]) -> None:
    line = lines[0]
    ret = _create(
        order,
        "exchange",
        [{"order_line": line.pk, "quantity": 1, "reason": "wrong_size", "exchange": True}],
        authorise=True,
    )
    _receive(ret, order, [(line, 1, "sellable", "restock")])
    replacement = services.return_exchange_order_create(return_request=ret, actor="demo")
    order_convert_total(order_id=replacement.pk)  # the demo mutes the conversion task
    services.return_complete(return_request=ret, actor="demo")


SLOTS: list[tuple[str, Callable[[Order, list[OrderLine]], None], int]] = [
    # slot, what to do, shipped units the order needs
    ("requested", _requested, 1),
    ("authorised", _authorised, 1),
    ("rejected", _rejected, 1),
    ("cancelled", _cancelled, 1),
    ("partially received", _partially_received, 2),
    ("received", _received, 1),
    ("completed", _completed, 1),
    ("damaged and written off", _damaged, 1),
    ("exchange", _exchange, 1),
]


def demo_returns(stdout: Writer) -> dict[str, int]:
    """Create the demo returns that do not exist yet (see the module docstring)."""
    done = {
        comment.removeprefix(MARK).strip()
        for comment in ReturnRequest.objects.filter(comment__startswith=MARK).values_list(
            "comment", flat=True
        )
    }
    candidates = _candidates()
    created = 0
    for slot, make, units in SLOTS:
        if slot in done:
            continue
        while candidates:
            order = candidates.pop(0)
            lines = _lines(order)
            if sum(ln.quantity_shipped for ln in lines) < units or not _location(order):
                continue
            try:
                with story_at(_after_delivery(order)), transaction.atomic():
                    make(order, lines)
            except DomainError as exc:
                stdout.write(f"Demo return {slot!r} skipped on order {order.number}: {exc}")
                continue
            created += 1
            break
    refunds = 0
    if not Refund.objects.filter(reason=APPEASEMENT_REASON).exists() and candidates:
        order = candidates.pop(0)
        with story_at(_after_delivery(order)):
            with transaction.atomic():
                amount = min(order.total, max(order.total / 10, Decimal("1")))
                refund = services.refund_create(
                    order=order,
                    amount=amount.quantize(money_quantum(order.currency), rounding=ROUND_DOWN),
                    reason=APPEASEMENT_REASON,
                    actor="demo",
                )
            services.refund_execute(refund=refund)
        refunds += 1
    statuses = ", ".join(
        f"{row['status']} {row['n']}"
        for row in ReturnRequest.objects.filter(comment__startswith=MARK)
        .values("status")
        .order_by("status")
        .annotate(n=Count("id"))
    )
    stdout.write(
        f"Demo returns: created {created} returns and {refunds} appeasement refund "
        f"(demo returns by status: {statuses or 'none'})."
    )
    return {"returns": created, "appeasements": refunds}
