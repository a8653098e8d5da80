from django.apps import AppConfig


class FulfilmentConfig(AppConfig):
    name = "fulfilment"
    verbose_name = "Fulfilment"

    def ready(self) -> None:
        from fulfilment.models import (
            GeoCentroid,
            Holiday,
            LocationSchedule,
            RoutingRule,
            ThirdPartyPartner,
            TransitTime,
        )
        from oms import refdata

        # Routing caches these per process (oms.refdata): any change is seen at once.
        refdata.watch(
            RoutingRule,
            GeoCentroid,
            LocationSchedule,
            Holiday,
            TransitTime,
            ThirdPartyPartner,
            m2m=[RoutingRule.locations.through],
        )

        from fulfilment import subscribers
        from fulfilment.services.routing_port import RoutingPort
        from inventory.events import StockChanged
        from oms import events
        from orders.events import OrderCancelled, OrderHeld, OrderReleased
        from orders.ports import routing_register

        # The orders services route captured, released and edited orders through this port.
        routing_register(RoutingPort())
        # Exports and erasures of a shopper's personal data reach shipments, labels, routing.
        from fulfilment.privacy import FulfilmentPersonalData
        from orders.ports import personal_data_register

        personal_data_register(FulfilmentPersonalData())
        # The orders API shows an order's shipments and tracking page through this port.
        from fulfilment.order_shipments import OrderShipmentsPort
        from orders.ports import order_shipments_register

        order_shipments_register(OrderShipmentsPort())
        events.subscribe(OrderCancelled, subscribers.shrink_on_cancel)
        events.subscribe(StockChanged, subscribers.reroute_backorders_on_stock)
        # A hold flags the order's open shipments; the release clears the flags and resumes them.
        events.subscribe(OrderHeld, subscribers.flag_shipments_on_hold)
        events.subscribe(OrderReleased, subscribers.resume_shipments_on_release)

        # 3PL hand-off and the shopper's e-mails (each writes its task to the outbox).
        from fulfilment import notifications
        from fulfilment.events import (
            ShipmentCreated,
            ShipmentDelivered,
            ShipmentException,
            ShipmentShipped,
        )
        from fulfilment.services import partners
        from orders.events import OrderCaptured

        events.subscribe(ShipmentCreated, partners.shipment_created_send_to_partner)
        events.subscribe(OrderCaptured, notifications.email_on_order_captured)
        events.subscribe(OrderCancelled, notifications.email_on_order_cancelled)
        events.subscribe(ShipmentShipped, notifications.email_on_shipment_shipped)
        events.subscribe(ShipmentDelivered, notifications.email_on_shipment_delivered)
        events.subscribe(ShipmentException, notifications.email_on_shipment_exception)

        # Carriers' tracking webhooks and 3PLs' confirmations are processed from the kernel's
        # inbox, each in one transaction with the marking of its delivery.
        from fulfilment.services.tracking import carrier_webhook_process
        from oms.inbox import register_processor
        from oms.models import InboundWebhook

        register_processor(InboundWebhook.Kind.CARRIER, carrier_webhook_process, atomic=True)
        register_processor(
            InboundWebhook.Kind.PARTNER, partners.partner_confirmation_process, atomic=True
        )
