"""What-if routing in the API: routing drafts and what-if runs.

- `GET|POST /routing-drafts/`, `GET /routing-drafts/{id}/`: a draft is a copy of the live
  routing rules and locations' settings, with the rules and settings of the body instead;
- `POST /routing-drafts/{id}/publish/`: the draft becomes the live configuration (409
  `routing_config_changed` when the live one changed since the draft was made);
- `GET|POST /whatif-runs/`, `GET /whatif-runs/{id}/`: a replay of a window's orders, 202 when
  enqueued; poll it for `status` and `progress`; `result` once succeeded.

Permission: reports.manage_routing_drafts (managers, oms.roles), for reading too. Bad input is
a 400 problem and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from oms.api.pagination import CursorPagination
from oms.api.views import OmsGenericViewSet
from reports import whatif
from reports.api.whatif_serializers import (
    DraftInputSerializer,
    DraftOutputSerializer,
    RunInputSerializer,
    RunOutputSerializer,
)
from reports.models import DraftLocation, DraftRule, RoutingDraft, WhatIfRun

TAG = ["what-if routing"]


class CanManageRoutingDrafts(BasePermission):
    message = f"This needs the permission {whatif.MANAGE}."

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(whatif.MANAGE))


def _actor(request: Request) -> str:
    return str(request.user.get_username())


class NewestFirst(CursorPagination):
    ordering = "-id"


@extend_schema_view(
    list=extend_schema(summary="List routing drafts, newest first", tags=TAG),
    retrieve=extend_schema(summary="Get a routing draft with its rules and locations", tags=TAG),
    create=extend_schema(
        summary="Make a routing draft (a copy of the live routing, with the body's changes)",
        tags=TAG,
        request=DraftInputSerializer,
        responses={201: DraftOutputSerializer},
    ),
)
class RoutingDraftViewSet(OmsGenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    permission_classes = [CanManageRoutingDrafts]
    pagination_class = NewestFirst
    serializer_class = DraftOutputSerializer
    queryset = RoutingDraft.objects.prefetch_related(
        Prefetch(
            "rules",
            DraftRule.objects.select_related("channel").prefetch_related("locations"),
        ),
        Prefetch("locations", DraftLocation.objects.select_related("location")),
    )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = DraftInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        draft = whatif.routing_draft_create(actor=_actor(request), **data.service_kwargs())
        return Response(self.get_serializer(self.get_queryset().get(pk=draft.pk)).data, 201)

    @extend_schema(
        summary="Publish the draft: its rules and location settings become the live ones",
        tags=TAG,
        request=None,
        responses={200: DraftOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str | None = None) -> Response:
        draft = whatif.routing_draft_publish(draft_id=self.get_object().pk, actor=_actor(request))
        return Response(self.get_serializer(self.get_queryset().get(pk=draft.pk)).data)


@extend_schema_view(
    list=extend_schema(summary="List what-if runs, newest first", tags=TAG),
    retrieve=extend_schema(
        summary="Get a what-if run: status, progress and, once done, the comparison", tags=TAG
    ),
    create=extend_schema(
        summary="Replay a window's orders with a draft (enqueued: poll the run)",
        tags=TAG,
        request=RunInputSerializer,
        responses={202: RunOutputSerializer},
    ),
)
class WhatIfRunViewSet(OmsGenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    permission_classes = [CanManageRoutingDrafts]
    pagination_class = NewestFirst
    serializer_class = RunOutputSerializer
    queryset = WhatIfRun.objects.all()

    def get_serializer_context(self) -> dict[str, Any]:
        # A list leaves the results out (each may hold hundreds of explanations).
        return {**super().get_serializer_context(), "with_result": self.action != "list"}

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = RunInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = whatif.whatif_run_create(actor=_actor(request), **data.service_kwargs())
        return Response(self.get_serializer(run).data, status=202)
