from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = "Subscriptions"

    def ready(self) -> None:
        from inventory.planned_demand import planned_demand_register
        from subscriptions.selectors import renewal_demand

        # Renewals due in the next 30 days feed the forecasts' reorder quantities.
        planned_demand_register(renewal_demand)
