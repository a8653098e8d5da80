from django.apps import AppConfig


class FulfilmentConfig(AppConfig):
    name = "fulfilment"
    verbose_name = "Fulfilment"

    def ready(self) -> None:
        from fulfilment import subscribers
        from inventory.events import StockChanged
        from oms import events
        from orders.events import OrderAddressChanged, OrderCancelled, OrderNeedsRouting

        events.subscribe(OrderNeedsRouting, subscribers.route_on_need)
        events.subscribe(OrderAddressChanged, subscribers.reroute_on_address_change)
        events.subscribe(OrderCancelled, subscribers.shrink_on_cancel)
        events.subscribe(StockChanged, subscribers.reroute_backorders_on_stock)
