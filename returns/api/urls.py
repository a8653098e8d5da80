from rest_framework.routers import SimpleRouter

from returns.api.views import RefundViewSet, ReturnReasonViewSet, ReturnViewSet

router = SimpleRouter()
router.register("returns", ReturnViewSet, basename="return")
router.register("refunds", RefundViewSet, basename="refund")
router.register("return-reasons", ReturnReasonViewSet, basename="return-reason")

urlpatterns = router.urls
