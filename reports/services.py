"""The rollup refresh: recompute whole days of every rollup table from the source tables.

`rollups_refresh(start=, end=)` recomputes every day of a range; `rollups_refresh_due()` (beat,
every minute) recomputes the days touched since its last run: the days of the orders, shipments,
routing decisions, stock movements, returns, refunds, sync runs and pushes written since then
(less an overlap, for transactions that committed late), and every day from its last run to
today. Each table is filled by a handful of aggregate queries per range whatever the number of
orders; only the inventory walk goes through the (SKU, location) pairs in Python, once per day.

Invariants: a day's rows are deleted and written again in one transaction, under the lock of
the refresh state row, so two refreshes never interleave and a refresh is idempotent.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from channels.models import ChannelPush, ChannelSyncRun
from channels.states import PushStatus, SyncStatus
from fulfilment.models import RoutingDecision, Shipment
from fulfilment.states import ShipmentStatus
from inventory.forecasting import VELOCITY_PLACES, WINDOWS, blend
from inventory.models import MovementKind, StockMovement
from oms.money import round_money
from orders.models import Order, OrderLine
from orders.states import OrderStatus
from reports.models import (
    ChannelDay,
    FulfilmentDay,
    InventoryDay,
    LeadKind,
    LeadTimeBucket,
    RefreshState,
    RefundDay,
    ReturnReasonDay,
    ReturnSkuDay,
    SalesDay,
)
from reports.sql import Elapsed
from returns.models import Refund, ReturnLine, ReturnRequest
from returns.selectors import COUNTED_STATUSES
from returns.states import RefundStatus

STATE = "rollups"
#: Rows written since this long before the last run started are looked at again.
OVERLAP = dt.timedelta(minutes=5)
#: A range is recomputed this many days at a time (one transaction each).
CHUNK_DAYS = 31
#: Stock on hand with no shipment in this many days (the day included) is dead.
DEAD_DAYS = 90
#: Routing outcomes that found not enough stock.
SHORT_OUTCOMES = ("partial", "none")
HOUR = 3600


def _tz() -> dt.tzinfo:
    return timezone.get_current_timezone()


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=_tz())


def _day(field: str) -> TruncDate:
    return TruncDate(field, tzinfo=_tz())


def _within(field: str, start: dt.date, end: dt.date) -> Q:
    return Q(
        **{f"{field}__gte": day_start(start), f"{field}__lt": day_start(end + dt.timedelta(1))}
    )


def _ranges(days: Iterable[dt.date]) -> Iterator[tuple[dt.date, dt.date]]:
    """Contiguous runs of `days`, each at most CHUNK_DAYS long."""
    ordered = sorted(set(days))
    while ordered:
        start = end = ordered.pop(0)
        while (
            ordered and ordered[0] == end + dt.timedelta(1) and (end - start).days + 1 < CHUNK_DAYS
        ):
            end = ordered.pop(0)
        yield start, end


# --- entry points ---------------------------------------------------------------------------


def rollups_refresh(*, start: dt.date, end: dt.date) -> int:
    """Recompute every rollup for the days from `start` to `end` (both included); returns the
    number of days."""
    if start > end:
        start, end = end, start
    days = [start + dt.timedelta(n) for n in range((end - start).days + 1)]
    for first, last in _ranges(days):
        with transaction.atomic():
            _lock_state()
            _refresh_range(first, last)
    return len(days)


def rollups_refresh_due(*, now: dt.datetime | None = None) -> int:
    """Recompute the days touched since the last run (all of history on the first); returns
    the number of days recomputed."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    with transaction.atomic():
        state = _lock_state()
        if state.started_at is None:
            first = Order.objects.aggregate(first=Min("placed_at"))["first"]
            start = timezone.localtime(first).date() if first else today
            days = {start + dt.timedelta(n) for n in range((today - start).days + 1)}
        else:
            last = timezone.localtime(state.started_at).date()
            days = days_touched(since=state.started_at - OVERLAP)
            days |= {last + dt.timedelta(n) for n in range((today - last).days + 1)}
        days = {d for d in days if d <= today}
        for first_day, last_day in _ranges(days):
            _refresh_range(first_day, last_day)
        state.started_at = now
        state.finished_at = timezone.now()
        state.days = len(days)
        state.save(update_fields=["started_at", "finished_at", "days"])
    return len(days)


def _lock_state() -> RefreshState:
    RefreshState.objects.get_or_create(name=STATE)
    return RefreshState.objects.select_for_update().get(name=STATE)


def _dates(queryset: QuerySet[Any], *fields: str) -> set[dt.date]:
    found: set[dt.date] = set()
    for field in fields:
        found |= {
            d
            for d in queryset.annotate(_d=_day(field))
            .values_list("_d", flat=True)
            .order_by()
            .distinct()
            if d is not None
        }
    return found


def days_touched(*, since: dt.datetime) -> set[dt.date]:
    """The days whose figures the rows written since `since` may change (a few DISTINCT
    queries)."""
    after = since
    days = _dates(Order.objects.filter(updated_at__gte=after), "placed_at", "created_at")
    moved = (
        Q(created_at__gte=after)
        | Q(picked_at__gte=after)
        | Q(packed_at__gte=after)
        | Q(shipped_at__gte=after)
        | Q(delivered_at__gte=after)
        | Q(cancelled_at__gte=after)
    )
    days |= _dates(Shipment.objects.filter(moved), "shipped_at", "delivered_at", "order__placed_at")
    days |= _dates(RoutingDecision.objects.filter(created_at__gte=after), "order__placed_at")
    days |= _dates(StockMovement.objects.filter(created_at__gte=after), "created_at")
    days |= _dates(ReturnRequest.objects.filter(updated_at__gte=after), "order__placed_at")
    days |= _dates(Refund.objects.filter(updated_at__gte=after), "created_at")
    days |= _dates(
        ChannelSyncRun.objects.filter(Q(started_at__gte=after) | Q(finished_at__gte=after)),
        "started_at",
    )
    days |= _dates(
        ChannelPush.objects.filter(Q(created_at__gte=after) | Q(finished_at__gte=after)),
        "created_at",
    )
    return days


def _refresh_range(start: dt.date, end: dt.date) -> None:
    _sales(start, end)
    _fulfilment(start, end)
    _inventory(start, end)
    _returns(start, end)
    _channels(start, end)


def _rows(queryset: Any) -> list[dict[str, Any]]:
    return list(queryset)


def _replace(model: Any, start: dt.date, end: dt.date, rows: Iterable[Any]) -> None:
    model.objects.filter(day__gte=start, day__lte=end).delete()
    model.objects.bulk_create(list(rows), batch_size=500)


# --- sales ----------------------------------------------------------------------------------


def _sales(start: dt.date, end: dt.date) -> None:
    _replace(SalesDay, start, end, sales_days(start, end))


def sales_days(start: dt.date, end: dt.date) -> list[SalesDay]:
    """The sales rollup's rows (unsaved) for the days from `start` to `end`, counted from the
    orders now (the refresh writes them; the home's chart counts today with them)."""
    orders = Order.objects.filter(_within("placed_at", start, end)).exclude(
        status=OrderStatus.CANCELLED
    )
    shipments = (
        Shipment.objects.filter(order=OuterRef("pk"))
        .exclude(status=ShipmentStatus.CANCELLED)
        .order_by()
        .values("order")
        .annotate(n=Count("id"))
        .values("n")
    )
    short = RoutingDecision.objects.filter(order=OuterRef("pk"), outcome__in=SHORT_OUTCOMES)
    base = Case(
        When(total_base__isnull=False, then=F("total_base")),
        When(currency=F("base_currency"), then=F("total")),
        default=Value(Decimal(0)),
        output_field=DecimalField(max_digits=18, decimal_places=4),
    )
    rows = (
        orders.annotate(
            d=_day("placed_at"),
            n_shipments=Coalesce(Subquery(shipments), 0),
            short=Exists(short),
        )
        .values("d", "channel_id")
        .order_by()
        .annotate(
            orders=Count("id"),
            revenue=Sum(base),
            unconverted=Count(
                "id", filter=Q(total_base__isnull=True) & ~Q(currency=F("base_currency"))
            ),
            split=Count("id", filter=Q(n_shipments__gt=1)),
            backordered=Count("id", filter=Q(short=True)),
            open=Count("id", filter=Q(status=OrderStatus.BACKORDERED)),
        )
    )
    units = {
        (r["d"], r["order__channel_id"]): r["units"]
        for r in OrderLine.objects.filter(order__in=orders)
        .annotate(d=_day("order__placed_at"))
        .values("d", "order__channel_id")
        .order_by()
        .annotate(units=Sum(F("quantity") - F("quantity_cancelled")))
    }
    base_currency = settings.BASE_CURRENCY
    return [
        SalesDay(
            day=r["d"],
            channel_id=r["channel_id"],
            orders=r["orders"],
            units=units.get((r["d"], r["channel_id"])) or 0,
            revenue=round_money(r["revenue"] or Decimal(0), base_currency),
            unconverted=r["unconverted"],
            orders_split=r["split"],
            orders_backordered=r["backordered"],
            backorders_open=r["open"],
        )
        for r in rows
    ]


# --- fulfilment -----------------------------------------------------------------------------


def _fulfilment(start: dt.date, end: dt.date) -> None:
    facts: dict[tuple[dt.date, int, int], FulfilmentDay] = {}

    def fact(day: dt.date, channel: int, location: int) -> FulfilmentDay:
        key = (day, channel, location)
        if key not in facts:
            facts[key] = FulfilmentDay(day=day, channel_id=channel, location_id=location)
        return facts[key]

    buckets: list[LeadTimeBucket] = []
    for kind, stamp, promise in (
        (LeadKind.SHIP, "shipped_at", "expected_ship_date"),
        (LeadKind.DELIVER, "delivered_at", "expected_delivery_date"),
    ):
        done = Shipment.objects.filter(_within(stamp, start, end)).annotate(d=_day(stamp))
        for r in _rows(
            done.values("d", "order__channel_id", "location_id")
            .order_by()
            .annotate(
                n=Count("id"),
                promised=Count("id", filter=Q(**{f"{promise}__isnull": False})),
                on_time=Count("id", filter=Q(**{f"{promise}__gte": F("d")})),
            )
        ):
            row = fact(r["d"], r["order__channel_id"], r["location_id"])
            if kind == LeadKind.SHIP:
                row.shipped, row.shipped_promised, row.shipped_on_time = (
                    r["n"],
                    r["promised"],
                    r["on_time"],
                )
            else:
                row.delivered, row.delivered_promised, row.delivered_on_time = (
                    r["n"],
                    r["promised"],
                    r["on_time"],
                )
        buckets += [
            LeadTimeBucket(
                day=r["d"],
                channel_id=r["order__channel_id"],
                location_id=r["location_id"],
                kind=kind,
                hours=r["hours"],
                count=r["n"],
            )
            for r in done.annotate(hours=Elapsed(F(stamp), F("order__placed_at"), unit=HOUR))
            .values("d", "order__channel_id", "location_id", "hours")
            .order_by()
            .annotate(n=Count("id"))
        ]
    channel = Order.objects.filter(pk=OuterRef("order_id")).values("channel_id")[:1]
    for r in _rows(
        StockMovement.objects.filter(
            _within("created_at", start, end),
            kind=MovementKind.RELEASE,
            reason__startswith="short pick",
        )
        .annotate(d=_day("created_at"), channel=Subquery(channel))
        .filter(channel__isnull=False)
        .values("d", "channel", "location_id")
        .order_by()
        .annotate(released=Sum("reserved_delta"))
    ):
        fact(r["d"], r["channel"], r["location_id"]).units_short = -(r["released"] or 0)
    _replace(FulfilmentDay, start, end, facts.values())
    _replace(LeadTimeBucket, start, end, buckets)


# --- inventory ------------------------------------------------------------------------------


def _velocity(prefix: list[int], end: int) -> Decimal:
    """The forecast method's blended velocity from the days before index `end` of a series
    whose prefix sums are `prefix` (inventory.forecasting: 7/28/90-day rates, 0.5/0.3/0.2)."""
    rates = [
        (Decimal(prefix[end] - prefix[max(0, end - days)]) / days).quantize(
            VELOCITY_PLACES, rounding=ROUND_HALF_UP
        )
        for days in WINDOWS
    ]
    return blend(v7=rates[0], v28=rates[1], v90=rates[2])


Pairs = dict[tuple[int, int], dict[dt.date, int]]


def _ledger(start: dt.date, end: dt.date, history: dt.date) -> tuple[dict[Any, int], Pairs, Pairs]:
    """Per (SKU, location): the units on hand before `start`, each day's change from `start`
    to `end`, and each day's units shipped from `history` to `end` (three grouped queries)."""
    opening: dict[tuple[int, int], int] = {
        (r["sku_id"], r["location_id"]): r["on_hand"] or 0
        for r in StockMovement.objects.filter(created_at__lt=day_start(start))
        .values("sku_id", "location_id")
        .order_by()
        .annotate(on_hand=Sum("on_hand_delta"))
    }
    changes: Pairs = defaultdict(dict)
    for r in _rows(
        StockMovement.objects.filter(_within("created_at", start, end))
        .annotate(d=_day("created_at"))
        .values("sku_id", "location_id", "d")
        .order_by()
        .annotate(delta=Sum("on_hand_delta"))
    ):
        changes[(r["sku_id"], r["location_id"])][r["d"]] = r["delta"] or 0
    shipped: Pairs = defaultdict(dict)
    for r in _rows(
        StockMovement.objects.filter(
            _within("created_at", history, end), kind=MovementKind.SHIPMENT
        )
        .annotate(d=_day("created_at"))
        .values("sku_id", "location_id", "d")
        .order_by()
        .annotate(units=Sum("on_hand_delta"))
    ):
        shipped[(r["sku_id"], r["location_id"])][r["d"]] = max(0, -(r["units"] or 0))
    return opening, changes, shipped


def _inventory(start: dt.date, end: dt.date) -> None:
    """Each day's closing stock per (SKU, location) from the ledger, walked day by day from
    the levels before `start`; the day's shipped units, its forecast from the days before (the
    forecast method's velocity) and whether nothing shipped in the DEAD_DAYS to it."""
    history = start - dt.timedelta(max(max(WINDOWS), DEAD_DAYS))
    opening, changes, shipped = _ledger(start, end, history)
    span = (end - history).days + 1
    offset = (start - history).days
    totals: dict[tuple[dt.date, int], dict[str, Any]] = {}
    for pair in set(opening) | set(changes):
        on_hand = opening.get(pair, 0)
        series = [0] * span
        for day, units in shipped.get(pair, {}).items():
            series[(day - history).days] = units
        prefix = [0]
        for units in series:
            prefix.append(prefix[-1] + units)
        first_seen = min(changes[pair]) if pair not in opening else start
        for n in range((end - start).days + 1):
            day = start + dt.timedelta(n)
            on_hand += changes.get(pair, {}).get(day, 0)
            if day < first_seen:
                continue
            index = offset + n
            sold, forecast = series[index], _velocity(prefix, index)
            row = totals.setdefault(
                (day, pair[1]),
                {"skus": 0, "out": 0, "dead": 0, "on_hand": 0, "sold": 0}
                | {"f": Decimal(0), "err": Decimal(0)},
            )
            row["skus"] += 1
            row["out"] += on_hand <= 0
            row["dead"] += on_hand > 0 and prefix[index + 1] == prefix[index + 1 - DEAD_DAYS]
            row["on_hand"] += on_hand
            row["sold"] += sold
            row["f"] += forecast
            row["err"] += abs(Decimal(sold) - forecast)
    _replace(
        InventoryDay,
        start,
        end,
        (
            InventoryDay(
                day=day,
                location_id=location,
                skus=t["skus"],
                skus_out=t["out"],
                skus_dead=t["dead"],
                on_hand=t["on_hand"],
                units_sold=t["sold"],
                forecast=t["f"],
                forecast_error=t["err"],
            )
            for (day, location), t in totals.items()
        ),
    )


# --- returns --------------------------------------------------------------------------------


def _returns(start: dt.date, end: dt.date) -> None:
    placed = _within("order__placed_at", start, end)
    skus: dict[tuple[dt.date, int, str], ReturnSkuDay] = {}

    def sku_row(day: dt.date, channel: int, code: str) -> ReturnSkuDay:
        key = (day, channel, code)
        if key not in skus:
            skus[key] = ReturnSkuDay(day=day, channel_id=channel, sku_code=code)
        return skus[key]

    for r in _rows(
        OrderLine.objects.filter(placed, quantity_shipped__gt=0)
        .annotate(d=_day("order__placed_at"))
        .values("d", "order__channel_id", "sku_code")
        .order_by()
        .annotate(units=Sum("quantity_shipped"))
    ):
        sku_row(r["d"], r["order__channel_id"], r["sku_code"]).units_shipped = r["units"]
    lines = ReturnLine.objects.filter(
        _within("order_line__order__placed_at", start, end),
        return_request__status__in=COUNTED_STATUSES,
    ).annotate(d=_day("order_line__order__placed_at"))
    for r in _rows(
        lines.values("d", "order_line__order__channel_id", "order_line__sku_code")
        .order_by()
        .annotate(
            units=Sum("quantity"),
            restocked=Sum("quantity_restocked"),
            written_off=Sum("quantity_written_off"),
        )
    ):
        row = sku_row(r["d"], r["order_line__order__channel_id"], r["order_line__sku_code"])
        row.units_returned = r["units"] or 0
        row.units_restocked = r["restocked"] or 0
        row.units_written_off = r["written_off"] or 0
    _replace(ReturnSkuDay, start, end, skus.values())
    _replace(
        ReturnReasonDay,
        start,
        end,
        (
            ReturnReasonDay(
                day=r["d"],
                channel_id=r["order_line__order__channel_id"],
                reason=r["reason__code"],
                returns=r["returns"],
                units=r["units"] or 0,
            )
            for r in lines.values("d", "order_line__order__channel_id", "reason__code")
            .order_by()
            .annotate(returns=Count("return_request", distinct=True), units=Sum("quantity"))
        ),
    )
    in_base = Case(
        When(currency=F("order__base_currency"), then=F("amount")),
        When(order__fx_rate__isnull=False, then=F("amount") * F("order__fx_rate")),
        default=Value(Decimal(0)),
        output_field=DecimalField(max_digits=30, decimal_places=14),
    )
    base_currency = settings.BASE_CURRENCY
    _replace(
        RefundDay,
        start,
        end,
        (
            RefundDay(
                day=r["d"],
                channel_id=r["order__channel_id"],
                refunds=r["n"],
                amount=round_money(Decimal(r["amount"] or 0), base_currency),
            )
            for r in Refund.objects.filter(
                _within("created_at", start, end), status=RefundStatus.SUCCEEDED
            )
            .annotate(d=_day("created_at"))
            .values("d", "order__channel_id")
            .order_by()
            .annotate(n=Count("id"), amount=Sum(in_base))
        ),
    )


# --- channels -------------------------------------------------------------------------------


def _channels(start: dt.date, end: dt.date) -> None:
    rows: dict[tuple[dt.date, int], ChannelDay] = {}

    def row(day: dt.date, channel: int) -> ChannelDay:
        if (day, channel) not in rows:
            rows[(day, channel)] = ChannelDay(day=day, channel_id=channel)
        return rows[(day, channel)]

    for r in _rows(
        ChannelSyncRun.objects.filter(_within("started_at", start, end))
        .annotate(d=_day("started_at"))
        .values("d", "channel_id")
        .order_by()
        .annotate(
            n=Count("id"),
            runs_failed=Count("id", filter=Q(status=SyncStatus.FAILED)),
            records=Sum("failed"),
        )
    ):
        one = row(r["d"], r["channel_id"])
        one.sync_runs, one.sync_runs_failed = r["n"], r["runs_failed"]
        one.failed_records = r["records"] or 0
    for r in _rows(
        ChannelPush.objects.filter(_within("created_at", start, end))
        .annotate(d=_day("created_at"))
        .values("d", "channel_id")
        .order_by()
        .annotate(
            n=Count("id"),
            failed=Count("id", filter=Q(status__in=[PushStatus.FAILED, PushStatus.PARTIAL])),
        )
    ):
        one = row(r["d"], r["channel_id"])
        one.pushes, one.pushes_failed = r["n"], r["failed"]
    for r in _rows(
        Order.objects.filter(_within("created_at", start, end))
        .annotate(d=_day("created_at"), lag=Elapsed(F("created_at"), F("placed_at")))
        .values("d", "channel_id")
        .order_by()
        .annotate(n=Count("id"), total=Sum("lag"), most=Max("lag"))
    ):
        one = row(r["d"], r["channel_id"])
        one.lag_orders, one.lag_seconds, one.lag_seconds_max = (
            r["n"],
            int(r["total"] or 0),
            int(r["most"] or 0),
        )
    _replace(ChannelDay, start, end, rows.values())
