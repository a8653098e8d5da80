import django_filters
from django.db.models import F, Q, QuerySet

from inventory.models import (
    Location,
    LocationKind,
    MovementKind,
    Sku,
    SkuPrice,
    StockForecast,
    StockLevel,
    StockMovement,
)
from oms.api.filters import BooleanFilter, FilterSet, IdFilter, IsoDateTimeFilter


class SkuFilter(FilterSet):
    code = django_filters.CharFilter(field_name="code")
    barcode = django_filters.CharFilter(field_name="barcode")
    is_active = BooleanFilter()

    class Meta:
        model = Sku
        fields = ["code", "barcode", "is_active", "allow_backorder"]


class SkuPriceFilter(FilterSet):
    sku = django_filters.CharFilter(field_name="sku__code", help_text="SKU code")
    channel = django_filters.CharFilter(field_name="channel__code", help_text="Channel code")
    default = BooleanFilter(
        field_name="channel", lookup_expr="isnull", help_text="Only the default prices."
    )
    currency = django_filters.CharFilter(field_name="currency", lookup_expr="iexact")

    class Meta:
        model = SkuPrice
        fields = ["sku", "channel", "default", "currency"]


class LocationFilter(FilterSet):
    code = django_filters.CharFilter(field_name="code")
    kind = django_filters.ChoiceFilter(choices=LocationKind.choices)
    country = django_filters.CharFilter(field_name="country", lookup_expr="iexact")

    class Meta:
        model = Location
        fields = ["code", "kind", "country", "is_active", "ships_online"]


class StockLevelFilter(FilterSet):
    sku = django_filters.CharFilter(field_name="sku__code", help_text="SKU code")
    location = django_filters.CharFilter(field_name="location__code", help_text="Location code")
    low_stock = BooleanFilter(
        method="filter_low_stock", help_text="At or below the reorder point, or out of stock."
    )

    class Meta:
        model = StockLevel
        fields = ["sku", "location", "needs_count"]

    def filter_low_stock(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        low = Q(on_hand__lte=F("reserved") + F("reorder_point"))
        return queryset.filter(low) if value else queryset.exclude(low)


class StockMovementFilter(FilterSet):
    sku = django_filters.CharFilter(field_name="sku__code", help_text="SKU code")
    location = django_filters.CharFilter(field_name="location__code", help_text="Location code")
    kind = django_filters.ChoiceFilter(choices=MovementKind.choices)
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    order_line = IdFilter(field_name="order_line_id")

    class Meta:
        model = StockMovement
        fields = ["sku", "location", "kind", "created_after", "created_before", "order_line"]


class StockForecastFilter(FilterSet):
    sku = django_filters.CharFilter(field_name="sku__code", help_text="SKU code")
    location = django_filters.CharFilter(field_name="location__code", help_text="Location code")
    network = BooleanFilter(
        field_name="location", lookup_expr="isnull", help_text="Only the whole-network rows."
    )

    class Meta:
        model = StockForecast
        fields = ["sku", "location", "network"]
