import django_filters

from channels.models import ChannelSyncRun
from channels.states import SyncStatus, SyncTrigger
from inventory.models import Channel, ChannelKind
from oms.api.filters import FilterSet, IsoDateTimeFilter


class ChannelFilter(FilterSet):
    code = django_filters.CharFilter(field_name="code")
    kind = django_filters.ChoiceFilter(choices=ChannelKind.choices)
    currency = django_filters.CharFilter(field_name="currency", lookup_expr="iexact")

    class Meta:
        model = Channel
        fields = ["code", "kind", "currency", "is_active"]


class SyncRunFilter(FilterSet):
    channel = django_filters.CharFilter(field_name="channel__code", help_text="Channel code")
    status = django_filters.ChoiceFilter(choices=SyncStatus.choices)
    trigger = django_filters.ChoiceFilter(choices=SyncTrigger.choices)
    started_after = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")

    class Meta:
        model = ChannelSyncRun
        fields = ["channel", "status", "trigger", "started_after"]
