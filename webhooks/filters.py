import django_filters

from oms.api.filters import FilterSet, IdFilter
from webhooks.models import DeliveryStatus, WebhookDelivery


class DeliveryFilter(FilterSet):
    endpoint = IdFilter(field_name="endpoint_id", help_text="Webhook endpoint id")
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    event = IdFilter(field_name="event_id", help_text="Event id")

    class Meta:
        model = WebhookDelivery
        fields = ["endpoint", "status", "event"]
