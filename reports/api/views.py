"""GET /api/v1/reports/<name>/: a report as JSON, or CSV with ?format=csv.

Permission: whoever may view orders (orders.view_order: every role of oms.roles, staff and
integrators). Bad parameters are a 400 problem (reports.api.serializers), an unknown report a
404 problem.
"""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from oms.api.views import OmsAPIView
from reports import selectors
from reports.api.serializers import DEFAULT_DAYS, ReportOutputSerializer, ReportQuerySerializer
from reports.export import as_data, csv_filename, csv_lines

VIEW_ORDERS = "orders.view_order"


class CanViewOrders(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(VIEW_ORDERS))


class CSVRenderer(BaseRenderer):
    """Lets ?format=csv through DRF's content negotiation; the view streams the CSV itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        return b"" if data is None else JSONRenderer().render(data)


class ReportView(OmsAPIView):
    permission_classes = [CanViewOrders]
    renderer_classes = [JSONRenderer, CSVRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        """An unknown ?format= is a bad parameter (400), not a missing page (DRF's 404)."""
        wanted = request.query_params.get("format")
        if wanted and wanted not in ("json", "csv") and not force:
            raise ValidationError({"format": [f"{wanted!r} is not json or csv."]})
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        summary="A report over a date range (sales, fulfilment, inventory, returns, channels, "
        "subscriptions)",
        tags=["reports"],
        parameters=[
            OpenApiParameter("name", str, OpenApiParameter.PATH, enum=list(selectors.REPORTS)),
            OpenApiParameter(
                "from",
                OpenApiTypes.DATE,
                description=f"First day (default {DEFAULT_DAYS} days before `to`)",
            ),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (default today)"),
            OpenApiParameter(
                "channel",
                str,
                description="Channel code (sales, fulfilment, returns, channels, subscriptions)",
            ),
            OpenApiParameter("location", str, description="Location code (fulfilment, inventory)"),
            OpenApiParameter("group", str, enum=list(selectors.GROUPS), description="Default day"),
            OpenApiParameter("format", str, enum=["json", "csv"], description="Default json"),
        ],
        responses={
            (200, "application/json"): ReportOutputSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
        },
    )
    def get(self, request: Request, name: str) -> Any:
        if name not in selectors.REPORTS:
            raise NotFound(f"There is no report {name!r}.")
        params = ReportQuerySerializer(data=request.query_params.dict(), report=name)
        params.is_valid(raise_exception=True)
        report = selectors.build(params.query())
        if params.validated_data.get("format") == "csv":
            response = StreamingHttpResponse(
                csv_lines(report), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="{csv_filename(report)}"'
            return response
        return Response(as_data(report))
