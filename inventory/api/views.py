from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view

from inventory import selectors, services
from inventory.api.serializers import (
    LocationInputSerializer,
    LocationOutputSerializer,
    SkuInputSerializer,
    SkuOutputSerializer,
)
from inventory.filters import LocationFilter, SkuFilter
from inventory.models import Location, Sku
from oms.api.views import CatalogueViewSet


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
