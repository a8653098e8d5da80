"""The limits of the columns, for every input boundary (API, admin forms, CSV, connectors).

Invariants:
- an integer is checked against the range of the column it lands in, as PostgreSQL stores it
  (integer: -2^31..2^31-1, positive small integer: 0..32767 ...), whatever the database in use:
  SQLite's 64-bit integers never hide a value PostgreSQL would refuse;
- a timestamp's offset is within what PostgreSQL accepts (+-15:59), and it stays a valid
  datetime once converted to UTC (years 1 to 9999);
- a string never carries a NUL character (PostgreSQL's text and jsonb refuse it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations

#: Integer ranges by model field type: Django's portable ranges (PostgreSQL's column types).
INTEGER_RANGES: dict[str, tuple[int, int]] = dict(BaseDatabaseOperations.integer_field_ranges)
INT_MIN, INT_MAX = INTEGER_RANGES["IntegerField"]
#: PostgreSQL's timestamptz accepts UTC offsets up to 15:59 (and 59 seconds) either way.
MAX_UTC_OFFSET = dt.timedelta(hours=15, minutes=59, seconds=59)
NUL_MESSAGE = "NUL characters (\\u0000) are not allowed."


def integer_range(model: type[models.Model], field_name: str) -> tuple[int, int]:
    """(min, max) of the column of `model.field_name` (an integer field, or a foreign key)."""
    field = model._meta.get_field(field_name)
    if isinstance(field, models.ForeignKey):
        field = field.target_field
    internal = field.get_internal_type()
    try:
        return INTEGER_RANGES[internal]
    except KeyError:
        raise TypeError(f"{model.__name__}.{field_name} is not an integer field") from None


def max_length(model: type[models.Model], field_name: str) -> int:
    """The max_length of a character column."""
    length = model._meta.get_field(field_name).max_length  # type: ignore[union-attr]
    if length is None:
        raise TypeError(f"{model.__name__}.{field_name} has no max_length")
    return int(length)


def datetime_problem(value: dt.datetime) -> str | None:
    """Why a timestamp cannot be stored (None when it can): no offset, an offset PostgreSQL
    refuses, or a moment that is out of range once converted to UTC."""
    offset = value.utcoffset()
    if offset is None:
        return "Give the time with its UTC offset, e.g. 2026-11-01T12:00:00+01:00."
    if abs(offset) > MAX_UTC_OFFSET:
        return "The UTC offset must be between -15:59 and +15:59."
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        return "The date is out of range (years 1 to 9999 in UTC)."
    return None


def nul_paths(data: Any, path: str = "") -> Iterator[str]:
    """The dotted paths ("lines.0.sku") of the strings and keys in `data` holding a NUL."""
    if isinstance(data, str):
        if "\x00" in data:
            yield path or "non_field_errors"
    elif isinstance(data, dict):
        for key, value in data.items():
            name = str(key)
            child = f"{path}.{name}" if path else name
            if "\x00" in name:
                yield child.replace("\x00", "\\u0000")
            else:
                yield from nul_paths(value, child)
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            yield from nul_paths(value, f"{path}.{index}" if path else str(index))
