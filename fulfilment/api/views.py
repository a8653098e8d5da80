from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from fulfilment import selectors, services
from fulfilment.api.serializers import (
    CancelShipmentSerializer,
    PackSerializer,
    PickSerializer,
    PromiseInputSerializer,
    PromiseOutputSerializer,
    ShipmentOutputSerializer,
    ShipSerializer,
)
from fulfilment.filters import ShipmentFilter
from fulfilment.models import Shipment
from fulfilment.services.promise import promise
from oms.api.pagination import CursorPagination
from oms.api.views import OmsAPIView, OmsGenericViewSet, actor_of


class ShipmentPagination(CursorPagination):
    ordering = "-id"


@extend_schema_view(
    list=extend_schema(summary="List shipments", tags=["fulfilment"]),
    retrieve=extend_schema(summary="Get a shipment", tags=["fulfilment"]),
)
class ShipmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OmsGenericViewSet):
    queryset = selectors.shipment_list()
    serializer_class = ShipmentOutputSerializer
    filterset_class = ShipmentFilter
    pagination_class = ShipmentPagination

    def _output(self, shipment: Shipment) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=shipment.pk)).data)

    @extend_schema(
        summary="Confirm picked quantities (short picks re-route the rest)",
        tags=["fulfilment"],
        request=PickSerializer,
        responses={200: ShipmentOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def pick(self, request: Request, pk: str) -> Response:
        serializer = PickSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        shipment = services.shipment_pick(
            shipment=self.get_object(),
            lines=[(ln["order_line"], ln["quantity"]) for ln in serializer.validated_data["lines"]],
            actor=actor_of(request),
        )
        return self._output(shipment)

    @extend_schema(
        summary="Record the parcels: packed",
        tags=["fulfilment"],
        request=PackSerializer,
        responses={200: ShipmentOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def pack(self, request: Request, pk: str) -> Response:
        serializer = PackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        shipment = services.shipment_pack(
            shipment=self.get_object(),
            parcels=serializer.validated_data["parcels"],
            actor=actor_of(request),
        )
        return self._output(shipment)

    @extend_schema(
        summary="Ship (with a tracking number for a manual shipment)",
        tags=["fulfilment"],
        request=ShipSerializer,
        responses={200: ShipmentOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def ship(self, request: Request, pk: str) -> Response:
        serializer = ShipSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        shipment = services.shipment_ship(
            shipment=self.get_object(), actor=actor_of(request), **data
        )
        return self._output(shipment)

    @extend_schema(
        summary="Cancel before shipping (re-routes the order)",
        tags=["fulfilment"],
        request=CancelShipmentSerializer,
        responses={200: ShipmentOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        serializer = CancelShipmentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        shipment = services.shipment_cancel(
            shipment=self.get_object(),
            reason=serializer.validated_data["reason"],
            actor=actor_of(request),
        )
        return self._output(shipment)


class PromiseView(OmsAPIView):
    """A delivery promise for a basket and a destination; reserves nothing."""

    # Asking for a promise reads and changes nothing: any authenticated caller may ask.
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Promise a delivery date for a basket",
        tags=["fulfilment"],
        request=PromiseInputSerializer,
        responses={200: PromiseOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = PromiseInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        answer = promise(
            channel=data["channel"], destination=data["destination"], lines=data["lines"]
        )
        return Response(PromiseOutputSerializer(answer).data)
