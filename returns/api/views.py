"""Returns and refunds: creation and every transition through services.

Invariant: every command that pays money back (POST /refunds/, POST /returns/{id}/refund/) needs
"refund orders" besides the model permission; a user without it gets 403 and nothing is written.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from oms.api.filters import query_flag
from oms.api.idempotency import HEADER, idempotency_key_of
from oms.api.pagination import CursorPagination
from oms.api.permissions import ModelPermissions, RequiresPermission
from oms.api.views import OmsGenericViewSet, actor_of
from oms.roles import REFUND_ORDERS
from orders.models import Order
from returns import selectors, services
from returns.api.serializers import (
    MarkPaidSerializer,
    OrderPaymentsSerializer,
    PaymentOutputSerializer,
    PaymentRecordSerializer,
    ReasonSerializer,
    ReceiveSerializer,
    ReconciliationQuerySerializer,
    ReconciliationSerializer,
    RefundConfirmSerializer,
    RefundCreateSerializer,
    RefundOutputSerializer,
    ReturnCreateSerializer,
    ReturnOutputSerializer,
    ReturnReasonOutputSerializer,
    ReturnRefundSerializer,
    SuggestedRefundSerializer,
)
from returns.models import ReturnReason, ReturnRequest


class IdPagination(CursorPagination):
    ordering = "-id"


@extend_schema_view(
    list=extend_schema(summary="List returns", tags=["returns"]),
    retrieve=extend_schema(summary="Get a return", tags=["returns"]),
)
class ReturnViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OmsGenericViewSet):
    queryset = selectors.return_list()
    serializer_class = ReturnOutputSerializer
    pagination_class = IdPagination
    filterset_fields = ["order", "status"]

    def _output(self, ret: ReturnRequest, status: int = 200) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=ret.pk)).data, status=status)

    @extend_schema(
        summary="Request a return of shipped lines",
        tags=["returns"],
        request=ReturnCreateSerializer,
        responses={201: ReturnOutputSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = ReturnCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        ret = services.return_create(
            order=data["order"],
            lines=[dict(ln) for ln in data["lines"]],
            comment=data["comment"],
            override_reason=data["override_reason"],
            authorise=data["authorise"],
            exchange=data["exchange"],
            actor=actor_of(request),
        )
        return self._output(ret, status=201)

    @extend_schema(
        summary="Authorise a requested return",
        tags=["returns"],
        request=None,
        responses={200: ReturnOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def authorise(self, request: Request, pk: str) -> Response:
        ret = services.return_authorise(return_request=self.get_object(), actor=actor_of(request))
        return self._output(ret)

    @extend_schema(
        summary="Reject a requested return",
        tags=["returns"],
        request=ReasonSerializer,
        responses={200: ReturnOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ret = services.return_reject(
            return_request=self.get_object(),
            reason=serializer.validated_data["reason"],
            actor=actor_of(request),
        )
        return self._output(ret)

    @extend_schema(
        summary="Cancel a return before anything was received",
        tags=["returns"],
        request=ReasonSerializer,
        responses={200: ReturnOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ret = services.return_cancel(
            return_request=self.get_object(),
            reason=serializer.validated_data["reason"],
            actor=actor_of(request),
        )
        return self._output(ret)

    @extend_schema(
        summary="Receive returned units at a location, with their condition",
        tags=["returns"],
        request=ReceiveSerializer,
        responses={200: ReturnOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def receive(self, request: Request, pk: str) -> Response:
        serializer = ReceiveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        ret = services.return_receive(
            return_request=self.get_object(),
            location=data["location"],
            lines=[dict(ln) for ln in data["lines"]],
            actor=actor_of(request),
        )
        return self._output(ret)

    @extend_schema(
        summary="Refund a return (the suggested amount unless given)",
        tags=["returns"],
        request=ReturnRefundSerializer,
        responses={201: RefundOutputSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[ModelPermissions, RequiresPermission(REFUND_ORDERS)],
    )
    def refund(self, request: Request, pk: str) -> Response:
        serializer = ReturnRefundSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        refund = services.return_refund(
            return_request=self.get_object(),
            amount=data["amount"],
            include_shipping=data["include_shipping"],
            reason=data["reason"],
            actor=actor_of(request),
        )
        return Response(RefundOutputSerializer(refund).data, status=201)

    @extend_schema(
        summary="The refund suggested for a return now",
        tags=["returns"],
        parameters=[
            OpenApiParameter("include_shipping", bool, description="Add the shipping price.")
        ],
        responses={200: SuggestedRefundSerializer},
    )
    @action(detail=True, methods=["get"], url_path="suggested-refund")
    def suggested_refund(self, request: Request, pk: str) -> Response:
        ret = self.get_object()
        shipping = query_flag(request.query_params, "include_shipping")
        amount = services.refund_suggested_amount(return_request=ret, include_shipping=shipping)
        data = {"amount": amount, "currency": ret.order.currency, "include_shipping": shipping}
        return Response(SuggestedRefundSerializer(data).data)

    @extend_schema(
        summary="Create the exchange's replacement order now (idempotent)",
        tags=["returns"],
        request=None,
        responses={200: ReturnOutputSerializer},
    )
    @action(detail=True, methods=["post"], url_path="exchange-order")
    def exchange_order(self, request: Request, pk: str) -> Response:
        ret = self.get_object()
        services.return_exchange_order_create(return_request=ret, actor=actor_of(request))
        return self._output(ret)


@extend_schema_view(
    list=extend_schema(summary="List refunds", tags=["returns"]),
    retrieve=extend_schema(summary="Get a refund", tags=["returns"]),
)
class RefundViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OmsGenericViewSet):
    # Reading refunds needs `view`; every write here moves money: "refund orders" too.
    permission_classes = [ModelPermissions, RequiresPermission(REFUND_ORDERS)]
    queryset = selectors.refund_list()
    serializer_class = RefundOutputSerializer
    pagination_class = IdPagination
    filterset_fields = ["order", "status", "return_request"]

    @extend_schema(
        summary="Refund an order without a return (an appeasement)",
        tags=["returns"],
        request=RefundCreateSerializer,
        responses={201: RefundOutputSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = RefundCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        refund = services.refund_create(
            order=data["order"],
            amount=data["amount"],
            reason=data["reason"],
            idempotency_key=idempotency_key_of(
                user_id=request.user.pk, header=request.headers.get(HEADER)
            ),
            actor=actor_of(request),
        )
        return Response(self.get_serializer(refund).data, status=201)

    @extend_schema(
        summary="Confirm a refund paid back by hand",
        description="Staff paid the refund back themselves (cash, a bank transfer, the "
        "channel's own site for Amazon or the till) and give its reference: the refund "
        "succeeds. 409 `refund_not_awaiting_confirmation` for a refund that a provider pays "
        "or that is settled already.",
        tags=["returns"],
        request=RefundConfirmSerializer,
        responses={200: RefundOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        refund = self.get_object()
        serializer = RefundConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        done = services.refund_confirm(
            refund=refund.pk,
            reference=serializer.validated_data["reference"],
            actor=actor_of(request),
        )
        return Response(self.get_serializer(done).data)

    @extend_schema(
        summary="Try a failed or stuck refund again",
        description="A failed refund goes back to pending with a new provider key (if the "
        "money is still due: else 409 `refund_exceeds_paid`); a pending one whose provider "
        "never answered is asked again. 409 `invalid_transition` for a succeeded refund.",
        tags=["returns"],
        request=None,
        responses={200: RefundOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        refund = self.get_object()
        again = services.refund_retry(refund=refund.pk, actor=actor_of(request))
        return Response(self.get_serializer(again).data)


class OrderPaymentsViewSet(OmsGenericViewSet):
    """GET and POST /orders/{id}/payments/: the order's money, and the authorisation (or
    capture) its shop sends with it."""

    # Reading needs "view order"; recording what the shop was paid needs "add order" (the
    # integrator sends it with the order).
    queryset = Order.objects.all()
    serializer_class = OrderPaymentsSerializer

    @extend_schema(
        summary="An order's payments",
        description="Authorisations, captures, voids and refunds with provider, reference, "
        "amount and status, and their totals.",
        tags=["orders"],
        responses={200: OrderPaymentsSerializer},
    )
    def show(self, request: Request, pk: str) -> Response:
        data = selectors.order_payments(order_id=_order_id(pk))
        return Response(OrderPaymentsSerializer(data).data)

    @extend_schema(
        summary="Record an order's authorisation or capture",
        description="The shop authorised (or captured) at checkout: the provider's reference "
        "(a Stripe PaymentIntent) is what refunds and captures on shipment use. The same "
        "reference again returns the first record. 409 `payment_exceeds_authorized`.",
        tags=["orders"],
        request=PaymentRecordSerializer,
        responses={201: PaymentOutputSerializer},
    )
    def record(self, request: Request, pk: str) -> Response:
        serializer = PaymentRecordSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        payment = services.payment_record(
            order=_order_id(pk),
            kind=data["kind"],
            amount=data["amount"],
            reference=data["reference"],
            provider=data["provider"],
            actor=actor_of(request),
        )
        return Response(PaymentOutputSerializer(payment).data, status=201)


class PaymentCommandsViewSet(OmsGenericViewSet):
    """POST /payments/{id}/retry/ and POST /orders/{id}/mark-paid/: staff commands on an
    order's payments."""

    # Retrying a capture moves money: "change payment" and "refund orders".
    permission_classes = [ModelPermissions, RequiresPermission(REFUND_ORDERS)]
    queryset = selectors.payment_list()
    serializer_class = PaymentOutputSerializer

    @extend_schema(
        summary="Try a failed or stuck capture again",
        description="A capture on shipment that failed (a new capture under a new key, for "
        "the same amount) or whose provider never answered (the same one) is asked again "
        "after commit; the provider is asked first whether it already happened, so nothing "
        "is captured twice. 409 `invalid_transition` (not a failed or stuck capture, or "
        "retried already), 409 `capture_in_flight`.",
        tags=["orders"],
        request=None,
        responses={202: PaymentOutputSerializer},
    )
    def retry(self, request: Request, pk: str) -> Response:
        again = services.payment_capture_retry(payment=_order_id(pk), actor=actor_of(request))
        return Response(PaymentOutputSerializer(again).data, status=202)


class OrderMarkPaidViewSet(OmsGenericViewSet):
    """POST /orders/{id}/mark-paid/."""

    # Like holding and releasing an order: "change order" (a POST on one object).
    queryset = Order.objects.all()
    serializer_class = PaymentOutputSerializer

    @extend_schema(
        summary="Mark an order held for its payment as paid",
        description="Staff saw the money arrive (a bank transfer, cash): what is unpaid is "
        "recorded as a capture by hand (`manual`) with the reference, the order is paid and "
        "its payment_pending hold is released. The same reference again returns the first "
        "record. 409 `order_not_awaiting_payment`.",
        tags=["orders"],
        request=MarkPaidSerializer,
        responses={201: PaymentOutputSerializer},
    )
    def mark_paid(self, request: Request, pk: str) -> Response:
        serializer = MarkPaidSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = services.order_mark_paid(
            order=_order_id(pk),
            reference=serializer.validated_data["reference"],
            actor=actor_of(request),
        )
        return Response(PaymentOutputSerializer(payment).data, status=201)


class PaymentReconciliationViewSet(OmsGenericViewSet):
    """GET /payments/reconciliation/: a provider's refunds of a day against the OMS's."""

    permission_classes = [ModelPermissions, RequiresPermission(REFUND_ORDERS)]
    queryset = selectors.refund_list()
    serializer_class = ReconciliationSerializer

    @extend_schema(
        summary="Reconcile a payment provider's refunds of a day",
        description="The provider's list against the OMS's records, matched by our key: "
        "Stripe's refunds of the day; for `manual` the refunds staff confirmed that day with "
        "their reference; for `channel` the refunds the connectors pushed that day and the "
        "channel's answers. Each line's `problem` flags a difference (unknown_to_oms, "
        "missing_at_provider, amount_differs, status_differs; manual: reference_reused, "
        "awaiting_confirmation) or, not counted as one, `not_listed` (a channel refund paid by "
        "hand: no connector lists it).",
        tags=["returns"],
        parameters=[
            OpenApiParameter("provider", str, required=True, enum=["stripe", "channel", "manual"]),
            OpenApiParameter("date", str, required=True, description="YYYY-MM-DD (UTC)"),
        ],
        responses={200: ReconciliationSerializer},
    )
    def report(self, request: Request) -> Response:
        query = ReconciliationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        report = services.payments_reconcile(
            provider=query.validated_data["provider"], day=query.validated_data["date"]
        )
        return Response(ReconciliationSerializer(report).data)


def _order_id(value: str) -> int:
    from oms.errors import NotFound

    if not value.isdigit() or len(value) > 18:
        raise NotFound("No such order.")
    return int(value)


class ReasonPagination(CursorPagination):
    ordering = "code"


@extend_schema_view(
    list=extend_schema(
        summary="List the return reason codes",
        description="The codes a return line's `reason` takes, with their labels and the "
        "restocking fee kept from the refund. Only active reasons are accepted in new returns.",
        tags=["returns"],
    ),
    retrieve=extend_schema(summary="Get a return reason by code", tags=["returns"]),
)
class ReturnReasonViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OmsGenericViewSet):
    queryset = ReturnReason.objects.all()
    serializer_class = ReturnReasonOutputSerializer
    pagination_class = ReasonPagination
    filterset_fields = ["is_active"]
    lookup_field = "code"
    lookup_value_regex = "[-a-zA-Z0-9_]+"
