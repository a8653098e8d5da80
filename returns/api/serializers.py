"""Input (per command) and output serializers of returns and refunds."""

from __future__ import annotations

from rest_framework import serializers

from oms.api.fields import MoneyField, model_integer
from oms.api.serializers import InputSerializer
from orders.models import Order, OrderLine
from returns.models import (
    RECEIPT_COUNTS,
    Payment,
    Refund,
    ReturnLine,
    ReturnReason,
    ReturnRequest,
)
from returns.states import Condition, Disposition


class ReturnLineInputSerializer(InputSerializer):
    order_line = model_integer(OrderLine, "id", min_value=1)
    quantity = model_integer(ReturnLine, "quantity", min_value=1)
    reason = serializers.CharField(
        max_length=32, help_text="A return reason code (GET /api/v1/return-reasons/)."
    )
    exchange = serializers.BooleanField(
        required=False, default=False, help_text="Send a replacement instead of a refund."
    )
    exchange_sku = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=64,
        help_text="The replacement's SKU code (default: the same SKU).",
    )
    exchange_quantity = model_integer(
        ReturnLine, "exchange_quantity", required=False, min_value=1, allow_null=True, default=None
    )
    exchange_unit_price = MoneyField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Tax included, in the order's currency (default: what was paid for the same "
        "SKU, else its latest price on the channel).",
    )


class ReturnCreateSerializer(InputSerializer):
    order = model_integer(Order, "id", min_value=1)
    lines = ReturnLineInputSerializer(many=True, allow_empty=False)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=500,
        help_text="Required to accept a return outside the channel's return window.",
    )
    authorise = serializers.BooleanField(required=False, default=False)
    exchange = serializers.BooleanField(
        required=False, default=False, help_text="Exchange every line for the same SKU."
    )


class ReasonSerializer(InputSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class ReceiveLineInputSerializer(InputSerializer):
    order_line = model_integer(OrderLine, "id", min_value=1)
    quantity = model_integer(ReturnLine, "quantity_received", min_value=1)
    condition = serializers.ChoiceField(choices=Condition.choices)
    disposition = serializers.ChoiceField(
        choices=Disposition.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text="restock (sellable only), quarantine or write_off; default: restock for "
        "sellable units, else quarantine.",
    )


class ReceiveSerializer(InputSerializer):
    location = serializers.CharField(max_length=32)
    lines = ReceiveLineInputSerializer(many=True, allow_empty=False)


class ReturnRefundSerializer(InputSerializer):
    amount = MoneyField(
        required=False,
        allow_null=True,
        default=None,
        help_text="In the order's currency, on its grid (default: the suggested refund).",
    )
    include_shipping = serializers.BooleanField(required=False, default=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)


class RefundCreateSerializer(InputSerializer):
    order = model_integer(Order, "id", min_value=1)
    amount = MoneyField(help_text="In the order's currency, on its grid (EUR 2 digits, JPY 0).")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)


class ReturnLineOutputSerializer(serializers.ModelSerializer):
    reason = serializers.CharField(source="reason.code")
    sku = serializers.CharField(source="order_line.sku_code")
    exchange_sku: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    exchange_unit_price = MoneyField(
        currency_source="return_request.order.currency", read_only=True, allow_null=True
    )

    class Meta:
        model = ReturnLine
        fields = [
            "id",
            "order_line",
            "sku",
            "quantity",
            "reason",
            *RECEIPT_COUNTS,
            "exchange_sku",
            "exchange_quantity",
            "exchange_unit_price",
        ]


class ReturnOutputSerializer(serializers.ModelSerializer):
    lines = ReturnLineOutputSerializer(many=True)

    class Meta:
        model = ReturnRequest
        fields = [
            "id",
            "number",
            "order",
            "status",
            "source",
            "comment",
            "override_reason",
            "exchange_order",
            "lines",
            "created_at",
            "updated_at",
        ]


class RefundOutputSerializer(serializers.ModelSerializer):
    amount = MoneyField(read_only=True)

    class Meta:
        model = Refund
        fields = [
            "id",
            "order",
            "return_request",
            "amount",
            "currency",
            "status",
            "reason",
            "provider",
            "provider_reference",
            "failure_reason",
            "waiting_for",
            "action_url",
            "created_at",
        ]


class RefundConfirmSerializer(InputSerializer):
    reference = serializers.CharField(
        max_length=128, help_text="The reference of the payment back (bank transfer, receipt)."
    )


class PaymentOutputSerializer(serializers.ModelSerializer):
    amount = MoneyField(read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "kind",
            "provider",
            "reference",
            "amount",
            "currency",
            "status",
            "failure_reason",
            "created_at",
        ]


class MarkPaidSerializer(InputSerializer):
    reference = serializers.CharField(
        max_length=128, help_text="The bank transfer's, receipt's or cheque's reference."
    )


class PaymentRecordSerializer(InputSerializer):
    kind = serializers.ChoiceField(choices=["authorization", "capture"])
    amount = MoneyField(help_text="In the order's currency, on its grid.")
    reference = serializers.CharField(
        max_length=128, help_text="The provider's id (a Stripe PaymentIntent: pi_...)."
    )
    provider = serializers.ChoiceField(
        choices=["channel", "stripe", "manual"],
        required=False,
        default="",
        help_text="Defaults to the channel's payment provider.",
    )


class OrderPaymentsSerializer(serializers.Serializer):
    order = serializers.IntegerField()
    currency = serializers.CharField()
    payment_provider = serializers.CharField()
    payment_status = serializers.CharField()
    capture_on_shipment = serializers.BooleanField()
    authorized = MoneyField(read_only=True)
    captured = MoneyField(read_only=True)
    voided = MoneyField(read_only=True)
    refunded = MoneyField(read_only=True)
    refund_pending = MoneyField(read_only=True)
    payments = PaymentOutputSerializer(many=True)
    refunds = RefundOutputSerializer(many=True)


class ReconciliationQuerySerializer(InputSerializer):
    provider = serializers.ChoiceField(choices=["stripe", "channel", "manual"])
    date = serializers.DateField(help_text="The day (UTC), YYYY-MM-DD.")


class ReconciliationLineSerializer(serializers.Serializer):
    key = serializers.CharField()
    refund = serializers.IntegerField(allow_null=True)
    order = serializers.CharField()
    reference = serializers.CharField()
    currency = serializers.CharField()
    oms_amount = serializers.CharField(allow_null=True)
    provider_amount = serializers.CharField(allow_null=True)
    oms_status = serializers.CharField()
    provider_status = serializers.CharField()
    problem = serializers.CharField(
        help_text="unknown_to_oms, missing_at_provider, amount_differs, status_differs; '' if none"
    )


class ReconciliationSerializer(serializers.Serializer):
    provider = serializers.CharField()
    date = serializers.CharField()
    provider_refunds = serializers.IntegerField()
    oms_refunds = serializers.IntegerField()
    differences = serializers.IntegerField()
    lines = ReconciliationLineSerializer(many=True)


class SuggestedRefundSerializer(serializers.Serializer):
    amount = MoneyField(read_only=True)
    currency = serializers.CharField()
    include_shipping = serializers.BooleanField()


class ReturnReasonOutputSerializer(serializers.ModelSerializer):
    restocking_fee_percent = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        read_only=True,
        help_text="Kept from the refund of lines returned for this reason (0 to 100).",
    )

    class Meta:
        model = ReturnReason
        fields = ["code", "label", "restocking_fee_percent", "is_active"]
        read_only_fields = fields
