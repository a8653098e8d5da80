"""Renewal dates: calendar months from the anchor (month ends clamp, never drift), the channel's
time zone, and daylight-saving changes (the wall-clock time stays)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from subscriptions.calendar import renewal_at

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")


def dates(anchor, n, interval="month", count=1, tz="UTC"):
    return [
        renewal_at(anchor=anchor, index=i, interval=interval, count=count, time_zone=tz)
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("year", "february"),
    [(2027, 28), (2028, 29)],  # 2028 is a leap year
)
def test_month_end_clamps_and_comes_back(year, february):
    anchor = dt.datetime(year, 1, 31, 8, 0, tzinfo=UTC)
    got = [d.date() for d in dates(anchor, 4)]
    assert got == [
        dt.date(year, 1, 31),
        dt.date(year, 2, february),
        dt.date(year, 3, 31),
        dt.date(year, 4, 30),
    ]


def test_every_two_months_from_the_30th():
    anchor = dt.datetime(2027, 12, 30, 8, 0, tzinfo=UTC)
    got = [d.date() for d in dates(anchor, 3, count=2)]
    assert got == [dt.date(2027, 12, 30), dt.date(2028, 2, 29), dt.date(2028, 4, 30)]


def test_month_end_in_the_channel_time_zone():
    # 31 January 00:30 in Berlin is still 30 January in UTC: the local date decides.
    anchor = dt.datetime(2027, 1, 31, 0, 30, tzinfo=BERLIN)
    got = [d.astimezone(BERLIN) for d in dates(anchor, 3, tz="Europe/Berlin")]
    assert [(d.month, d.day, d.hour, d.minute) for d in got] == [
        (1, 31, 0, 30),
        (2, 28, 0, 30),
        (3, 31, 0, 30),
    ]


def test_daily_across_spring_forward_keeps_the_wall_clock():
    anchor = dt.datetime(2027, 3, 27, 9, 0, tzinfo=BERLIN)  # DST starts 28 March 2027
    got = dates(anchor, 3, interval="day", tz="Europe/Berlin")
    assert [d.astimezone(BERLIN).hour for d in got] == [9, 9, 9]
    assert [d.astimezone(UTC).hour for d in got] == [8, 7, 7]
    assert got[2] - got[1] == dt.timedelta(hours=24)
    assert got[1] - got[0] == dt.timedelta(hours=23)  # the short day


def test_weekly_across_fall_back_keeps_the_wall_clock():
    anchor = dt.datetime(2027, 10, 25, 9, 0, tzinfo=BERLIN)  # DST ends 31 October 2027
    got = dates(anchor, 2, interval="week", tz="Europe/Berlin")
    assert [d.astimezone(BERLIN).hour for d in got] == [9, 9]
    assert got[1] - got[0] == dt.timedelta(days=7, hours=1)


def test_a_time_in_the_spring_forward_gap_moves_forward():
    anchor = dt.datetime(2027, 3, 27, 2, 30, tzinfo=BERLIN)  # 02:30 does not exist on 28 March
    got = dates(anchor, 2, interval="day", tz="Europe/Berlin")[1]
    assert got == dt.datetime(2027, 3, 28, 3, 30, tzinfo=BERLIN)
    assert got == dt.datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


def test_an_ambiguous_time_takes_the_first():
    anchor = dt.datetime(2027, 10, 30, 2, 30, tzinfo=BERLIN)  # 02:30 happens twice on 31 October
    got = dates(anchor, 2, interval="day", tz="Europe/Berlin")[1]
    assert got == dt.datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # 02:30 CEST (UTC+2)


def test_unknown_time_zone_is_utc():
    anchor = dt.datetime(2027, 1, 31, 8, 0, tzinfo=UTC)
    assert dates(anchor, 2, tz="Mars/Olympus")[1] == dt.datetime(2027, 2, 28, 8, 0, tzinfo=UTC)
