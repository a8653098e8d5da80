from django.urls import path
from rest_framework.routers import SimpleRouter

from fulfilment.api.views import PromiseView, ShipmentViewSet

router = SimpleRouter()
router.register("shipments", ShipmentViewSet, basename="shipment")

urlpatterns = [path("promise/", PromiseView.as_view(), name="promise"), *router.urls]
