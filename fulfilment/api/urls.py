from django.urls import path
from rest_framework.routers import SimpleRouter

from fulfilment.api.tracking_views import ShipmentTrackingEventsView
from fulfilment.api.views import PromiseView, ShipmentViewSet

router = SimpleRouter()
router.register("shipments", ShipmentViewSet, basename="shipment")

urlpatterns = [
    path("promise/", PromiseView.as_view(), name="promise"),
    path(
        "shipments/<int:pk>/tracking-events/",
        ShipmentTrackingEventsView.as_view(),
        name="shipment-tracking-events",
    ),
    *router.urls,
]
