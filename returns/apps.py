from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    name = "returns"
    verbose_name = "Returns"

    def ready(self) -> None:
        from oms import events
        from orders.events import OrderCancelled
        from returns import subscribers

        events.subscribe(OrderCancelled, subscribers.refund_on_order_cancelled)

        from orders.ports import personal_data_register
        from returns.privacy import ReturnsPersonalData

        personal_data_register(ReturnsPersonalData())
