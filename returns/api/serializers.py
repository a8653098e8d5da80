"""Input (per command) and output serializers of returns and refunds."""

from __future__ import annotations

from rest_framework import serializers

from oms.api.serializers import InputSerializer
from returns.models import Refund, ReturnLine, ReturnRequest
from returns.states import Condition


class ReturnLineInputSerializer(InputSerializer):
    order_line = serializers.IntegerField()
    quantity = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=32)


class ReturnCreateSerializer(InputSerializer):
    order = serializers.IntegerField()
    lines = ReturnLineInputSerializer(many=True, allow_empty=False)
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class ReasonSerializer(InputSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class ReceiveLineInputSerializer(InputSerializer):
    order_line = serializers.IntegerField()
    quantity = serializers.IntegerField(min_value=1)
    condition = serializers.ChoiceField(choices=Condition.choices)


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
