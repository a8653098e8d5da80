from django.urls import path
from rest_framework.routers import SimpleRouter

from webhooks.api.views import DeliveryViewSet, EndpointViewSet, EventFeedView

router = SimpleRouter()
router.register("webhook-endpoints", EndpointViewSet, basename="webhook-endpoint")
router.register("webhook-deliveries", DeliveryViewSet, basename="webhook-delivery")

urlpatterns = [
    path("events/", EventFeedView.as_view(), name="events"),
    *router.urls,
]
