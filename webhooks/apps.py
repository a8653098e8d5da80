from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks and events"

    def ready(self) -> None:
        from oms import refdata
        from webhooks import subscribers
        from webhooks.models import WebhookEndpoint

        subscribers.subscribe_all()

        from orders.ports import personal_data_register
        from webhooks.privacy import WebhooksPersonalData

        personal_data_register(WebhooksPersonalData())
        # Which endpoints listen to what is read on every event: cached per process.
        refdata.watch(
            WebhookEndpoint,
            uncached={WebhookEndpoint: ("failing_since", "updated_at", "disabled_reason")},
        )
