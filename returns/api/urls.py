from rest_framework.routers import SimpleRouter

from returns.api.views import RefundViewSet, ReturnViewSet

router = SimpleRouter()
router.register("returns", ReturnViewSet, basename="return")
router.register("refunds", RefundViewSet, basename="refund")

urlpatterns = router.urls
