import django_filters

from channels.models import Channel, ChannelKind


class ChannelFilter(django_filters.FilterSet):
    code = django_filters.CharFilter(field_name="code")
    kind = django_filters.ChoiceFilter(choices=ChannelKind.choices)
    currency = django_filters.CharFilter(field_name="currency", lookup_expr="iexact")

    class Meta:
        model = Channel
        fields = ["code", "kind", "currency", "is_active"]
