from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view

from channels import selectors, services
from channels.api.serializers import ChannelInputSerializer, ChannelOutputSerializer
from channels.filters import ChannelFilter
from channels.models import Channel
from oms.api.views import CatalogueViewSet


@extend_schema_view(
    list=extend_schema(summary="List channels", tags=["channels"]),
    retrieve=extend_schema(summary="Get a channel", tags=["channels"]),
    create=extend_schema(
        summary="Create a channel",
        tags=["channels"],
        request=ChannelInputSerializer,
        responses={201: ChannelOutputSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a channel",
        tags=["channels"],
        request=ChannelInputSerializer,
        responses={200: ChannelOutputSerializer},
    ),
)
class ChannelViewSet(CatalogueViewSet):
    queryset = selectors.channel_list()
    serializer_class = ChannelOutputSerializer
    input_serializer_class = ChannelInputSerializer
    filterset_class = ChannelFilter

    def perform_service_create(self, data: dict[str, Any]) -> Channel:
        return services.channel_create(**data)

    def perform_service_update(self, instance: Channel, data: dict[str, Any]) -> Channel:
        return services.channel_update(channel=instance, data=data)
