"""Prove that every stock level equals the sum of its ledger; exit 1 listing any drift."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from inventory.models import Location, Sku
from inventory.selectors import ledger_drift


class Command(BaseCommand):
    help = "Recompute every stock level from the movement ledger and report any drift."

    def handle(self, *args: Any, **options: Any) -> None:
        drift = ledger_drift()
        if not drift:
            self.stdout.write(self.style.SUCCESS("Ledger and levels agree: no drift."))
            return
        skus = dict(Sku.objects.filter(pk__in={d.sku_id for d in drift}).values_list("pk", "code"))
        locations = dict(
            Location.objects.filter(pk__in={d.location_id for d in drift}).values_list("pk", "code")
        )
        for d in drift:
            sku = skus.get(d.sku_id, d.sku_id)
            location = locations.get(d.location_id, d.location_id)
            self.stdout.write(
                f"DRIFT {sku} @ {location} {d.field}: level {d.level}, ledger {d.ledger}"
                f" ({d.level - d.ledger:+})"
            )
        raise CommandError(f"{len(drift)} drifting quantities found.")
