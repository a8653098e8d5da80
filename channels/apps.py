from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "channels"
    verbose_name = "Channels"

    def ready(self) -> None:
        from channels.services import channel_stock_mark_changed
        from inventory.events import StockChanged
        from oms import events

        events.subscribe(StockChanged, channel_stock_mark_changed)
