import django_filters

from fulfilment.models import Shipment
from fulfilment.states import ShipmentStatus
from oms.api.filters import FilterSet, IdFilter


class ShipmentFilter(FilterSet):
    order = IdFilter(field_name="order_id")
    location = django_filters.CharFilter(field_name="location__code", help_text="Location code")
    status = django_filters.MultipleChoiceFilter(choices=ShipmentStatus.choices)

    class Meta:
        model = Shipment
        fields = ["order", "location", "status"]
