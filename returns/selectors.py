"""Reads of returns and refunds shared by the API, the admin, the public pages and services.

The return window: it opens when the order arrived and lasts the channel's
`return_window_days`. "Arrived" is the latest `delivered_at` of the order's shipments that were
not cancelled, a shipment without a delivery scan counting from its `shipped_at` (a carrier
without tracking never reports delivery: its shipping date is the earliest it could have
arrived). An order with nothing shipped has no window (nothing can be returned yet).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from fulfilment.models import Shipment
from fulfilment.states import ShipmentStatus
from oms.errors import NotFound
from orders.models import Order, OrderLine
from orders.states import OrderStatus
from returns.models import Payment, Refund, ReturnLine, ReturnReason, ReturnRequest
from returns.states import (
    ACTIVE_RETURN_STATUSES,
    OPEN_RETURN_STATUSES,
    RECEIVABLE_STATUSES,
    ReturnStatus,
)

ZERO = Decimal("0")


def return_list() -> QuerySet[ReturnRequest]:
    # The order gives the currency of the lines' exchange prices.
    return ReturnRequest.objects.select_related("order").prefetch_related(
        Prefetch(
            "lines",
            queryset=ReturnLine.objects.select_related("reason", "order_line", "exchange_sku"),
        )
    )


def refund_list() -> QuerySet[Refund]:
    return Refund.objects.all()


def payment_list() -> QuerySet[Payment]:
    return Payment.objects.all()


def order_payments(*, order_id: int) -> dict[str, Any]:
    """An order's money: its authorisations, captures and voids, its refunds, and their totals
    (in three queries). Raises NotFound."""
    order = Order.objects.select_related("channel").filter(pk=order_id).first()
    if order is None:
        raise NotFound(f"Order {order_id} does not exist.")
    payments = list(Payment.objects.filter(order_id=order_id).order_by("created_at", "id"))
    refunds = list(Refund.objects.filter(order_id=order_id).order_by("created_at", "id"))
    zero = Decimal(0)

    def total(kind: str) -> Decimal:
        return sum((p.amount for p in payments if p.kind == kind and p.status == "succeeded"), zero)

    return {
        "order": order.pk,
        "currency": order.currency,
        "payment_provider": order.channel.payment_provider,
        "payment_status": order.payment_status,
        "capture_on_shipment": order.channel.capture_on_shipment,
        "authorized": total("authorization"),
        "captured": total("capture"),
        "voided": total("void"),
        "refunded": sum((r.amount for r in refunds if r.status == "succeeded"), zero),
        "refund_pending": sum((r.amount for r in refunds if r.status == "pending"), zero),
        "payments": payments,
        "refunds": refunds,
    }


def reason_list() -> QuerySet[ReturnReason]:
    """The reasons a shopper or staff may choose (active ones, by label)."""
    return ReturnReason.objects.filter(is_active=True).order_by("label")


def receiving_queue() -> QuerySet[ReturnRequest]:
    """Authorised returns not fully received yet, oldest first, with the units still expected."""
    return (
        ReturnRequest.objects.filter(status__in=RECEIVABLE_STATUSES)
        .select_related("order", "order__channel")
        .annotate(
            units_expected=Coalesce(Sum("lines__quantity"), 0),
            units_received=Coalesce(Sum("lines__quantity_received"), 0),
        )
        .order_by("created_at", "id")
    )


# --- the return window ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnWindow:
    days: int
    opened_at: dt.datetime | None  # None: nothing shipped yet

    @property
    def closes_at(self) -> dt.datetime | None:
        return None if self.opened_at is None else self.opened_at + dt.timedelta(days=self.days)

    def is_open(self, now: dt.datetime | None = None) -> bool:
        closes = self.closes_at
        return closes is not None and (now or timezone.now()) <= closes


def window_opened_at(
    shipments: list[tuple[dt.datetime | None, dt.datetime | None]],
) -> dt.datetime | None:
    """The window's start from (delivered_at, shipped_at) pairs of the order's shipments."""
    arrived = [moment for pair in shipments if (moment := pair[0] or pair[1]) is not None]
    return max(arrived) if arrived else None


def return_window(order: Order) -> ReturnWindow:
    """The order's return window (2 queries: the channel if not loaded, the shipments)."""
    pairs = list(
        Shipment.objects.filter(order_id=order.pk)
        .exclude(status=ShipmentStatus.CANCELLED)
        .values_list("delivered_at", "shipped_at")
    )
    return ReturnWindow(days=order.channel.return_window_days, opened_at=window_opened_at(pairs))


def _arrived() -> Subquery:
    """Per order (OuterRef pk): when it arrived, as window_opened_at says, in SQL."""
    return Subquery(
        Shipment.objects.filter(order_id=OuterRef("pk"))
        .exclude(status=ShipmentStatus.CANCELLED)
        .annotate(moment=Coalesce("delivered_at", "shipped_at"))
        .order_by()
        .values("order_id")
        .annotate(latest=Max("moment"))
        .values("latest")[:1]
    )


def orders_past_return_window(
    *,
    now: dt.datetime,
    after_pk: int = 0,
    limit: int | None = None,
    order_ids: Sequence[int] | None = None,
) -> list[int]:
    """Ids of the delivered orders, not on hold and without an open return, whose return window
    (the one return_window computes) closed before `now`, by id (after `after_pk`, at most
    `limit`, among `order_ids` if given). Two queries whatever the number of channels."""
    orders = Order.objects.filter(
        status=OrderStatus.DELIVERED, is_on_hold=False, pk__gt=after_pk
    ).exclude(
        Exists(
            ReturnRequest.objects.filter(order_id=OuterRef("pk"), status__in=OPEN_RETURN_STATUSES)
        )
    )
    if order_ids is not None:
        orders = orders.filter(pk__in=list(order_ids))
    days = set(orders.order_by().values_list("channel__return_window_days", flat=True).distinct())
    if not days:
        return []
    # Closed: now > arrived + days, one condition per window length in use.
    closed = Q()
    for length in days:
        closed |= Q(channel__return_window_days=length, arrived__lt=now - dt.timedelta(days=length))
    found = orders.annotate(arrived=_arrived()).filter(closed).order_by("pk")
    ids = found.values_list("pk", flat=True)
    return list(ids[:limit] if limit is not None else ids)


# --- what can still be returned ------------------------------------------------------------------


def _requested_subquery() -> Subquery:
    """Per order line (OuterRef pk): the units on active returns."""
    return Subquery(
        ReturnLine.objects.filter(
            order_line_id=OuterRef("pk"), return_request__status__in=ACTIVE_RETURN_STATUSES
        )
        .values("order_line_id")
        .annotate(total=Sum("quantity"))
        .values("total"),
        output_field=IntegerField(),
    )


def _returnable() -> Greatest:
    """Shipped less max(on active returns, returned), never negative (needs `requested`)."""
    integer = IntegerField()
    taken = Greatest(F("requested"), F("quantity_returned"), output_field=integer)
    left = ExpressionWrapper(F("quantity_shipped") - taken, output_field=integer)
    return Greatest(left, Value(0), output_field=integer)


def returnable_lines(order_id: int) -> QuerySet[OrderLine]:
    """The order's lines with `returnable`: shipped less what is returned or on an active
    return (never negative), in line order."""
    return (
        OrderLine.objects.filter(order_id=order_id)
        .select_related("sku")
        .annotate(requested=Coalesce(_requested_subquery(), 0))
        .annotate(returnable=_returnable())
        .order_by("line_number")
    )


def returnable_units_by_token(token: str) -> tuple[int, int | None, int]:
    """(units still returnable, the channel's window in days, returns of the order) of the
    order of a tracking token, in one query (for the box on the tracking page)."""
    returns = Subquery(
        ReturnRequest.objects.filter(order__tracking_token=token)
        .order_by()
        .values("order_id")
        .annotate(n=Count("id"))
        .values("n")[:1],
        output_field=IntegerField(),
    )
    row = (
        OrderLine.objects.filter(order__tracking_token=token)
        .annotate(requested=Coalesce(_requested_subquery(), 0))
        .aggregate(
            units=Coalesce(Sum(_returnable()), 0),
            days=Max("order__channel__return_window_days"),
            returns=Coalesce(Max(returns), 0),
        )
    )
    return int(row["units"] or 0), row["days"], int(row["returns"] or 0)


def order_by_token(token: str) -> Order | None:
    """The order of a tracking token, with its channel (None for an unknown token)."""
    return Order.objects.select_related("channel").filter(tracking_token=token).first()


def order_returns(order_id: int) -> QuerySet[ReturnRequest]:
    """The returns of an order, newest first, with their lines."""
    return return_list().filter(order_id=order_id).order_by("-created_at", "-id")


# --- reports --------------------------------------------------------------------------------------

COUNTED_STATUSES = frozenset(ACTIVE_RETURN_STATUSES) - {ReturnStatus.REQUESTED}


@dataclass
class SkuRate:
    sku: str
    name: str
    shipped: int
    returned: int
    received: int

    @property
    def rate(self) -> float:
        return self.returned / self.shipped if self.shipped else 0.0

    @property
    def percent(self) -> str:
        return f"{self.rate * 100:.1f} %"

    @property
    def bar(self) -> int:
        """Width of its bar in percent, capped at 100."""
        return min(100, round(self.rate * 100))


@dataclass
class ReasonCount:
    code: str
    label: str
    returns: int
    lines: int
    units: int
    share: float = 0.0

    @property
    def bar(self) -> int:
        return round(self.share * 100)


@dataclass
class ReturnRates:
    start: dt.date
    end: dt.date
    skus: list[SkuRate] = field(default_factory=list)
    reasons: list[ReasonCount] = field(default_factory=list)
    shipped: int = 0
    returned: int = 0

    @property
    def percent(self) -> str:
        return f"{(self.returned / self.shipped * 100) if self.shipped else 0:.1f} %"


def return_rates(*, start: dt.date, end: dt.date, limit: int = 200) -> ReturnRates:
    """Return rates of the orders placed from `start` to `end` (both included): per SKU, units
    on returns that were accepted (authorised and after, not requested, rejected or cancelled)
    over units shipped; per reason, the returns, lines and units. A cohort of orders, so a rate
    never exceeds 100 %. Three queries whatever the number of SKUs and returns."""
    tz = timezone.get_current_timezone()
    since = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    placed = Q(order__placed_at__gte=since, order__placed_at__lt=until)
    shipped_rows = (
        OrderLine.objects.filter(placed, quantity_shipped__gt=0)
        .values("sku_code")
        .annotate(shipped=Sum("quantity_shipped"), name=Max("name"))
    )
    returned = ReturnLine.objects.filter(
        order_line__order__placed_at__gte=since,
        order_line__order__placed_at__lt=until,
        return_request__status__in=COUNTED_STATUSES,
    )
    returned_rows: dict[str, dict[str, Any]] = {
        row["order_line__sku_code"]: dict(row)
        for row in returned.values("order_line__sku_code").annotate(
            units=Sum("quantity"), received=Sum("quantity_received")
        )
    }
    skus = []
    for row in shipped_rows:
        back = returned_rows.get(row["sku_code"], {})
        skus.append(
            SkuRate(
                sku=row["sku_code"],
                name=row["name"] or "",
                shipped=int(row["shipped"]),
                returned=int(back.get("units") or 0),
                received=int(back.get("received") or 0),
            )
        )
    report = ReturnRates(
        start=start,
        end=end,
        shipped=sum(s.shipped for s in skus),
        returned=sum(s.returned for s in skus),
    )
    skus.sort(key=lambda s: (-s.rate, -s.returned, s.sku))
    report.skus = [s for s in skus if s.returned][:limit]
    reasons = [
        ReasonCount(
            code=row["reason__code"],
            label=row["reason__label"],
            returns=int(row["returns"]),
            lines=int(row["lines"]),
            units=int(row["units"] or 0),
        )
        for row in returned.values("reason__code", "reason__label")
        .annotate(
            returns=Count("return_request", distinct=True),
            lines=Count("id"),
            units=Sum("quantity"),
        )
        .order_by("-units", "reason__label")
    ]
    total = sum(r.units for r in reasons)
    for reason in reasons:
        reason.share = reason.units / total if total else 0.0
    report.reasons = reasons
    return report
