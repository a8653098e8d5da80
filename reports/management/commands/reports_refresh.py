"""Rebuild the report rollups of a range of days: `manage.py reports_refresh --from 2025-01-01
--to 2025-03-31` (default: the last 30 days to today)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date

from reports.services import rollups_refresh


def _date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        parsed = parse_date(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise CommandError(f"--{name} must be a date (YYYY-MM-DD), not {value!r}.")
    return parsed


class Command(BaseCommand):
    help = "Recompute the report rollups of every day of a range (both ends included)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", help="First day (YYYY-MM-DD).")
        parser.add_argument("--to", dest="end", help="Last day (YYYY-MM-DD), default today.")

    def handle(self, *args: Any, **options: Any) -> None:
        end = _date(options["end"], "to") or timezone.localdate()
        start = _date(options["start"], "from") or end - dt.timedelta(days=30)
        if start > end:
            raise CommandError("--from comes after --to.")
        days = rollups_refresh(start=start, end=end)
        self.stdout.write(f"Recomputed {days} day(s), {start} to {end}.")
