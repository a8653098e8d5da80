import django_filters

from fulfilment.models import Shipment
from fulfilment.states import ShipmentStatus


class ShipmentFilter(django_filters.FilterSet):
    order = django_filters.NumberFilter(field_name="order_id")
    location = django_filters.CharFilter(field_name="location__code", help_text="Location code")
    status = django_filters.MultipleChoiceFilter(choices=ShipmentStatus.choices)

    class Meta:
        model = Shipment
        fields = ["order", "location", "status"]
