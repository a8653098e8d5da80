"""Reconcile a payment provider's refunds of a day against the OMS (returns.services)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from returns.services import payments_reconcile


class Command(BaseCommand):
    help = "Compare a provider's refunds of a day (UTC) with the OMS's; exit 1 on differences."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", default="stripe")
        parser.add_argument(
            "--date",
            type=dt.date.fromisoformat,
            default=dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1),
            help="YYYY-MM-DD (default: yesterday, UTC)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = payments_reconcile(provider=options["provider"], day=options["date"])
        self.stdout.write(json.dumps(report, indent=2))
        if report["differences"]:
            raise SystemExit(1)
