"""Channels, their sync runs and what they may sell.

Invariants: credentials are write-only (no answer carries them, not even after a PATCH that set
them); giving `credentials`, changing `kind` or `is_active` (connecting, switching or
disconnecting the connector) and starting a sync need "manage channel connections" besides the
model permission: 403 and nothing written otherwise.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from channels import selectors, services
from channels.api.serializers import (
    AvailabilityOutputSerializer,
    AvailabilityQuerySerializer,
    ChannelInputSerializer,
    ChannelOutputSerializer,
    SyncRunSerializer,
)
from channels.filters import ChannelFilter, SyncRunFilter
from channels.models import ChannelSyncRun
from channels.services.requests import channel_sync_request
from channels.states import SyncTrigger
from inventory.models import Channel
from oms.api.pagination import CursorPagination
from oms.api.permissions import ModelPermissions, RequiresPermission
from oms.api.views import CatalogueViewSet, OmsAPIView, OmsGenericViewSet
from oms.roles import MANAGE_CHANNEL_CONNECTIONS


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
    permission_classes = [
        ModelPermissions,
        RequiresPermission(
            MANAGE_CHANNEL_CONNECTIONS, fields=("credentials",), changes=("kind", "is_active")
        ),
    ]
    queryset = selectors.channel_list()
    serializer_class = ChannelOutputSerializer
    input_serializer_class = ChannelInputSerializer
    filterset_class = ChannelFilter

    def perform_service_create(self, data: dict[str, Any]) -> Channel:
        return services.channel_create(**data)

    @extend_schema(
        summary="Sync the channel's orders now (queued; the run appears under sync-runs)",
        tags=["channels"],
        request=None,
        responses={202: None},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[ModelPermissions, RequiresPermission(MANAGE_CHANNEL_CONNECTIONS)],
    )
    def sync(self, request: Request, pk: str | None = None) -> Response:
        channel_sync_request(channel=self.get_object(), trigger=SyncTrigger.MANUAL)
        return Response({"status": "queued"}, status=202)

    def perform_service_update(self, instance: Channel, data: dict[str, Any]) -> Channel:
        return services.channel_update(channel=instance, data=data)


class SyncRunPagination(CursorPagination):
    ordering = "-id"


@extend_schema_view(
    list=extend_schema(summary="List order sync runs", tags=["channels"]),
    retrieve=extend_schema(summary="Get a sync run", tags=["channels"]),
)
class SyncRunViewSet(OmsGenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Every pull, webhook and CSV import of channel orders, newest first."""

    pagination_class = SyncRunPagination
    queryset = ChannelSyncRun.objects.select_related("channel").order_by("-started_at", "-id")
    serializer_class = SyncRunSerializer
    filterset_class = SyncRunFilter


class AvailabilityView(OmsAPIView):
    """What a channel may sell, per SKU and per location, after its buffer."""

    queryset = Channel.objects.none()  # permission: inventory.view_channel

    @extend_schema(
        summary="Available to sell on a channel, for up to 1,000 SKUs",
        tags=["inventory"],
        parameters=[
            OpenApiParameter("channel", str, required=True, description="Channel code"),
            OpenApiParameter(
                "sku", str, required=True, description="SKU code(s), comma-separated, up to 1,000"
            ),
        ],
        responses={200: AvailabilityOutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        query = AvailabilityQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        rows = selectors.channel_availability(
            channel=query.validated_data["channel"], skus=query.validated_data["sku"]
        )
        data = [
            {
                "sku": row.sku,
                "available": row.available,
                "locations": [{"location": c, "available": q} for c, q in row.locations],
            }
            for row in rows
        ]
        # Already plain JSON types: no serializer pass over up to 1,000 rows (see the schema).
        return Response(data)
