from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from oms import refdata
        from orders.models import FraudRule

        refdata.watch(FraudRule)  # cached per process by capture (oms.refdata)
