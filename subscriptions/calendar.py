"""Renewal dates on the calendar of the channel's time zone.

Invariants:
- renewal k of a schedule is the anchor plus k intervals, computed on the local wall clock
  (dateutil.relativedelta), never by adding to the previous date: a monthly subscription from
  31 January renews on 28 (or 29) February and then on 31 March, never drifting to the 28th;
- the wall-clock time stays the same across daylight-saving changes (09:00 in Berlin is 08:00
  UTC in winter and 07:00 UTC in summer); a wall-clock time that does not exist on the day
  (the spring-forward gap) moves forward by the gap, one that exists twice takes the first;
- results are aware datetimes in UTC.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil.relativedelta import relativedelta

from subscriptions.states import Interval

UTC = dt.UTC


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def zone_valid(name: str) -> bool:
    return name in available_timezones()


def step(interval: str, count: int) -> relativedelta:
    if interval == Interval.DAY:
        return relativedelta(days=count)
    if interval == Interval.WEEK:
        return relativedelta(weeks=count)
    return relativedelta(months=count)


def _localize(wall: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant of the naive wall-clock time `wall` in `tz`. fold=0 (PEP 495): a time
    that exists twice is the first; a time in the spring-forward gap is read with the offset
    before the change, which moves it forward by the gap (02:30 -> 03:30)."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def renewal_at(
    *, anchor: dt.datetime, index: int, interval: str, count: int, time_zone: str
) -> dt.datetime:
    """Renewal `index` (0 = the anchor itself) of a schedule, in UTC."""
    tz = zone(time_zone)
    wall = anchor.astimezone(tz).replace(tzinfo=None)
    return _localize(wall + step(interval, count * index), tz)


def first_index_after(
    *,
    anchor: dt.datetime,
    start_index: int,
    moment: dt.datetime,
    interval: str,
    count: int,
    time_zone: str,
) -> int:
    """The first index >= start_index whose renewal is after `moment` (for resume)."""
    index = start_index
    while (
        renewal_at(anchor=anchor, index=index, interval=interval, count=count, time_zone=time_zone)
        <= moment
    ):
        index += 1
    return index
