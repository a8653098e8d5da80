"""`GET /api/v1/shipments/{id}/tracking-events/`: a shipment's carrier events, oldest first.

Needs fulfilment.view_shipment (ModelPermissions on the Shipment queryset); two queries
whatever the number of events.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from fulfilment.models import Shipment, TrackingEvent, TrackingStatus
from oms.api.views import OmsAPIView


class TrackingEventOutputSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=TrackingStatus.choices)

    class Meta:
        model = TrackingEvent
        fields = ["status", "description", "place", "occurred_at"]
        read_only_fields = fields


class ShipmentTrackingEventsView(OmsAPIView):
    """The carrier's scans of one shipment, as recorded (webhooks and polling)."""

    queryset = Shipment.objects.all()  # the permission checked: fulfilment.view_shipment

    @extend_schema(
        summary="A shipment's tracking events, oldest first",
        tags=["fulfilment"],
        responses={200: TrackingEventOutputSerializer(many=True)},
    )
    def get(self, request: Request, pk: int) -> Response:
        shipment = get_object_or_404(Shipment.objects.only("pk"), pk=pk)
        events = TrackingEvent.objects.filter(shipment=shipment).order_by("occurred_at", "id")
        return Response(TrackingEventOutputSerializer(events, many=True).data)
