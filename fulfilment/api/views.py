from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer
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
from fulfilment.services.labels import (
    labels_merged_pdf,
    labels_merged_zpl,
    shipment_ship_request,
)
from fulfilment.services.promise import promise
from fulfilment.states import ShipmentStatus
from oms.api.pagination import CursorPagination
from oms.api.views import OmsAPIView, OmsGenericViewSet, actor_of
from oms.errors import NotFound, ValidationFailed

LABEL_FORMATS = {"pdf": "application/pdf", "zpl": "text/plain; charset=utf-8"}


class ShipmentPagination(CursorPagination):
    ordering = "-id"


class LabelNegotiation(DefaultContentNegotiation):
    """On the label endpoint `?format=` names the label's format (pdf, zpl), not an API
    renderer: negotiation always picks the first renderer (JSON), used for problem JSON only;
    the label itself is a plain HttpResponse."""

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


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
        summary="Ship: buy the label (carrier + service) or a manual shipment (tracking_number)",
        description=(
            "With `carrier` and `service` and no `tracking_number`, the labels are bought in "
            "the background: 202 with the shipment still packed; it ships when every parcel "
            "has its label (`label_url` is then set). With `tracking_number` the shipment "
            "ships now (200)."
        ),
        tags=["fulfilment"],
        request=ShipSerializer,
        responses={200: ShipmentOutputSerializer, 202: ShipmentOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def ship(self, request: Request, pk: str) -> Response:
        serializer = ShipSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        if data["carrier"] and not data["tracking_number"]:
            shipment = shipment_ship_request(
                shipment=self.get_object(),
                carrier=data["carrier"],
                service=data["service"],
                actor=actor_of(request),
            )
            response = self._output(shipment)
            if shipment.status == ShipmentStatus.PACKED:
                response.status_code = 202  # the label is being bought
            return response
        shipment = services.shipment_ship(
            shipment=self.get_object(), actor=actor_of(request), **data
        )
        return self._output(shipment)

    @extend_schema(
        summary="The shipment's label: PDF (one page per parcel), or ZPL with ?format=zpl",
        tags=["fulfilment"],
        parameters=[
            OpenApiParameter("format", str, enum=["pdf", "zpl"], description="pdf (default) or zpl")
        ],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="PDF"),
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="ZPL"),
            404: OpenApiResponse(description="No label yet"),
        },
    )
    @action(detail=True, methods=["get"], content_negotiation_class=LabelNegotiation)
    def label(self, request: Request, pk: str) -> HttpResponse:
        kind = str(request.query_params.get("format") or "pdf").lower()
        if kind not in LABEL_FORMATS:
            raise ValidationFailed(
                "The label comes as pdf or zpl.", errors={"format": ["pdf or zpl."]}
            )
        shipment = self.get_object()
        labels = list(selectors.shipment_labels([shipment.pk]))
        if not labels:
            raise NotFound(f"Shipment {shipment.pk} has no label yet.")
        if not all(bytes(label.pdf) for label in labels):
            raise NotFound(
                f"The labels of shipment {shipment.pk} were erased with the shopper's data."
            )
        name = f"label-SH-{shipment.pk}"
        if kind == "zpl":
            if not all(label.zpl for label in labels):
                raise NotFound(f"The carrier of shipment {shipment.pk} gave no ZPL label.")
            body: bytes | str = labels_merged_zpl([label.zpl for label in labels])
        else:
            body = labels_merged_pdf([bytes(label.pdf) for label in labels])
        response = HttpResponse(body, content_type=LABEL_FORMATS[kind])
        response["Content-Disposition"] = f'inline; filename="{name}.{kind}"'
        return response

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
