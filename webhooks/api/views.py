"""Webhook endpoints, their deliveries and the events feed.

Invariants: an endpoint's secret is in the answer of its creation and of a rotation only; no
other answer carries it (list, retrieve, PATCH, disable, enable). Every bad input is problem
JSON (400, 404, 409), never a 500.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from oms.api.pagination import CursorPagination
from oms.api.views import OmsAPIView, OmsGenericViewSet
from webhooks import selectors, services
from webhooks.api.serializers import (
    DeliveryOutputSerializer,
    DisableInputSerializer,
    EndpointInputSerializer,
    EndpointOutputSerializer,
    EndpointWithSecretSerializer,
    EventOutputSerializer,
    FeedPageSerializer,
    FeedQuerySerializer,
)
from webhooks.filters import DeliveryFilter
from webhooks.models import Event, WebhookEndpoint

TAG = ["webhooks"]


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> dict[str, Any]:
    return {**EndpointOutputSerializer(endpoint).data, "secret": secret}


@extend_schema_view(
    list=extend_schema(summary="List webhook endpoints", tags=TAG),
    retrieve=extend_schema(summary="Get a webhook endpoint (never its secret)", tags=TAG),
    create=extend_schema(
        summary="Create a webhook endpoint (answers its signing secret, once)",
        tags=TAG,
        request=EndpointInputSerializer,
        responses={201: EndpointWithSecretSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a webhook endpoint's url, events or description",
        tags=TAG,
        request=EndpointInputSerializer,
        responses={200: EndpointOutputSerializer},
    ),
    destroy=extend_schema(summary="Delete a webhook endpoint", tags=TAG),
)
class EndpointViewSet(
    OmsGenericViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
):
    queryset = selectors.endpoint_list()
    serializer_class = EndpointOutputSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = EndpointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_create(**data.validated_data)
        return Response(_with_secret(endpoint, secret), status=201)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        data = EndpointInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=endpoint, data=dict(data.validated_data))
        return Response(self.get_serializer(endpoint).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.endpoint_delete(endpoint=self.get_object())
        return Response(status=204)

    @extend_schema(
        summary="Rotate the signing secret (the new one is answered once; the old one keeps "
        "signing for OMS_WEBHOOKS_ROTATION_GRACE_HOURS)",
        tags=TAG,
        request=None,
        responses={200: EndpointWithSecretSerializer},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        endpoint, secret = services.endpoint_rotate_secret(endpoint=self.get_object())
        return Response(_with_secret(endpoint, secret))

    @extend_schema(
        summary="Stop sending to the endpoint",
        tags=TAG,
        request=DisableInputSerializer,
        responses={200: EndpointOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def disable(self, request: Request, pk: str | None = None) -> Response:
        data = DisableInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_disable(
            endpoint=self.get_object(), reason=data.validated_data.get("reason", "")
        )
        return Response(self.get_serializer(endpoint).data)

    @extend_schema(
        summary="Send to the endpoint again",
        tags=TAG,
        request=None,
        responses={200: EndpointOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk: str | None = None) -> Response:
        endpoint = services.endpoint_enable(endpoint=self.get_object())
        return Response(self.get_serializer(endpoint).data)


class DeliveryPagination(CursorPagination):
    ordering = "-id"


@extend_schema_view(
    list=extend_schema(summary="List webhook deliveries, newest first", tags=TAG),
    retrieve=extend_schema(summary="Get a webhook delivery", tags=TAG),
)
class DeliveryViewSet(OmsGenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Each event sent to each endpoint: its status, attempts, response code and timing."""

    pagination_class = DeliveryPagination
    queryset = selectors.delivery_list()
    serializer_class = DeliveryOutputSerializer
    filterset_class = DeliveryFilter

    @extend_schema(
        summary="Send the delivery again now (the same webhook-id)",
        tags=TAG,
        request=None,
        responses={202: DeliveryOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, pk: str | None = None) -> Response:
        delivery = services.delivery_redeliver(delivery=self.get_object())
        return Response(self.get_serializer(delivery).data, status=202)


class EventFeedView(OmsAPIView):
    """Every recorded event, oldest first, replayable from any point within the retention."""

    queryset = Event.objects.none()  # permission: webhooks.view_event

    @extend_schema(
        summary="Read the events feed after a cursor",
        tags=TAG,
        parameters=[
            OpenApiParameter("after", int, description="The last event id you saw (0: all)"),
            OpenApiParameter("types", str, description="Event types, comma-separated"),
            OpenApiParameter("limit", int, description="Events per page, 1 to 500 (100)"),
        ],
        responses={200: FeedPageSerializer},
    )
    def get(self, request: Request) -> Response:
        query = FeedQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        after = query.validated_data.get("after", 0)
        limit = query.validated_data["limit"]
        found = selectors.event_feed(
            after=after, types=query.validated_data.get("types") or (), limit=limit + 1
        )
        page = found[:limit]
        next_after = page[-1].pk if page else after
        return Response(
            {
                "results": EventOutputSerializer(page, many=True).data,
                "next_after": next_after,
                "has_more": len(found) > limit,
                "next": replace_query_param(request.build_absolute_uri(), "after", next_after),
            }
        )
