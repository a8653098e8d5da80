from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from inventory.models import Location, Sku
        from oms import refdata

        # Cached per process by capture and routing (oms.refdata).
        refdata.watch(Location, Sku)
