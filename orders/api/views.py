from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from oms.api.pagination import CursorPagination
from oms.api.views import OmsGenericViewSet, actor_of
from orders import selectors, services
from orders.api.serializers import (
    AddressSerializer,
    CancelSerializer,
    CustomerOutputSerializer,
    EditLinesSerializer,
    HoldSerializer,
    NoteSerializer,
    OrderCreateSerializer,
    OrderEventOutputSerializer,
    OrderOutputSerializer,
    PrivacyRequestOutputSerializer,
    ReleaseSerializer,
)
from orders.filters import CustomerFilter, OrderFilter
from orders.models import Customer, Order, PrivacyRequestSource
from orders.services.privacy import customer_data_erase, customer_data_export
from orders.states import HoldReason

PERSONAL_DATA_PERMISSION = "orders.manage_personal_data"


class OrderPagination(CursorPagination):
    ordering = "-id"


@extend_schema_view(
    list=extend_schema(summary="List and search orders", tags=["orders"]),
    retrieve=extend_schema(summary="Get an order", tags=["orders"]),
)
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OmsGenericViewSet):
    queryset = selectors.order_list()
    serializer_class = OrderOutputSerializer
    filterset_class = OrderFilter
    pagination_class = OrderPagination

    def _output(self, order: Order, status: int = 200) -> Response:
        return Response(
            self.get_serializer(self.get_queryset().get(pk=order.pk)).data, status=status
        )

    @extend_schema(
        summary="Capture an order (idempotent per channel and external id)",
        tags=["orders"],
        request=OrderCreateSerializer,
        responses={201: OrderOutputSerializer, 200: OrderOutputSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        result = services.order_capture(
            channel=data.pop("channel"),
            raw_payload=request.data if isinstance(request.data, dict) else {},
            actor=actor_of(request),
            **data,
        )
        if result.routed is not None:  # as routing left it: nothing to read again
            return Response(self.get_serializer(result.routed).data, status=201)
        return self._output(result.order, status=201 if result.created else 200)

    @extend_schema(
        summary="Cancel the order or some line quantities",
        tags=["orders"],
        request=CancelSerializer,
        responses={200: OrderOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        serializer = CancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lines = serializer.validated_data.get("lines")
        order = services.order_cancel(
            order=self.get_object(),
            lines=[(ln["line"], ln["quantity"]) for ln in lines] if lines else None,
            reason=serializer.validated_data["reason"],
            actor=actor_of(request),
        )
        return self._output(order)

    @extend_schema(
        summary="Put the order on hold",
        tags=["orders"],
        request=HoldSerializer,
        responses={200: OrderOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def hold(self, request: Request, pk: str) -> Response:
        serializer = HoldSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        text = serializer.validated_data["reason"]
        code = serializer.validated_data.get("code") or (
            text if text in HoldReason.values else HoldReason.MANUAL
        )
        order = self.get_object()
        services.order_hold(order=order, reason=code, note=text, actor=actor_of(request))
        return self._output(order)

    @extend_schema(
        summary="Release the order's holds",
        tags=["orders"],
        request=ReleaseSerializer,
        responses={200: OrderOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str) -> Response:
        serializer = ReleaseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.order_release(
            order=self.get_object(),
            reason=serializer.validated_data.get("hold"),
            note=serializer.validated_data["reason"],
            actor=actor_of(request),
        )
        return self._output(order)

    @extend_schema(
        summary="Change the shipping address before shipment",
        tags=["orders"],
        request=AddressSerializer,
        responses={200: OrderOutputSerializer},
    )
    @action(detail=True, methods=["patch"], url_path="shipping-address")
    def shipping_address(self, request: Request, pk: str) -> Response:
        serializer = AddressSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = self.get_object()
        # PATCH: the fields given replace those of the current address, the rest stays.
        order = services.order_shipping_address_update(
            order=order,
            address={**order.shipping_address, **serializer.validated_data},
            actor=actor_of(request),
        )
        return self._output(order)

    @extend_schema(
        summary="Add, remove or change lines before allocation",
        tags=["orders"],
        request=EditLinesSerializer,
        responses={200: OrderOutputSerializer},
    )
    @action(detail=True, methods=["post"], url_path="edit-lines")
    def edit_lines(self, request: Request, pk: str) -> Response:
        serializer = EditLinesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        order = services.order_lines_edit(
            order=self.get_object(),
            add=data.get("add", []),
            remove=data.get("remove", []),
            change=data.get("change", []),
            actor=actor_of(request),
        )
        return self._output(order)

    @extend_schema(
        summary="Add an internal note",
        tags=["orders"],
        request=NoteSerializer,
        responses={200: OrderOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def notes(self, request: Request, pk: str) -> Response:
        serializer = NoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.order_note_add(
            order=self.get_object(), text=serializer.validated_data["text"], actor=actor_of(request)
        )
        return self._output(order)

    @extend_schema(
        summary="The order's timeline, oldest first",
        tags=["orders"],
        responses={200: OrderEventOutputSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def events(self, request: Request, pk: str) -> Response:
        events = selectors.order_events(self.get_object())
        return Response(OrderEventOutputSerializer(events, many=True).data)


class ManagesPersonalData(BasePermission):
    """Exporting and erasing a person's data needs orders.manage_personal_data (Manager)."""

    message = "Exporting or erasing personal data needs the manage_personal_data permission."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(PERSONAL_DATA_PERMISSION))


class CustomerPagination(CursorPagination):
    ordering = "-id"


@extend_schema_view(
    list=extend_schema(summary="List customers (filter by e-mail)", tags=["customers"]),
    retrieve=extend_schema(summary="Get a customer", tags=["customers"]),
)
class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OmsGenericViewSet):
    """Customers, and their personal data on request (export, erasure)."""

    queryset = Customer.objects.order_by("-id")
    serializer_class = CustomerOutputSerializer
    filterset_class = CustomerFilter
    pagination_class = CustomerPagination

    def get_permissions(self) -> Any:
        if self.action in ("export", "erase"):
            return [ManagesPersonalData()]
        return super().get_permissions()

    @extend_schema(
        summary="Export everything held about the customer (JSON; never stored)",
        tags=["customers"],
        request=None,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The export")},
    )
    @action(detail=True, methods=["post"], idempotency_store=False)
    def export(self, request: Request, pk: str) -> Response:
        _, document = customer_data_export(
            customer=self.get_object(),
            source=PrivacyRequestSource.API,
            requested_by=actor_of(request),
        )
        response = Response(document)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        summary="Erase the customer's personal data (409 while orders are in fulfilment)",
        tags=["customers"],
        request=None,
        responses={200: PrivacyRequestOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def erase(self, request: Request, pk: str) -> Response:
        done = customer_data_erase(
            customer=self.get_object(),
            source=PrivacyRequestSource.API,
            requested_by=actor_of(request),
        )
        return Response(PrivacyRequestOutputSerializer(done).data)
