"""List columns every app's admin uses: a compact date and time, so a list fits a laptop.

Django writes a list's date and time in words ("March 14, 2025, 9 a.m."): 22 characters that
push the rightmost columns off a 1,366 px screen. A list column says "2025-03-14 09:00" in the
configured time zone (the page of a record keeps Django's long form), sorted by the field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.utils import timezone

NONE = "-"


def compact_datetime(value: dt.datetime | None) -> str:
    """ "2025-03-14 09:00" in the configured time zone, "-" for none."""
    if value is None:
        return NONE
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def datetime_column(field: str, description: str) -> Callable[[Any, Any], str]:
    """A list column showing `field` compactly, headed `description`, sortable by the field."""

    @admin.display(description=description, ordering=field)
    def column(self: Any, obj: Any) -> str:
        return compact_datetime(getattr(obj, field))

    return column
