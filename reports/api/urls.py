from django.urls import path
from rest_framework.routers import SimpleRouter

from reports.api.views import ReportView
from reports.api.whatif_views import RoutingDraftViewSet, WhatIfRunViewSet

router = SimpleRouter()
router.register("routing-drafts", RoutingDraftViewSet, basename="routing-draft")
router.register("whatif-runs", WhatIfRunViewSet, basename="whatif-run")

urlpatterns = [path("reports/<str:name>/", ReportView.as_view(), name="report"), *router.urls]
