from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    name = "returns"
    verbose_name = "Returns"

    def ready(self) -> None:
        from oms import events
        from orders.events import OrderCancelled
        from returns import subscribers

        events.subscribe(OrderCancelled, subscribers.refund_on_order_cancelled)

        from fulfilment.events import ShipmentShipped

        # Capture on shipment: what ships is captured, what is cancelled is voided.
        events.subscribe(ShipmentShipped, subscribers.capture_on_shipment_shipped)
        events.subscribe(OrderCancelled, subscribers.void_on_order_cancelled)

        from orders.ports import personal_data_register
        from returns.privacy import ReturnsPersonalData

        personal_data_register(ReturnsPersonalData())
