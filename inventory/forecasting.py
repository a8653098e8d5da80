"""Demand forecasting arithmetic: pure functions of daily demand series (no database, no clock).

Method
------
Demand is the units that left stock for customers (shipment movements), per UTC day. A *series*
is a list of daily demand, oldest day first, whose last item is the day before the forecast date
(`today`). Today itself is never counted: the nightly run at 02:30 would otherwise read 2.5 hours
of today as if they were a whole day and understate every rate.

- ``velocity_N`` = demand of the N whole days before today / N, for N = 7, 28 and 90, in units
  per day rounded half-up to 3 places. Days before the series began count as zero demand.
- ``velocity`` = 0.5 * v7 + 0.3 * v28 + 0.2 * v90 (3 places). The weights sum to 1, so a steady
  rate is reproduced exactly (no bias on stationary demand, WAPE 0 on a constant series). The
  7-day rate weighs most, so a trend, a new product or a delisting shows within a week; the
  28-day rate smooths day-of-week and promotion noise; the 90-day rate keeps one spike, or a
  short stock-out during which nothing could ship, from swinging the figure on its own.
- ``days_of_cover`` = available / velocity, truncated to 0.1 day so that its whole part is the
  same as that of the exact quotient; None when velocity is 0.
- ``stockout_date`` = today + floor(days_of_cover): today when nothing is available; None when
  velocity is 0 (or when the date would fall beyond the calendar).
- ``reorder_quantity`` = max(0, ceil(lead_time_days * velocity + safety_stock
  - (on_hand - reserved) - incoming)): enough to cover the lead time and refill the safety stock.
- Backtest: for each of the last 8 whole weeks (7-day blocks ending the day before today), from
  the newest back, the week is forecast as 7 * velocity computed with this same method from the
  days before the week began only, and compared with what shipped that week. A week counts only
  if some demand happened before it began (otherwise there was nothing to forecast from), so a
  young series uses fewer weeks. WAPE = sum |actual - forecast| / sum actual over those weeks,
  3 places; None when nothing shipped in them.

Invariants: every function is pure and deterministic (Decimal arithmetic, no floats), so the same
series always gives the same figures; results are rounded and capped to fit the columns of
`inventory.models.StockForecast`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

#: The velocity windows, in days, and their weights in the blended velocity (they sum to 1).
WINDOWS: tuple[int, int, int] = (7, 28, 90)
WEIGHTS: Mapping[int, Decimal] = {7: Decimal("0.5"), 28: Decimal("0.3"), 90: Decimal("0.2")}
#: Weeks of backtest, and the days of demand a full forecast with its backtest needs.
BACKTEST_WEEKS = 8
WEEK_DAYS = 7
HISTORY_DAYS = max(WINDOWS) + BACKTEST_WEEKS * WEEK_DAYS

VELOCITY_PLACES = Decimal("0.001")
COVER_PLACES = Decimal("0.1")
WAPE_PLACES = Decimal("0.001")
#: The largest values the columns hold (DecimalField(10, 1) and DecimalField(8, 3)).
MAX_DAYS_OF_COVER = Decimal("999999999.9")
MAX_WAPE = Decimal("99999.999")


@dataclass(frozen=True)
class Velocities:
    v7: Decimal
    v28: Decimal
    v90: Decimal

    @property
    def blended(self) -> Decimal:
        return blend(v7=self.v7, v28=self.v28, v90=self.v90)


@dataclass(frozen=True)
class Backtest:
    wape: Decimal | None
    weeks: int


@dataclass(frozen=True)
class Forecast:
    velocity_7: Decimal
    velocity_28: Decimal
    velocity_90: Decimal
    velocity: Decimal
    days_of_cover: Decimal | None
    stockout_date: date | None
    reorder_quantity: int
    wape: Decimal | None
    backtest_weeks: int


def daily_series(demand: Mapping[date, int], *, today: date, days: int = HISTORY_DAYS) -> list[int]:
    """The dense series of the `days` days before `today` from demand per day (missing = 0).

    Days outside the range are ignored; a negative day (returns booked as shipments) counts 0.
    """
    first = today - timedelta(days=days)
    series = [0] * days
    for day, units in demand.items():
        index = (day - first).days
        if 0 <= index < days:
            series[index] = max(0, units)
    return series


def _prefix(series: Sequence[int]) -> list[int]:
    sums = [0]
    for units in series:
        sums.append(sums[-1] + units)
    return sums


def _window(prefix: Sequence[int], end: int, days: int) -> int:
    """Demand of the `days` days before index `end` (days before the series count 0)."""
    return prefix[end] - prefix[max(0, end - days)]


def _rate(units: int, days: int) -> Decimal:
    return (Decimal(units) / Decimal(days)).quantize(VELOCITY_PLACES, rounding=ROUND_HALF_UP)


def _velocities_at(prefix: Sequence[int], end: int) -> Velocities:
    v7, v28, v90 = (_rate(_window(prefix, end, days), days) for days in WINDOWS)
    return Velocities(v7=v7, v28=v28, v90=v90)


def velocities(series: Sequence[int]) -> Velocities:
    """The 7/28/90-day velocities at the end of `series` (units per day, 3 places)."""
    prefix = _prefix(series)
    return _velocities_at(prefix, len(series))


def blend(*, v7: Decimal, v28: Decimal, v90: Decimal) -> Decimal:
    """The velocity used: 0.5 * v7 + 0.3 * v28 + 0.2 * v90, 3 places."""
    value = WEIGHTS[7] * v7 + WEIGHTS[28] * v28 + WEIGHTS[90] * v90
    return value.quantize(VELOCITY_PLACES, rounding=ROUND_HALF_UP)


def days_of_cover(*, available: int, velocity: Decimal) -> Decimal | None:
    """Days the available units last at `velocity`, truncated to 0.1; None without demand."""
    if velocity <= 0:
        return None
    cover = (Decimal(max(0, available)) / velocity).quantize(COVER_PLACES, rounding=ROUND_DOWN)
    return min(cover, MAX_DAYS_OF_COVER)


def stockout_date(*, today: date, available: int, velocity: Decimal) -> date | None:
    """today + floor(days of cover); None without demand or beyond the calendar."""
    cover = days_of_cover(available=available, velocity=velocity)
    if cover is None:
        return None
    try:
        return today + timedelta(days=int(cover))
    except OverflowError:
        return None


def reorder_quantity(
    *,
    lead_time_days: int,
    velocity: Decimal,
    safety_stock: int,
    on_hand: int,
    reserved: int,
    incoming: int,
) -> int:
    """max(0, ceil(lead time * velocity + safety stock - (on hand - reserved) - incoming))."""
    need = lead_time_days * velocity + safety_stock - (on_hand - reserved) - incoming
    return max(0, math.ceil(need))


def wape(*, actuals: Sequence[int], forecasts: Sequence[Decimal]) -> Decimal | None:
    """sum |actual - forecast| / sum actual, 3 places; None when nothing was actually sold."""
    if len(actuals) != len(forecasts):
        raise ValueError("One forecast per actual is needed.")
    total = sum(actuals)
    if total <= 0:
        return None
    error = sum(
        (
            abs(Decimal(actual) - forecast)
            for actual, forecast in zip(actuals, forecasts, strict=True)
        ),
        Decimal(0),
    )
    return min(MAX_WAPE, (error / total).quantize(WAPE_PLACES, rounding=ROUND_HALF_UP))


def _backtest(series: Sequence[int], prefix: Sequence[int], weeks: int) -> Backtest:
    first = next((index for index, units in enumerate(series) if units > 0), None)
    if first is None:
        return Backtest(wape=None, weeks=0)
    actuals: list[int] = []
    forecasts: list[Decimal] = []
    for back in range(1, weeks + 1):
        start = len(series) - back * WEEK_DAYS
        if start <= first:  # nothing shipped before this week began: no history to forecast on
            break
        actuals.append(prefix[start + WEEK_DAYS] - prefix[start])
        forecasts.append(WEEK_DAYS * _velocities_at(prefix, start).blended)
    return Backtest(wape=wape(actuals=actuals, forecasts=forecasts), weeks=len(actuals))


def backtest(series: Sequence[int], *, weeks: int = BACKTEST_WEEKS) -> Backtest:
    """WAPE of the weekly forecasts of the last `weeks` whole weeks of `series` (see module)."""
    return _backtest(series, _prefix(series), weeks)


def forecast(
    series: Sequence[int],
    *,
    today: date,
    lead_time_days: int,
    on_hand: int,
    reserved: int,
    safety_stock: int,
    available: int,
    incoming: int,
    weeks: int = BACKTEST_WEEKS,
) -> Forecast:
    """Every figure of one forecast row from its daily demand `series` (ending before today)."""
    prefix = _prefix(series)
    rates = _velocities_at(prefix, len(series))
    velocity = rates.blended
    tested = _backtest(series, prefix, weeks)
    return Forecast(
        velocity_7=rates.v7,
        velocity_28=rates.v28,
        velocity_90=rates.v90,
        velocity=velocity,
        days_of_cover=days_of_cover(available=available, velocity=velocity),
        stockout_date=stockout_date(today=today, available=available, velocity=velocity),
        reorder_quantity=reorder_quantity(
            lead_time_days=lead_time_days,
            velocity=velocity,
            safety_stock=safety_stock,
            on_hand=on_hand,
            reserved=reserved,
            incoming=incoming,
        ),
        wape=tested.wape,
        backtest_weeks=tested.weeks,
    )
