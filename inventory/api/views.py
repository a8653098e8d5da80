import datetime as dt
from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from inventory import selectors, services
from inventory.api.serializers import (
    LocationInputSerializer,
    LocationOutputSerializer,
    SkuInputSerializer,
    SkuOutputSerializer,
    SkuPriceInputSerializer,
    SkuPriceOutputSerializer,
    StockAdjustmentInputSerializer,
    StockForecastOutputSerializer,
    StockLevelAtSerializer,
    StockLevelOutputSerializer,
    StockLevelUpdateSerializer,
    StockMovementOutputSerializer,
    TransferInputSerializer,
    TransferOutputSerializer,
)
from inventory.filters import (
    LocationFilter,
    SkuFilter,
    SkuPriceFilter,
    StockForecastFilter,
    StockLevelFilter,
    StockMovementFilter,
)
from inventory.models import Location, Sku, SkuPrice, StockLevel, StockMovement, Transfer
from oms.api.pagination import CursorPagination
from oms.api.views import CatalogueViewSet, OmsGenericViewSet, actor_of
from oms.errors import ValidationFailed
from oms.limits import datetime_problem


@extend_schema_view(
    list=extend_schema(summary="List SKUs", tags=["catalogue"]),
    retrieve=extend_schema(summary="Get a SKU", tags=["catalogue"]),
    create=extend_schema(
        summary="Create a SKU",
        tags=["catalogue"],
        request=SkuInputSerializer,
        responses={201: SkuOutputSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a SKU",
        tags=["catalogue"],
        request=SkuInputSerializer,
        responses={200: SkuOutputSerializer},
    ),
)
class SkuViewSet(CatalogueViewSet):
    queryset = selectors.sku_list()
    serializer_class = SkuOutputSerializer
    input_serializer_class = SkuInputSerializer
    filterset_class = SkuFilter

    def perform_service_create(self, data: dict[str, Any]) -> Sku:
        return services.sku_create(**data)

    def perform_service_update(self, instance: Sku, data: dict[str, Any]) -> Sku:
        return services.sku_update(sku=instance, data=data)


@extend_schema_view(
    list=extend_schema(summary="List SKU prices", tags=["catalogue"]),
    retrieve=extend_schema(summary="Get a SKU price", tags=["catalogue"]),
    create=extend_schema(
        summary="Set a new SKU price (409 if the SKU has one for that channel and currency)",
        tags=["catalogue"],
        request=SkuPriceInputSerializer,
        responses={201: SkuPriceOutputSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a SKU price's amount",
        tags=["catalogue"],
        request=SkuPriceInputSerializer,
        responses={200: SkuPriceOutputSerializer},
    ),
    destroy=extend_schema(summary="Remove a SKU price", tags=["catalogue"]),
)
class SkuPriceViewSet(mixins.DestroyModelMixin, CatalogueViewSet):
    """A SKU's current price per currency on one channel, or its default price (no channel):
    what "current price" subscription lines charge."""

    queryset = selectors.sku_price_list()
    serializer_class = SkuPriceOutputSerializer
    input_serializer_class = SkuPriceInputSerializer
    filterset_class = SkuPriceFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def perform_service_create(self, data: dict[str, Any]) -> SkuPrice:
        return services.sku_price_set(create_only=True, **data)

    def perform_service_update(self, instance: SkuPrice, data: dict[str, Any]) -> SkuPrice:
        return services.sku_price_set(
            sku=instance.sku,
            channel=instance.channel,
            currency=instance.currency,
            amount=data.get("amount", instance.amount),
        )

    def perform_destroy(self, instance: SkuPrice) -> None:
        services.sku_price_delete(price=instance)


@extend_schema_view(
    list=extend_schema(summary="List locations", tags=["catalogue"]),
    retrieve=extend_schema(summary="Get a location", tags=["catalogue"]),
    create=extend_schema(
        summary="Create a location",
        tags=["catalogue"],
        request=LocationInputSerializer,
        responses={201: LocationOutputSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a location",
        tags=["catalogue"],
        request=LocationInputSerializer,
        responses={200: LocationOutputSerializer},
    ),
)
class LocationViewSet(CatalogueViewSet):
    queryset = selectors.location_list()
    serializer_class = LocationOutputSerializer
    input_serializer_class = LocationInputSerializer
    filterset_class = LocationFilter

    def perform_service_create(self, data: dict[str, Any]) -> Location:
        return services.location_create(**data)

    def perform_service_update(self, instance: Location, data: dict[str, Any]) -> Location:
        return services.location_update(location=instance, data=data)


AT_PARAMETER = OpenApiParameter(
    "at",
    OpenApiTypes.DATETIME,
    description="Reconstruct the levels at this past moment from the ledger (needs sku or "
    "location); the answer is then not paginated.",
)


@extend_schema_view(
    list=extend_schema(
        summary="List stock levels (or their history with ?at=)",
        tags=["inventory"],
        parameters=[AT_PARAMETER],
    ),
    retrieve=extend_schema(summary="Get a stock level", tags=["inventory"]),
    partial_update=extend_schema(
        summary="Set the safety stock or reorder point of a level",
        tags=["inventory"],
        request=StockLevelUpdateSerializer,
        responses={200: StockLevelOutputSerializer},
    ),
)
class StockLevelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OmsGenericViewSet):
    queryset = selectors.stock_level_list()
    serializer_class = StockLevelOutputSerializer
    filterset_class = StockLevelFilter
    http_method_names = ["get", "patch", "head", "options"]

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raw_at = request.query_params.get("at")
        if not raw_at:  # absent or empty (`?at=`): today's levels, as the schema says
            return super().list(request, *args, **kwargs)
        # History answers one page; the other parameters are still checked (a 400, not ignored).
        self.filter_queryset(self.get_queryset())
        if isinstance(self.paginator, CursorPagination):
            self.paginator.get_page_size(request)
        try:
            at = parse_datetime(raw_at)
        except ValueError:  # well formed, but no such date ("2026-02-30T...")
            at = None
        if at is None or at.tzinfo is None:
            raise ValidationFailed(
                "`at` must be an ISO 8601 timestamp with an offset.",
                errors={"at": ["Use e.g. 2026-11-01T12:00:00+00:00."]},
            )
        problem = datetime_problem(at)
        if problem:
            raise ValidationFailed(f"`at`: {problem}", errors={"at": [problem]})
        at = at.astimezone(dt.UTC)
        sku_code = request.query_params.get("sku")
        location_code = request.query_params.get("location")
        if not sku_code and not location_code:
            raise ValidationFailed(
                "History needs a SKU or a location.", errors={"at": ["Add ?sku= or ?location=."]}
            )
        skus = Sku.objects.filter(code=sku_code) if sku_code else None
        locations = Location.objects.filter(code=location_code) if location_code else None
        rows = selectors.stock_levels_at(
            at=at,
            sku_ids=skus.values_list("pk", flat=True) if skus is not None else None,
            location_ids=locations.values_list("pk", flat=True) if locations is not None else None,
        )
        sku_codes = dict(
            Sku.objects.filter(pk__in={r.sku_id for r in rows}).values_list("pk", "code")
        )
        location_codes = dict(
            Location.objects.filter(pk__in={r.location_id for r in rows}).values_list("pk", "code")
        )
        safety = {
            (s, loc): q
            for s, loc, q in StockLevel.objects.filter(
                sku_id__in=sku_codes, location_id__in=location_codes
            ).values_list("sku_id", "location_id", "safety_stock")
        }
        data = [
            {
                "sku": sku_codes[r.sku_id],
                "location": location_codes[r.location_id],
                "on_hand": r.on_hand,
                "reserved": r.reserved,
                "quarantined": r.quarantined,
                "safety_stock": safety.get((r.sku_id, r.location_id), 0),
                "available": max(
                    0, r.on_hand - r.reserved - safety.get((r.sku_id, r.location_id), 0)
                ),
                "at": at,
            }
            for r in rows
        ]
        results = StockLevelAtSerializer(data, many=True).data
        return Response({"next": None, "previous": None, "results": results})

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        level = self.get_object()
        serializer = StockLevelUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.stock_level_set_thresholds(
            sku=level.sku, location=level.location, **serializer.validated_data
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=level.pk)).data)


class MovementPagination(CursorPagination):
    ordering = "-id"


@extend_schema_view(
    list=extend_schema(summary="The stock ledger, newest first", tags=["inventory"]),
    retrieve=extend_schema(summary="Get a stock movement", tags=["inventory"]),
)
class StockMovementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OmsGenericViewSet):
    queryset = selectors.stock_movement_list()
    serializer_class = StockMovementOutputSerializer
    filterset_class = StockMovementFilter
    pagination_class = MovementPagination


class StockAdjustmentViewSet(OmsGenericViewSet):
    """Adjustments and counts; each answers with the movement it wrote."""

    queryset = StockMovement.objects.none()
    serializer_class = StockMovementOutputSerializer

    @extend_schema(
        summary="Adjust stock (receipt, damage, correction) or record a count",
        tags=["inventory"],
        request=StockAdjustmentInputSerializer,
        responses={201: StockMovementOutputSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = StockAdjustmentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["kind"] == "count":
            movement = services.stock_count(
                sku=data["sku"],
                location=data["location"],
                counted=data["quantity"],
                reason=data["reason"],
                actor=actor_of(request),
            )
        else:
            movement = services.stock_adjust(
                sku=data["sku"],
                location=data["location"],
                kind=data["kind"],
                quantity=data["quantity"],
                reason=data["reason"],
                actor=actor_of(request),
            )
        return Response(StockMovementOutputSerializer(movement).data, status=201)


@extend_schema_view(
    list=extend_schema(summary="List transfers", tags=["inventory"]),
    retrieve=extend_schema(summary="Get a transfer", tags=["inventory"]),
)
class TransferViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OmsGenericViewSet):
    queryset = selectors.transfer_list()
    serializer_class = TransferOutputSerializer
    filterset_fields = ["status"]

    @extend_schema(
        summary="Create a draft transfer",
        tags=["inventory"],
        request=TransferInputSerializer,
        responses={201: TransferOutputSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = TransferInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        transfer = services.transfer_create(
            from_location=data["from_location"],
            to_location=data["to_location"],
            lines=[(line["sku"], line["quantity"]) for line in data["lines"]],
            reference=data["reference"],
            actor=actor_of(request),
        )
        return Response(self._output(transfer), status=201)

    def _output(self, transfer: Transfer) -> Any:
        return TransferOutputSerializer(self.get_queryset().get(pk=transfer.pk)).data

    @extend_schema(summary="Ship: take the units off the source", tags=["inventory"], request=None)
    @action(detail=True, methods=["post"])
    def ship(self, request: Request, pk: str) -> Response:
        transfer = services.transfer_ship(transfer=self.get_object(), actor=actor_of(request))
        return Response(self._output(transfer))

    @extend_schema(
        summary="Receive: put the units on hand at the destination",
        tags=["inventory"],
        request=None,
    )
    @action(detail=True, methods=["post"])
    def receive(self, request: Request, pk: str) -> Response:
        transfer = services.transfer_receive(transfer=self.get_object(), actor=actor_of(request))
        return Response(self._output(transfer))

    @extend_schema(
        summary="Cancel (back to the source if in transit)", tags=["inventory"], request=None
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        transfer = services.transfer_cancel(transfer=self.get_object(), actor=actor_of(request))
        return Response(self._output(transfer))


class ForecastPagination(CursorPagination):
    ordering = "id"


@extend_schema_view(
    list=extend_schema(
        summary="Demand forecasts with their backtested accuracy (WAPE)", tags=["inventory"]
    ),
)
class StockForecastViewSet(mixins.ListModelMixin, OmsGenericViewSet):
    queryset = selectors.forecast_list()
    serializer_class = StockForecastOutputSerializer
    filterset_class = StockForecastFilter
    pagination_class = ForecastPagination
