"""A report as JSON-ready data and as CSV lines (streamed: a year of days is 366 rows, but the
breakdowns by SKU may be long)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.conf import settings

from reports.selectors import Report


def plain(value: Any) -> Any:
    """JSON types: dates ISO, Decimals as strings (as the API's money)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def as_data(report: Report) -> dict[str, Any]:
    return {
        "report": report.name,
        "title": report.title,
        "base_currency": settings.BASE_CURRENCY,
        "from": report.query.start.isoformat(),
        "to": report.query.end.isoformat(),
        "group": report.query.group,
        "channel": report.query.channel.code if report.query.channel else None,
        "location": report.query.location.code if report.query.location else None,
        "columns": [{"key": key, "label": label} for key, label in report.columns],
        "rows": [{k: plain(v) for k, v in row.items()} for row in report.rows],
        "totals": {k: plain(v) for k, v in report.totals.items()},
        "breakdowns": {
            name: [{k: plain(v) for k, v in row.items()} for row in rows]
            for name, rows in report.breakdowns.items()
        },
    }


def csv_lines(report: Report) -> Iterator[str]:
    """The rows (one per period) then a `total` line, with a header of the column keys."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    keys = [key for key, _ in report.columns]

    def line(values: list[Any]) -> str:
        writer.writerow(["" if v is None else plain(v) for v in values])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(["period", *keys])
    for row in report.rows:
        yield line([row["period"], *(row.get(k) for k in keys)])
    yield line(["total", *(report.totals.get(k) for k in keys)])


def csv_filename(report: Report) -> str:
    q = report.query
    return f"{report.name}-{q.start.isoformat()}-{q.end.isoformat()}-{q.group}.csv"
