from django.urls import path
from rest_framework.routers import SimpleRouter

from returns.api.views import (
    OrderMarkPaidViewSet,
    OrderPaymentsViewSet,
    PaymentCommandsViewSet,
    PaymentReconciliationViewSet,
    RefundViewSet,
    ReturnReasonViewSet,
    ReturnViewSet,
)

router = SimpleRouter()
router.register("returns", ReturnViewSet, basename="return")
router.register("refunds", RefundViewSet, basename="refund")
router.register("return-reasons", ReturnReasonViewSet, basename="return-reason")

urlpatterns = [
    *router.urls,
    path(
        "orders/<str:pk>/payments/",
        OrderPaymentsViewSet.as_view({"get": "show", "post": "record"}),
        name="order-payments",
    ),
    path(
        "orders/<str:pk>/mark-paid/",
        OrderMarkPaidViewSet.as_view({"post": "mark_paid"}, detail=True),
        name="order-mark-paid",
    ),
    path(
        "payments/<str:pk>/retry/",
        PaymentCommandsViewSet.as_view({"post": "retry"}, detail=True),
        name="payment-retry",
    ),
    path(
        "payments/reconciliation/",
        PaymentReconciliationViewSet.as_view({"get": "report"}),
        name="payment-reconciliation",
    ),
]
