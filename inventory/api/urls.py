from rest_framework.routers import SimpleRouter

from inventory.api.views import LocationViewSet, SkuViewSet

router = SimpleRouter()
router.register("skus", SkuViewSet, basename="sku")
router.register("locations", LocationViewSet, basename="location")

urlpatterns = router.urls
