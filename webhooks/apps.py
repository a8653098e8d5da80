from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks and events"

    def ready(self) -> None:
        from oms import refdata
        from webhooks import subscribers
        from webhooks.models import WebhookEndpoint

        subscribers.subscribe_all()

        from oms.outbox import outbox_drained_by
        from webhooks.services.recording import RECORD_TASK

        # A change raises several events (an order: created, allocated, a stock level per
        # line): one nudge after its commit records them all.
        outbox_drained_by(RECORD_TASK, "webhooks.events_drain")

        from orders.ports import personal_data_register
        from webhooks.privacy import WebhooksPersonalData

        personal_data_register(WebhooksPersonalData())
        # Which endpoints listen to what is read on every event: cached per process.
        refdata.watch(
            WebhookEndpoint,
            uncached={WebhookEndpoint: ("failing_since", "updated_at", "disabled_reason")},
        )
