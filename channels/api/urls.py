from django.urls import path
from rest_framework.routers import SimpleRouter

from channels.api.views import AvailabilityView, ChannelViewSet, SyncRunViewSet

router = SimpleRouter()
router.register("channels", ChannelViewSet, basename="channel")
router.register("channel-sync-runs", SyncRunViewSet, basename="channel-sync-run")

urlpatterns = [
    path("availability/", AvailabilityView.as_view(), name="availability"),
    *router.urls,
]
