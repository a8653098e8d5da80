from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "channels"
    verbose_name = "Channels"

    def ready(self) -> None:
        from channels.services import channel_stock_mark_changed
        from inventory.events import StockChanged
        from oms import events

        events.subscribe(StockChanged, channel_stock_mark_changed)
        # ... written inside a reservation's own locking statement (inventory.stock_marks).
        from channels.services import channel_stock_mark_sql
        from inventory.stock_marks import stock_mark_writer_register

        stock_mark_writer_register(channel_stock_mark_sql)

        from channels import subscribers
        from fulfilment.events import ShipmentShipped
        from orders.events import OrderCancelled

        events.subscribe(ShipmentShipped, subscribers.push_on_shipment_shipped)
        events.subscribe(OrderCancelled, subscribers.push_on_order_cancelled)

        from returns.events import RefundSucceeded

        events.subscribe(RefundSucceeded, subscribers.push_on_refund_succeeded)

        # Refunds of channels whose payment provider is "channel" are paid back through them.
        from channels.payments import ChannelRefunds
        from returns.payments import payment_provider_register

        payment_provider_register("channel", ChannelRefunds())

        from channels.privacy import ChannelsPersonalData
        from orders.ports import personal_data_register

        personal_data_register(ChannelsPersonalData())

        # The channels' webhook deliveries are processed from the kernel's inbox.
        from channels.services.webhooks import (
            DRAIN_BATCH,
            QUEUE,
            webhook_process,
            webhooks_process_many,
        )
        from oms.inbox import register_processor
        from oms.models import InboundWebhook

        register_processor(
            InboundWebhook.Kind.CHANNEL,
            webhook_process,
            queue=QUEUE,
            process_many=webhooks_process_many,
            batch=DRAIN_BATCH,
        )

        # Their lags for /metrics.
        from channels.selectors import channel_stock_push_lags, channel_sync_lags
        from oms.metrics import gauge_register

        gauge_register(
            "oms_channel_sync_lag_seconds",
            "Seconds since the start of the channel's last successful order sync.",
            ["channel"],
            channel_sync_lags,
        )
        gauge_register(
            "oms_channel_stock_push_lag_seconds",
            "Seconds the channel's oldest stock change not yet pushed has waited.",
            ["channel"],
            channel_stock_push_lags,
        )
