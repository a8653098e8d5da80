from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from inventory.models import CHANNEL_UNCACHED_FIELDS, Channel, Location, Sku
        from oms import refdata

        # Cached per process by capture and routing (oms.refdata).
        refdata.watch(Location, Sku)
        # Capture and routing cache channels and their locations per process; a sync's lease
        # and cursor updates leave the cache alone.
        refdata.watch(
            Channel,
            m2m=[Channel.locations.through],
            uncached={Channel: CHANNEL_UNCACHED_FIELDS},
        )
