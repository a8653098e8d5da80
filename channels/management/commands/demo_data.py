"""Load the demo merchant (idempotent): each pillar's demo, lowest layer first."""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from channels.demo import load_demo_channels
from fulfilment.demo import load_demo_fulfilment
from inventory.demo import load_demo_inventory, load_demo_stock
from inventory.services.forecast import forecast_refresh
from orders.demo import load_demo_orders


class Command(BaseCommand):
    help = "Load the demo merchant Northwind Outdoor. Safe to run again: existing data is kept."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            created = {**load_demo_inventory(), **load_demo_channels(), **load_demo_stock()}
        created.update(load_demo_orders())
        created.update(load_demo_fulfilment())
        # Forecasts are derived data: recomputing them is idempotent and shows the history's use.
        forecasts = forecast_refresh()
        summary = ", ".join(f"{count} {what}" for what, count in created.items())
        self.stdout.write(
            self.style.SUCCESS(f"Demo data loaded (created {summary}; {forecasts} forecasts).")
        )
        from returns.demo import demo_returns

        demo_returns(self.stdout)
