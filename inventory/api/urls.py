from rest_framework.routers import SimpleRouter

from inventory.api.views import (
    LocationViewSet,
    SkuPriceViewSet,
    SkuViewSet,
    StockAdjustmentViewSet,
    StockForecastViewSet,
    StockLevelViewSet,
    StockMovementViewSet,
    TransferViewSet,
)

router = SimpleRouter()
router.register("skus", SkuViewSet, basename="sku")
router.register("sku-prices", SkuPriceViewSet, basename="sku-price")
router.register("locations", LocationViewSet, basename="location")
router.register("stock-levels", StockLevelViewSet, basename="stock-level")
router.register("stock-movements", StockMovementViewSet, basename="stock-movement")
router.register("stock-adjustments", StockAdjustmentViewSet, basename="stock-adjustment")
router.register("stock-transfers", TransferViewSet, basename="stock-transfer")
router.register("forecasts", StockForecastViewSet, basename="forecast")

urlpatterns = router.urls
