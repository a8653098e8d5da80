from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from oms.api.pagination import CursorPagination
from oms.api.views import OmsGenericViewSet, actor_of
from oms.errors import Conflict
from subscriptions import selectors, services
from subscriptions.api.serializers import (
    SubscriptionCreateSerializer,
    SubscriptionEventOutputSerializer,
    SubscriptionOrderOutputSerializer,
    SubscriptionOutputSerializer,
    SubscriptionReasonSerializer,
    SubscriptionUpdateSerializer,
)
from subscriptions.filters import SubscriptionFilter
from subscriptions.models import Subscription
from subscriptions.states import RenewalStatus

TAG = ["subscriptions"]


class SubscriptionPagination(CursorPagination):
    ordering = "-id"


def _lines(data: dict[str, Any]) -> None:
    if "lines" in data:
        data["lines"] = [dict(line) for line in data["lines"]]


@extend_schema_view(
    list=extend_schema(summary="List subscriptions", tags=TAG),
    retrieve=extend_schema(summary="Get a subscription", tags=TAG),
)
class SubscriptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OmsGenericViewSet):
    """Recurring orders: each renewal is an order with external id SUB-<number>-<sequence>."""

    queryset = selectors.subscription_list()
    serializer_class = SubscriptionOutputSerializer
    filterset_class = SubscriptionFilter
    pagination_class = SubscriptionPagination
    http_method_names = ["get", "post", "patch", "head", "options"]

    def _output(self, sub: Subscription, status: int = 200) -> Response:
        return Response(
            self.get_serializer(selectors.subscription_list().get(pk=sub.pk)).data, status=status
        )

    @extend_schema(
        summary="Create a subscription",
        tags=TAG,
        request=SubscriptionCreateSerializer,
        responses={201: SubscriptionOutputSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = SubscriptionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        _lines(data)
        sub = services.subscription_create(actor=actor_of(request), **data)
        return self._output(sub, status=201)

    @extend_schema(
        summary="Change lines, address, interval, next date, end or payment method",
        description=(
            "Only the fields given change. `lines` replaces all the lines: send every line "
            "the subscription keeps (at least one, one per SKU; an empty list or a SKU twice "
            "is 400 and changes nothing); a line left out is removed. A line without "
            "`unit_price` (or null) takes the SKU's current price at each renewal. "
            "`shipping_address` is merged into the current address. A new `interval`, "
            "`interval_count` or `next_order_at` starts a new schedule from the next date."
        ),
        tags=TAG,
        request=SubscriptionUpdateSerializer,
        responses={200: SubscriptionOutputSerializer},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        serializer = SubscriptionUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        _lines(data)
        sub = services.subscription_update(
            subscription=self.get_object(), data=data, actor=actor_of(request)
        )
        return self._output(sub)

    @extend_schema(
        summary="Pause: no renewal until resumed",
        tags=TAG,
        request=SubscriptionReasonSerializer,
        responses={200: SubscriptionOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str) -> Response:
        serializer = SubscriptionReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sub = services.subscription_pause(
            subscription=self.get_object(),
            reason=serializer.validated_data["reason"],
            actor=actor_of(request),
        )
        return self._output(sub)

    @extend_schema(
        summary="Resume a paused or failed subscription (from the next date after now)",
        tags=TAG,
        request=None,
        responses={200: SubscriptionOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str) -> Response:
        sub = services.subscription_resume(subscription=self.get_object(), actor=actor_of(request))
        return self._output(sub)

    @extend_schema(
        summary="Skip the next renewal",
        tags=TAG,
        request=None,
        responses={200: SubscriptionOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def skip(self, request: Request, pk: str) -> Response:
        sub = services.subscription_skip(subscription=self.get_object(), actor=actor_of(request))
        return self._output(sub)

    @extend_schema(
        summary="Cancel (with a reason)",
        tags=TAG,
        request=SubscriptionReasonSerializer,
        responses={200: SubscriptionOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        serializer = SubscriptionReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sub = services.subscription_cancel(
            subscription=self.get_object(),
            reason=serializer.validated_data["reason"],
            actor=actor_of(request),
        )
        return self._output(sub)

    @extend_schema(
        summary="Order now the period that is next (two simultaneous calls give one order)",
        tags=TAG,
        request=None,
        responses={
            200: SubscriptionOrderOutputSerializer,
            202: OpenApiResponse(description="Claimed; its order is captured shortly."),
            409: OpenApiResponse(
                description="Not active (invalid_transition), or the renewal could not be "
                "ordered (renewal_failed: the subscription failed, see failure_reason)."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def renew(self, request: Request, pk: str) -> Response:
        sub = self.get_object()  # read now: the period that is next at the time of the request
        renewal = services.subscription_renew(
            subscription=sub, sequence=sub.next_sequence, actor=actor_of(request)
        )
        if renewal.status == RenewalStatus.CAPTURE_FAILED:
            raise Conflict(
                f"Renewal {renewal.sequence} could not be ordered: {renewal.last_error}",
                code="renewal_failed",
            )
        if renewal.order_id is None:  # claimed; the order is captured by the outbox's task
            return Response({"sequence": renewal.sequence, "status": renewal.status}, status=202)
        order = (
            selectors.subscription_orders(sub)
            .select_related("channel", "subscription_renewal")
            .get(subscription_renewal=renewal)
        )
        return Response(SubscriptionOrderOutputSerializer(order).data)

    @extend_schema(
        summary="The subscription's renewal orders, newest first",
        tags=TAG,
        responses={200: SubscriptionOrderOutputSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def orders(self, request: Request, pk: str) -> Response:
        orders = selectors.subscription_orders(self.get_object()).select_related(
            "channel", "subscription_renewal"
        )
        page = self.paginate_queryset(orders)
        data = SubscriptionOrderOutputSerializer(page, many=True).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="The subscription's timeline, oldest first",
        tags=TAG,
        responses={200: SubscriptionEventOutputSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def events(self, request: Request, pk: str) -> Response:
        events = selectors.subscription_events(self.get_object())
        return Response(SubscriptionEventOutputSerializer(events, many=True).data)
