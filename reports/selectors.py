"""The reports, read from the rollup tables (reports.models): one grouped query per table and
report, whatever the number of orders behind it, then days folded into weeks or months here.

Every report answers `Report`: `columns` (key and label, in order), `rows` (one per period of the
range, empty periods included, so a chart has no holes), `totals` over the range, and
`breakdowns` (per location, channel, SKU or reason). Figures are ints, Decimals (money in the
base currency, 2 places; rates 0 to 1, 4 places; averages) or None where nothing was counted.

- sales: orders, units, revenue, average order value = revenue / the orders with a base total.
- fulfilment: shipped, on time = shipped by the promised ship date / shipped with a promise;
  order-to-ship and order-to-delivery lead time percentiles p50 and p90 in whole hours (nearest
  rank over the shipments' hours); split rate and backorder rate over the orders placed;
  units short-picked; in totals, the backorders still open and their average age in days.
- inventory: SKU-days out of stock, the closing stock, SKUs and dead SKUs of the period's last
  day, units sold, days of cover = closing stock / units sold per day, WAPE = sum |sold -
  forecast| / sum sold (a day's forecast is the forecast method's velocity from the days
  before it).
- returns: units shipped and returned of the orders placed in the period, return rate, units
  restocked and written off, refunds and their total by the day they were requested.
- channels: sync runs, failed runs, failed records, pushes and failed pushes, sync lag
  (average and longest seconds from an order's placing on the channel to its arrival).
- subscriptions (read from the subscriptions themselves, not a rollup): per period, the
  subscriptions live at its start (created before it, not cancelled or failed by then; paused
  ones count), new ones, those that left by cancellation or failure (each counted once, when
  it first left) and churn = left / live at the start. Totals add, as of now: active, paused
  and failed subscriptions and the monthly recurring revenue of the active ones in the base
  currency (subscriptions.selectors.monthly_amounts: a renewal's lines and shipping, day x
  30.4375, week x 52/12, month x 1, over interval_count; converted at today's rate as orders
  are, orders.selectors.rates_to_base; a currency without a rate is counted in
  mrr_unconverted, never guessed). Breakdown per channel.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from inventory.models import Channel, Location
from oms.money import round_money
from orders.selectors import rates_to_base
from reports.models import (
    ChannelDay,
    FulfilmentDay,
    InventoryDay,
    LeadKind,
    LeadTimeBucket,
    RefundDay,
    ReturnReasonDay,
    ReturnSkuDay,
    SalesDay,
)
from subscriptions.models import Subscription
from subscriptions.selectors import monthly_amounts
from subscriptions.states import SubscriptionStatus

REPORTS = ("sales", "fulfilment", "inventory", "returns", "channels", "subscriptions")
GROUPS = ("day", "week", "month")
TITLES = {
    "sales": "Sales",
    "fulfilment": "Fulfilment",
    "inventory": "Inventory",
    "returns": "Returns",
    "channels": "Channels",
    "subscriptions": "Subscriptions",
}
#: Which filters apply to which report (the others are refused).
FILTERS = {
    "sales": ("channel",),
    "fulfilment": ("channel", "location"),
    "inventory": ("location",),
    "returns": ("channel",),
    "channels": ("channel",),
    "subscriptions": ("channel",),
}
MAX_DAYS = 3 * 366
RATE = Decimal("0.0001")
ONE_PLACE = Decimal("0.1")
WAPE_PLACES = Decimal("0.001")


@dataclass(frozen=True)
class Query:
    name: str
    start: dt.date
    end: dt.date
    group: str = "day"
    channel: Channel | None = None
    location: Location | None = None


@dataclass
class Report:
    name: str
    title: str
    query: Query
    columns: list[tuple[str, str]]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    breakdowns: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: The columns the chart draws: (key, label, "bar" or "line").
    chart: list[tuple[str, str, str]] = field(default_factory=list)


def period_of(day: dt.date, group: str) -> dt.date:
    if group == "week":
        return day - dt.timedelta(days=day.weekday())
    if group == "month":
        return day.replace(day=1)
    return day


def periods(start: dt.date, end: dt.date, group: str) -> list[dt.date]:
    found: list[dt.date] = []
    day = start
    while day <= end:
        key = period_of(day, group)
        if not found or found[-1] != key:
            found.append(key)
        day += dt.timedelta(days=1)
    return found


def ratio(part: Any, whole: Any, places: Decimal = RATE) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(places, rounding=ROUND_HALF_UP)


def percentile(histogram: dict[int, int], p: int) -> int | None:
    """The nearest-rank p-th percentile of a histogram {value: count}: the smallest value with
    at least p % of the counts at or below it."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, -(-total * p // 100))  # ceil(p/100 * total)
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return None  # pragma: no cover - the counts add up to total


def _money(value: Any) -> Decimal:
    return round_money(Decimal(value or 0), settings.BASE_CURRENCY)


def _filtered(queryset: Any, query: Query, *dims: str) -> QuerySet[Any]:
    queryset = queryset.filter(day__gte=query.start, day__lte=query.end)
    if "channel" in dims and query.channel is not None:
        queryset = queryset.filter(channel=query.channel)
    if "location" in dims and query.location is not None:
        queryset = queryset.filter(location=query.location)
    return queryset


def _sums(
    queryset: QuerySet[Any], by: Iterable[str], fields: Iterable[str]
) -> list[dict[str, Any]]:
    return list(queryset.values(*by).order_by().annotate(**{f: Sum(f) for f in fields}))


def _fold(
    rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Any], fields: Iterable[str]
) -> dict[Any, dict[str, Any]]:
    """Add up `fields` of `rows` per key."""
    folded: dict[Any, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(fields, 0))
    for row in rows:
        into = folded[key(row)]
        for f in fields:
            into[f] += row[f] or 0
    return folded


def _by_period(query: Query, rows: Iterable[dict[str, Any]], fields: Iterable[str]) -> Any:
    fields = list(fields)
    folded = _fold(rows, lambda r: period_of(r["day"], query.group), fields)
    return [
        (p, folded.get(p) or dict.fromkeys(fields, 0))
        for p in periods(query.start, query.end, query.group)
    ]


def build(query: Query) -> Report:
    return BUILDERS[query.name](query)


# --- sales ----------------------------------------------------------------------------------

SALES = ("orders", "units", "revenue", "unconverted")


def _sales_figures(s: dict[str, Any]) -> dict[str, Any]:
    converted = s["orders"] - s["unconverted"]
    return {
        "orders": s["orders"],
        "units": s["units"],
        "revenue": _money(s["revenue"]),
        "average_order_value": _money(s["revenue"] / converted) if converted else None,
        "unconverted": s["unconverted"],
    }


def sales(
    query: Query, *, live_from: dt.date | None = None, live: Iterable[SalesDay] = ()
) -> Report:
    """The sales report from the rollup; with `live_from`, the days from then on are `live`'s
    rows instead (reports.services.sales_days: today counted from the orders, for the home's
    chart, as beat refreshes the rollup only every minute)."""
    days = _sales_days(query, live_from, live)
    rows = [{"period": p, **_sales_figures(s)} for p, s in _by_period(query, days, SALES)]
    channels = _fold(days, lambda r: r["channel__code"], SALES)
    return Report(
        name="sales",
        title=TITLES["sales"],
        query=query,
        columns=[
            ("orders", "Orders"),
            ("units", "Units"),
            ("revenue", f"Revenue ({settings.BASE_CURRENCY})"),
            ("average_order_value", "Average order value"),
            ("unconverted", "Not converted yet"),
        ],
        rows=rows,
        totals=_sales_figures(_fold(days, lambda r: 0, SALES)[0]),
        breakdowns={
            "channels": [
                {"channel": code, **_sales_figures(s)} for code, s in sorted(channels.items())
            ]
        },
        chart=[("revenue", "Revenue", "bar"), ("orders", "Orders", "line")],
    )


def _sales_days(
    query: Query, live_from: dt.date | None, live: Iterable[SalesDay]
) -> list[dict[str, Any]]:
    rolled = _filtered(SalesDay.objects, query, "channel")
    if live_from is None:
        return _sums(rolled, ["day", "channel__code"], SALES)
    days = _sums(rolled.filter(day__lt=live_from), ["day", "channel__code"], SALES)
    live = [
        fact
        for fact in live
        if query.start <= fact.day <= query.end
        and (query.channel is None or fact.channel_id == query.channel.pk)
    ]
    codes = dict(
        Channel.objects.filter(pk__in={f.channel_id for f in live}).values_list("pk", "code")
    )
    days += [
        {
            "day": f.day,
            "channel__code": codes.get(f.channel_id),
            **{k: getattr(f, k) for k in SALES},
        }
        for f in live
    ]
    return days


# --- fulfilment -----------------------------------------------------------------------------

FULFILMENT = (
    "shipped",
    "shipped_promised",
    "shipped_on_time",
    "delivered",
    "delivered_promised",
    "delivered_on_time",
    "units_short",
)
ORDERS = ("orders", "orders_split", "orders_backordered")


def _lead_rows(query: Query) -> list[dict[str, Any]]:
    return _sums(
        _filtered(LeadTimeBucket.objects, query, "channel", "location"),
        ["day", "location__code", "kind", "hours"],
        ["count"],
    )


def _histograms(
    rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any]
) -> dict[Any, dict[str, dict[int, int]]]:
    """The lead-time histograms {kind: {hours: shipments}} per key of the bucket rows."""
    found: dict[Any, dict[str, dict[int, int]]] = defaultdict(
        lambda: {LeadKind.SHIP: defaultdict(int), LeadKind.DELIVER: defaultdict(int)}
    )
    for row in rows:
        found[key(row)][row["kind"]][row["hours"]] += row["count"]
    return found


def _fulfilment_figures(
    f: dict[str, Any], hist: dict[str, dict[int, int]], orders: dict[str, Any] | None
) -> dict[str, Any]:
    ship, deliver = hist[LeadKind.SHIP], hist[LeadKind.DELIVER]
    return {
        "shipped": f["shipped"],
        "on_time_rate": ratio(f["shipped_on_time"], f["shipped_promised"]),
        "ship_p50_hours": percentile(ship, 50),
        "ship_p90_hours": percentile(ship, 90),
        "delivered": f["delivered"],
        "delivered_on_time_rate": ratio(f["delivered_on_time"], f["delivered_promised"]),
        "delivery_p50_hours": percentile(deliver, 50),
        "delivery_p90_hours": percentile(deliver, 90),
        "split_rate": ratio(orders["orders_split"], orders["orders"]) if orders else None,
        "backorder_rate": ratio(orders["orders_backordered"], orders["orders"]) if orders else None,
        "units_short": f["units_short"],
    }


def fulfilment(query: Query) -> Report:
    days = _sums(
        _filtered(FulfilmentDay.objects, query, "channel", "location"),
        ["day", "location__code"],
        FULFILMENT,
    )
    # Orders are not at a location: the split and backorder rates need no location filter.
    order_days = (
        []
        if query.location is not None
        else _sums(_filtered(SalesDay.objects, query, "channel"), ["day"], ORDERS)
    )
    by_orders = _fold(order_days, lambda r: period_of(r["day"], query.group), ORDERS)
    lead = _lead_rows(query)
    hist = _histograms(lead, lambda r: period_of(r["day"], query.group))
    rows = [
        {"period": p, **_fulfilment_figures(f, hist[p], by_orders.get(p))}
        for p, f in _by_period(query, days, FULFILMENT)
    ]
    whole = _fold(days, lambda r: 0, FULFILMENT)[0]
    totals = _fulfilment_figures(
        whole, _histograms(lead, lambda r: 0)[0], _fold(order_days, lambda r: 0, ORDERS).get(0)
    )
    totals.update(_backorders_open(query))
    locations = _fold(days, lambda r: r["location__code"], FULFILMENT)
    by_location = _histograms(lead, lambda r: r["location__code"])
    return Report(
        name="fulfilment",
        title=TITLES["fulfilment"],
        query=query,
        columns=[
            ("shipped", "Shipped"),
            ("on_time_rate", "Shipped on time"),
            ("ship_p50_hours", "Order to ship p50 (h)"),
            ("ship_p90_hours", "Order to ship p90 (h)"),
            ("delivered", "Delivered"),
            ("delivered_on_time_rate", "Delivered on time"),
            ("delivery_p50_hours", "Order to delivery p50 (h)"),
            ("delivery_p90_hours", "Order to delivery p90 (h)"),
            ("split_rate", "Split orders"),
            ("backorder_rate", "Backordered orders"),
            ("units_short", "Units short-picked"),
        ],
        rows=rows,
        totals=totals,
        breakdowns={
            "locations": [
                {"location": code, **_fulfilment_figures(f, by_location[code], None)}
                for code, f in sorted(locations.items())
            ]
        },
        chart=[("shipped", "Shipped", "bar"), ("ship_p90_hours", "Order to ship p90 (h)", "line")],
    )


def _backorders_open(query: Query) -> dict[str, Any]:
    if query.location is not None:
        return {"backorders_open": None, "backorder_age_days": None}
    today = timezone.localdate()
    open_days = [
        (r["day"], r["backorders_open"])
        for r in _sums(_filtered(SalesDay.objects, query, "channel"), ["day"], ["backorders_open"])
        if r["backorders_open"]
    ]
    count = sum(n for _, n in open_days)
    age = sum(n * (today - day).days for day, n in open_days)
    return {"backorders_open": count, "backorder_age_days": ratio(age, count, ONE_PLACE)}


# --- inventory ------------------------------------------------------------------------------

STOCK = ("skus", "skus_out", "skus_dead", "on_hand", "units_sold", "forecast", "forecast_error")


def _inventory_figures(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Figures of some days' rows (already summed over locations per day)."""
    if not days:
        return {
            "stockout_sku_days": 0,
            "skus": None,
            "skus_dead": None,
            "on_hand": None,
            "units_sold": 0,
            "days_of_cover": None,
            "wape": None,
        }
    last = max(days, key=lambda r: r["day"])
    sold = sum(r["units_sold"] for r in days)
    span = len({r["day"] for r in days})
    return {
        "stockout_sku_days": sum(r["skus_out"] for r in days),
        "skus": last["skus"],
        "skus_dead": last["skus_dead"],
        "on_hand": last["on_hand"],
        "units_sold": sold,
        "days_of_cover": ratio(last["on_hand"] * span, sold, ONE_PLACE),
        "wape": ratio(sum(r["forecast_error"] for r in days), sold, WAPE_PLACES),
    }


def inventory(query: Query) -> Report:
    rows_in = _sums(
        _filtered(InventoryDay.objects, query, "location"), ["day", "location__code"], STOCK
    )
    per_day = _fold(rows_in, lambda r: r["day"], STOCK)
    days = [{"day": d, **v} for d, v in per_day.items()]
    grouped: dict[dt.date, list[dict[str, Any]]] = defaultdict(list)
    for d in days:
        grouped[period_of(d["day"], query.group)].append(d)
    locations: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows_in:
        locations[r["location__code"]].append(r)
    return Report(
        name="inventory",
        title=TITLES["inventory"],
        query=query,
        columns=[
            ("stockout_sku_days", "SKU-days out of stock"),
            ("skus", "SKUs stocked"),
            ("skus_dead", "Dead SKUs (90 days)"),
            ("on_hand", "Units on hand"),
            ("units_sold", "Units sold"),
            ("days_of_cover", "Days of cover"),
            ("wape", "Forecast WAPE"),
        ],
        rows=[
            {"period": p, **_inventory_figures(grouped.get(p, []))}
            for p in periods(query.start, query.end, query.group)
        ],
        totals=_inventory_figures(days),
        breakdowns={
            "locations": [
                {"location": code, **_inventory_figures(rs)}
                for code, rs in sorted(locations.items())
            ]
        },
        chart=[
            ("stockout_sku_days", "SKU-days out of stock", "bar"),
            ("units_sold", "Units sold", "line"),
        ],
    )


# --- returns --------------------------------------------------------------------------------

RETURNS = ("units_shipped", "units_returned", "units_restocked", "units_written_off")
REFUNDS = ("refunds", "amount")


def _returns_figures(r: dict[str, Any], refunds: dict[str, Any] | None) -> dict[str, Any]:
    figures = {
        "units_shipped": r["units_shipped"],
        "units_returned": r["units_returned"],
        "return_rate": ratio(r["units_returned"], r["units_shipped"]),
        "units_restocked": r["units_restocked"],
        "units_written_off": r["units_written_off"],
    }
    if refunds is not None:
        figures["refunds"] = refunds["refunds"]
        figures["refund_total"] = _money(refunds["amount"])
    return figures


def returns(query: Query) -> Report:
    days = _sums(
        _filtered(ReturnSkuDay.objects, query, "channel"),
        ["day", "channel__code", "sku_code"],
        RETURNS,
    )
    refund_days = _sums(_filtered(RefundDay.objects, query, "channel"), ["day"], REFUNDS)
    refunds = dict(_by_period(query, refund_days, REFUNDS))
    reasons = _sums(
        _filtered(ReturnReasonDay.objects, query, "channel"), ["reason"], ["returns", "units"]
    )
    skus = _fold(days, lambda r: r["sku_code"], RETURNS)
    channels = _fold(days, lambda r: r["channel__code"], RETURNS)
    return Report(
        name="returns",
        title=TITLES["returns"],
        query=query,
        columns=[
            ("units_shipped", "Units shipped"),
            ("units_returned", "Units returned"),
            ("return_rate", "Return rate"),
            ("units_restocked", "Restocked"),
            ("units_written_off", "Written off"),
            ("refunds", "Refunds"),
            ("refund_total", f"Refunded ({settings.BASE_CURRENCY})"),
        ],
        rows=[
            {"period": p, **_returns_figures(r, refunds[p])}
            for p, r in _by_period(query, days, RETURNS)
        ],
        totals=_returns_figures(
            _fold(days, lambda r: 0, RETURNS).get(0) or dict.fromkeys(RETURNS, 0),
            _fold(refund_days, lambda r: 0, REFUNDS).get(0) or dict.fromkeys(REFUNDS, 0),
        ),
        breakdowns={
            "skus": sorted(
                ({"sku": code, **_returns_figures(r, None)} for code, r in skus.items()),
                key=lambda r: (-(r["return_rate"] or 0), r["sku"]),
            ),
            "reasons": sorted(
                (
                    {"reason": r["reason"], "returns": r["returns"], "units": r["units"]}
                    for r in reasons
                ),
                key=lambda r: (-r["units"], r["reason"]),
            ),
            "channels": [
                {"channel": code, **_returns_figures(r, None)}
                for code, r in sorted(channels.items())
            ],
        },
        chart=[("units_returned", "Units returned", "bar"), ("return_rate", "Return rate", "line")],
    )


# --- channels -------------------------------------------------------------------------------

CHANNELS = (
    "sync_runs",
    "sync_runs_failed",
    "failed_records",
    "pushes",
    "pushes_failed",
    "lag_orders",
    "lag_seconds",
)


def _channel_figures(c: dict[str, Any], most: int | None) -> dict[str, Any]:
    return {
        "sync_runs": c["sync_runs"],
        "sync_runs_failed": c["sync_runs_failed"],
        "failed_records": c["failed_records"],
        "pushes": c["pushes"],
        "pushes_failed": c["pushes_failed"],
        "sync_lag_seconds": ratio(c["lag_seconds"], c["lag_orders"], ONE_PLACE),
        "sync_lag_max_seconds": most,
    }


def channels(query: Query) -> Report:
    queryset = _filtered(ChannelDay.objects, query, "channel")
    days = list(
        queryset.values("day", "channel__code")
        .order_by()
        .annotate(**{f: Sum(f) for f in CHANNELS}, most=Sum("lag_seconds_max"))
    )
    most_by_period: dict[Any, int] = defaultdict(int)
    most_by_channel: dict[Any, int] = defaultdict(int)
    for r in days:
        key = period_of(r["day"], query.group)
        most_by_period[key] = max(most_by_period[key], r["most"] or 0)
        most_by_channel[r["channel__code"]] = max(
            most_by_channel[r["channel__code"]], r["most"] or 0
        )
    channel_sums = _fold(days, lambda r: r["channel__code"], CHANNELS)
    whole = _fold(days, lambda r: 0, CHANNELS).get(0) or dict.fromkeys(CHANNELS, 0)
    return Report(
        name="channels",
        title=TITLES["channels"],
        query=query,
        columns=[
            ("sync_runs", "Sync runs"),
            ("sync_runs_failed", "Failed runs"),
            ("failed_records", "Failed records"),
            ("pushes", "Pushes"),
            ("pushes_failed", "Failed pushes"),
            ("sync_lag_seconds", "Sync lag, average (s)"),
            ("sync_lag_max_seconds", "Sync lag, longest (s)"),
        ],
        rows=[
            {"period": p, **_channel_figures(c, most_by_period.get(p) if c["lag_orders"] else None)}
            for p, c in _by_period(query, days, CHANNELS)
        ],
        totals=_channel_figures(
            whole, max(most_by_period.values(), default=None) if whole["lag_orders"] else None
        ),
        breakdowns={
            "channels": [
                {"channel": code, **_channel_figures(c, most_by_channel[code])}
                for code, c in sorted(channel_sums.items())
            ]
        },
        chart=[
            ("failed_records", "Failed records", "bar"),
            ("pushes_failed", "Failed pushes", "bar"),
            ("sync_lag_seconds", "Sync lag (s)", "line"),
        ],
    )


# --- subscriptions --------------------------------------------------------------------------

CHURN = ("new", "cancelled", "failed")


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def _left(cancelled_at: Any, failed_at: Any) -> tuple[Any, str]:
    """When a subscription first left, and how (None if it never did)."""
    moments = [(m, k) for m, k in ((failed_at, "failed"), (cancelled_at, "cancelled")) if m]
    return min(moments, key=lambda mk: mk[0]) if moments else (None, "")


def _churn_figures(live: int, c: dict[str, int]) -> dict[str, Any]:
    return {
        "live_at_start": live,
        "new": c["new"],
        "cancelled": c["cancelled"],
        "failed": c["failed"],
        "churn_rate": ratio(c["cancelled"] + c["failed"], live),
    }


def _churn(query: Query, starts: list[dt.datetime]) -> dict[Any, list[dict[str, Any]]]:
    """Per channel code, the churn figures of each window [starts[i], starts[i + 1])."""
    subs = Subscription.objects.all()
    if query.channel is not None:
        subs = subs.filter(channel=query.channel)
    fields = ("channel__code", "created_at", "cancelled_at", "failed_at")
    windows = list(pairwise(starts))
    out: dict[Any, list[dict[str, Any]]] = {}
    for code, created, cancelled_at, failed_at in subs.values_list(*fields).order_by():
        left_at, how = _left(cancelled_at, failed_at)
        figures = out.setdefault(code, [{"live": 0, **dict.fromkeys(CHURN, 0)} for _ in windows])
        for into, (start, end) in zip(figures, windows, strict=True):
            into["live"] += created < start and (left_at is None or left_at >= start)
            into["new"] += start <= created < end
            if left_at is not None and start <= left_at < end:
                into[how] += 1
    return out


def _mrr(query: Query) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], int]]:
    """Per channel code, the MRR in the base currency and the active subscriptions whose
    currency has no rate; and the subscriptions per (channel code, status) now."""
    amounts = monthly_amounts(query.channel)
    rates = rates_to_base({currency for _, currency, _ in amounts})
    mrr: dict[str, dict[str, Any]] = defaultdict(lambda: {"mrr": Decimal(0), "unconverted": 0})
    for code, currency, amount in amounts:
        if currency in rates:
            mrr[code]["mrr"] += amount * rates[currency]
        else:
            mrr[code]["unconverted"] += 1
    subs = Subscription.objects.all()
    if query.channel is not None:
        subs = subs.filter(channel=query.channel)
    counted = subs.values_list("channel__code", "status").annotate(n=Count("id")).order_by()
    return mrr, {(code, status): n for code, status, n in counted}


def _now_figures(
    code: str | None, mrr: dict[str, Any], counts: dict[tuple[str, str], int]
) -> dict[str, Any]:
    def count(status: str) -> int:
        return sum(n for (c, s), n in counts.items() if s == status and code in (None, c))

    return {
        "active": count(SubscriptionStatus.ACTIVE),
        "paused": count(SubscriptionStatus.PAUSED),
        "failed_now": count(SubscriptionStatus.FAILED),
        "mrr": _money(mrr["mrr"]),
        "mrr_unconverted": mrr["unconverted"],
    }


def subscriptions(query: Query) -> Report:
    keys = periods(query.start, query.end, query.group)
    starts = [_day_start(max(p, query.start)) for p in keys]
    starts += [_day_start(query.end + dt.timedelta(days=1))]
    churn = _churn(query, starts)
    whole = _churn(query, [starts[0], starts[-1]])
    mrr, counts = _mrr(query)

    def summed(rows_by_code: dict[Any, list[dict[str, Any]]], index: int) -> dict[str, Any]:
        fields = ("live", *CHURN)
        add = {f: sum(rows[index][f] for rows in rows_by_code.values()) for f in fields}
        return _churn_figures(add.pop("live"), add)

    total_mrr = {
        "mrr": sum((m["mrr"] for m in mrr.values()), Decimal(0)),
        "unconverted": sum(m["unconverted"] for m in mrr.values()),
    }
    codes = sorted(set(churn) | set(mrr) | {code for code, _ in counts})
    empty = {"mrr": Decimal(0), "unconverted": 0}
    return Report(
        name="subscriptions",
        title=TITLES["subscriptions"],
        query=query,
        columns=[
            ("live_at_start", "Live at start"),
            ("new", "New"),
            ("cancelled", "Cancelled"),
            ("failed", "Failed"),
            ("churn_rate", "Churn"),
        ],
        rows=[{"period": p, **summed(churn, i)} for i, p in enumerate(keys)],
        totals={**summed(whole, 0), **_now_figures(None, total_mrr, counts)},
        breakdowns={
            "channels": [
                {
                    "channel": code,
                    **_now_figures(code, mrr.get(code, empty), counts),
                    **(
                        summed({code: whole[code]}, 0)
                        if code in whole
                        else _churn_figures(0, dict.fromkeys(CHURN, 0))
                    ),
                }
                for code in codes
            ]
        },
        chart=[("new", "New", "bar"), ("churn_rate", "Churn", "line")],
    )


BUILDERS: dict[str, Callable[[Query], Report]] = {
    "sales": sales,
    "fulfilment": fulfilment,
    "inventory": inventory,
    "returns": returns,
    "channels": channels,
    "subscriptions": subscriptions,
}
