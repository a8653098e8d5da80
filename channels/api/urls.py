from rest_framework.routers import SimpleRouter

from channels.api.views import ChannelViewSet

router = SimpleRouter()
router.register("channels", ChannelViewSet, basename="channel")

urlpatterns = router.urls
