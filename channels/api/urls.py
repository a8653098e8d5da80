from django.urls import path
from rest_framework.routers import SimpleRouter

from channels.api.views import AvailabilityView, ChannelViewSet

router = SimpleRouter()
router.register("channels", ChannelViewSet, basename="channel")

urlpatterns = [
    path("availability/", AvailabilityView.as_view(), name="availability"),
    *router.urls,
]
