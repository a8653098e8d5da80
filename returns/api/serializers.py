"""Input (per command) and output serializers of returns and refunds."""

from __future__ import annotations

from rest_framework import serializers

from oms.api.serializers import InputSerializer
from returns.models import Refund, ReturnLine, ReturnRequest
from returns.states import Condition, Disposition


class ReturnLineInputSerializer(InputSerializer):
    order_line = serializers.IntegerField()
    quantity = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=32)
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
    exchange_quantity = serializers.IntegerField(
        required=False, min_value=1, allow_null=True, default=None
    )
    exchange_unit_price = serializers.DecimalField(
        max_digits=14,
        decimal_places=4,
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        help_text="Tax included (default: what was paid for the same SKU, else its latest "
        "price on the channel).",
    )


class ReturnCreateSerializer(InputSerializer):
    order = serializers.IntegerField()
    lines = ReturnLineInputSerializer(many=True, allow_empty=False)
    comment = serializers.CharField(required=False, allow_blank=True, default="")
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
    order_line = serializers.IntegerField()
    quantity = serializers.IntegerField(min_value=1)
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
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=4, required=False, allow_null=True, default=None
    )
    include_shipping = serializers.BooleanField(required=False, default=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)


class RefundCreateSerializer(InputSerializer):
    order = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=4)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)


class ReturnLineOutputSerializer(serializers.ModelSerializer):
    reason = serializers.CharField(source="reason.code")
    sku = serializers.CharField(source="order_line.sku_code")
    exchange_sku: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = ReturnLine
        fields = [
            "id",
            "order_line",
            "sku",
            "quantity",
            "reason",
            "quantity_received",
            "quantity_sellable",
            "quantity_damaged",
            "quantity_defective",
            "quantity_restocked",
            "quantity_quarantined",
            "quantity_written_off",
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
            "provider_reference",
            "created_at",
        ]


class SuggestedRefundSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField()
    include_shipping = serializers.BooleanField()
