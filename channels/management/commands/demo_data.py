"""Load the demo merchant (idempotent): each pillar's demo, lowest layer first."""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from channels.demo import load_demo_channels
from fulfilment.demo import load_demo_fulfilment
from inventory.demo import load_demo_inventory, load_demo_prices, load_demo_stock
from inventory.models import StockForecast
from inventory.services.forecast import forecast_refresh
from oms.outbox import outbox_muted
from orders.demo import load_demo_orders
from subscriptions.demo import load_demo_subscriptions

#: What the demo's past would otherwise ask the workers to do today.
PAST_SIDE_EFFECTS = (
    "fulfilment.email_send",
    "returns.return_email_send",
    "orders.order_convert_total",
    # Integrators' events start with today's changes: the history is not news (and recording
    # its thousands of events one by one was 40% of the loading time).
    "webhooks.event_record",
)


class Command(BaseCommand):
    help = "Load the demo merchant Northwind Outdoor. Safe to run again: existing data is kept."

    def handle(self, *args: Any, **options: Any) -> None:
        from returns.demo import demo_returns

        # History: no shopper is e-mailed about it today, and its orders are converted as they
        # are captured rather than by a worker later.
        with outbox_muted(*PAST_SIDE_EFFECTS):
            with transaction.atomic():
                created = {**load_demo_inventory(), **load_demo_channels(), **load_demo_stock()}
                created.update(load_demo_prices())  # after the channels: one has its own
            created.update(load_demo_orders())
            created.update(load_demo_fulfilment())
            created.update(load_demo_subscriptions())
            # Forecasts are derived data, refreshed nightly by beat: computed here only once.
            fresh = not StockForecast.objects.exists()
            forecasts = forecast_refresh() if fresh else 0
            summary = ", ".join(f"{count} {what}" for what, count in created.items())
            computed = f"{forecasts} forecasts" if fresh else "forecasts kept"
            self.stdout.write(
                self.style.SUCCESS(f"Demo data loaded (created {summary}; {computed}).")
            )
            demo_returns(self.stdout)
