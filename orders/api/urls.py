from rest_framework.routers import SimpleRouter

from orders.api.views import CustomerViewSet, OrderViewSet

router = SimpleRouter()
router.register("orders", OrderViewSet, basename="order")
router.register("customers", CustomerViewSet, basename="customer")

urlpatterns = router.urls
