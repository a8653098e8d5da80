from typing import Any

from rest_framework import serializers

from oms.api.fields import IntegerField, MoneyField
from oms.api.serializers import InputSerializer
from orders.api.serializers import AddressSerializer
from orders.models import Order
from subscriptions.models import Subscription, SubscriptionEvent, SubscriptionLine
from subscriptions.states import Interval

QUANTITY_MAX = 100000


class SubscriptionCustomerSerializer(InputSerializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class SubscriptionLineInputSerializer(InputSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = IntegerField(min_value=1, max_value=QUANTITY_MAX)
    unit_price = MoneyField(
        allow_null=True,
        default=None,
        help_text='The price of each renewal. Omitted or null: "current price", the SKU\'s '
        "price on the channel at each renewal (its price list, else the SKU's default price, "
        "in the subscription's currency).",
    )


LINES_HELP = (
    "Replaces all the lines: send every line the subscription keeps (at least one, one per "
    "SKU); a line left out is removed."
)


def _one_line_per_sku(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    codes = [line["sku"] for line in lines]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise serializers.ValidationError(
            f"One line per SKU: {', '.join(duplicates)} more than once."
        )
    return lines


class SubscriptionCreateSerializer(InputSerializer):
    channel = serializers.CharField(max_length=32, help_text="Channel code")
    customer = SubscriptionCustomerSerializer()
    shipping_address = AddressSerializer()
    lines = SubscriptionLineInputSerializer(many=True, allow_empty=False)

    def validate_lines(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _one_line_per_sku(lines)

    currency = serializers.RegexField(r"^[A-Za-z]{3}$", help_text="ISO 4217")
    interval = serializers.ChoiceField(choices=Interval.choices)
    interval_count = IntegerField(min_value=1, max_value=365, default=1)
    next_order_at = serializers.DateTimeField(
        required=False, help_text="The first renewal (default: one interval from now)."
    )
    shipping_price = MoneyField(required=False)
    ends_after_orders = IntegerField(min_value=1, max_value=10000, required=False, allow_null=True)
    ends_on = serializers.DateField(required=False, allow_null=True)
    payment_reference = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        help_text="The saved payment method at the channel's provider (Stripe: cus_...:pm_...).",
    )


class SubscriptionUpdateSerializer(InputSerializer):
    shipping_address = AddressSerializer(
        required=False, help_text="Merged into the current address: the fields given change."
    )
    lines = SubscriptionLineInputSerializer(
        many=True, allow_empty=False, required=False, help_text=LINES_HELP
    )

    def validate_lines(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _one_line_per_sku(lines)

    interval = serializers.ChoiceField(choices=Interval.choices, required=False)
    interval_count = IntegerField(min_value=1, max_value=365, required=False)
    next_order_at = serializers.DateTimeField(required=False)
    shipping_price = MoneyField(required=False)
    ends_after_orders = IntegerField(min_value=1, max_value=10000, required=False, allow_null=True)
    ends_on = serializers.DateField(required=False, allow_null=True)
    payment_reference = serializers.CharField(max_length=255, required=False, allow_blank=True)


class SubscriptionReasonSerializer(InputSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class SubscriptionLineOutputSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku.code")
    name = serializers.CharField(source="sku.name")
    unit_price = MoneyField(
        currency_source="subscription.currency",
        read_only=True,
        allow_null=True,
        help_text='Null: "current price" (the SKU\'s price on the channel at each renewal).',
    )

    class Meta:
        model = SubscriptionLine
        fields = ["id", "sku", "name", "quantity", "unit_price"]
        read_only_fields = fields


class SubscriptionOutputSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.code")
    customer = serializers.SerializerMethodField()
    lines = SubscriptionLineOutputSerializer(many=True, read_only=True)
    shipping_price = MoneyField(read_only=True)
    has_payment_method = serializers.SerializerMethodField()

    class Meta:
        model = Subscription
        fields = [
            "id",
            "number",
            "channel",
            "customer",
            "shipping_address",
            "lines",
            "currency",
            "shipping_price",
            "interval",
            "interval_count",
            "next_order_at",
            "next_sequence",
            "ends_after_orders",
            "ends_on",
            "status",
            "cancel_reason",
            "cancelled_at",
            "failed_at",
            "failure_reason",
            "has_payment_method",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_customer(self, obj: Subscription) -> dict[str, Any]:
        return {"id": obj.customer_id, "email": obj.email, "name": obj.customer_name}

    def get_has_payment_method(self, obj: Subscription) -> bool:
        return bool(obj.payment_reference)


class SubscriptionEventOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = SubscriptionEvent
        fields = ["id", "kind", "actor", "data", "created_at"]
        read_only_fields = fields


class SubscriptionOrderOutputSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.code")
    total = MoneyField(read_only=True)
    sequence = serializers.IntegerField(source="subscription_renewal.sequence")
    renewal_status = serializers.CharField(source="subscription_renewal.status")

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "channel",
            "external_id",
            "sequence",
            "renewal_status",
            "status",
            "payment_status",
            "currency",
            "total",
            "created_at",
        ]
        read_only_fields = fields
