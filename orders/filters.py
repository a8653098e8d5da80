import django_filters
from django.db.models import QuerySet

from oms.api.filters import BooleanFilter, FilterSet, IdFilter, IsoDateTimeFilter
from orders.models import Customer, Order
from orders.selectors import order_search
from orders.states import OrderStatus, PaymentStatus


class OrderFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices)
    channel = django_filters.CharFilter(field_name="channel__code", help_text="Channel code")
    payment_status = django_filters.ChoiceFilter(choices=PaymentStatus.choices)
    on_hold = BooleanFilter(field_name="is_on_hold")
    country = django_filters.CharFilter(field_name="ship_country", lookup_expr="iexact")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    customer = IdFilter(field_name="customer_id")
    search = django_filters.CharFilter(
        method="filter_search",
        help_text="Number, external id, e-mail, name, phone, SKU or tracking number.",
    )

    class Meta:
        model = Order
        fields = [
            "status",
            "channel",
            "payment_status",
            "on_hold",
            "country",
            "created_after",
            "created_before",
            "customer",
        ]

    def filter_search(self, queryset: QuerySet[Order], name: str, value: str) -> QuerySet[Order]:
        return order_search(queryset, value)


class CustomerFilter(FilterSet):
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact")

    class Meta:
        model = Customer
        fields = ["email"]
