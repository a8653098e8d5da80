import django_filters

from inventory.models import Location, LocationKind, Sku


class SkuFilter(django_filters.FilterSet):
    code = django_filters.CharFilter(field_name="code")
    barcode = django_filters.CharFilter(field_name="barcode")
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Sku
        fields = ["code", "barcode", "is_active", "allow_backorder"]


class LocationFilter(django_filters.FilterSet):
    code = django_filters.CharFilter(field_name="code")
    kind = django_filters.ChoiceFilter(choices=LocationKind.choices)
    country = django_filters.CharFilter(field_name="country", lookup_expr="iexact")

    class Meta:
        model = Location
        fields = ["code", "kind", "country", "is_active", "ships_online"]
