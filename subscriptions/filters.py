import django_filters

from oms.api.filters import FilterSet, IdFilter, IsoDateTimeFilter
from subscriptions.models import Subscription
from subscriptions.states import Interval, SubscriptionStatus


class SubscriptionFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=SubscriptionStatus.choices)
    channel = django_filters.CharFilter(field_name="channel__code", help_text="Channel code")
    customer = IdFilter(field_name="customer_id", help_text="Customer id")
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact")
    interval = django_filters.ChoiceFilter(choices=Interval.choices)
    next_order_after = IsoDateTimeFilter(field_name="next_order_at", lookup_expr="gte")
    next_order_before = IsoDateTimeFilter(field_name="next_order_at", lookup_expr="lt")

    class Meta:
        model = Subscription
        fields = [
            "status",
            "channel",
            "customer",
            "email",
            "interval",
            "next_order_after",
            "next_order_before",
        ]
