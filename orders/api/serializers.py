from typing import Any

from rest_framework import serializers

from oms.api.fields import MoneyField, model_integer
from oms.api.serializers import InputSerializer
from orders.models import Customer, Order, OrderEvent, OrderLine, PrivacyRequest
from orders.ports import order_shipments_port
from orders.states import HoldReason, PaymentStatus


class CustomerInputSerializer(InputSerializer):
    email = serializers.EmailField(
        required=False, allow_blank=True, max_length=Customer._meta.get_field("email").max_length
    )
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)


class AddressSerializer(InputSerializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    line1 = serializers.CharField(max_length=255, required=False, allow_blank=True)
    line2 = serializers.CharField(max_length=255, required=False, allow_blank=True)
    city = serializers.CharField(max_length=128, required=False, allow_blank=True)
    region = serializers.CharField(max_length=128, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=32, required=False, allow_blank=True)
    country = serializers.RegexField(
        r"^[A-Za-z]{2}$", required=False, allow_blank=True, help_text="ISO 3166-1 alpha-2"
    )
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    latitude = serializers.FloatField(min_value=-90, max_value=90, required=False, allow_null=True)
    longitude = serializers.FloatField(
        min_value=-180, max_value=180, required=False, allow_null=True
    )


class LineInputSerializer(InputSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = model_integer(OrderLine, "quantity", min_value=1)
    unit_price = MoneyField()
    discount = MoneyField(required=False)
    tax = MoneyField(required=False)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    external_line_id = serializers.CharField(max_length=128, required=False, allow_blank=True)


class OrderCreateSerializer(InputSerializer):
    channel = serializers.CharField(max_length=32, help_text="Channel code")
    external_id = serializers.CharField(max_length=128)
    external_number = serializers.CharField(max_length=64, required=False, allow_blank=True)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", help_text="ISO 4217")
    placed_at = serializers.DateTimeField(required=False)
    customer = CustomerInputSerializer(required=False)
    shipping_address = AddressSerializer(required=False)
    billing_address = AddressSerializer(required=False)
    lines = LineInputSerializer(many=True, allow_empty=False)
    shipping_price = MoneyField(required=False)
    total = MoneyField(
        required=False,
        help_text="The channel's own total: a disagreement holds the order (totals_mismatch).",
    )
    prices_include_tax = serializers.BooleanField(required=False, default=False)
    payment_status = serializers.ChoiceField(choices=PaymentStatus.choices, required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    priority = model_integer(Order, "priority", required=False, min_value=-100, max_value=100)


class CancelLineSerializer(InputSerializer):
    line = model_integer(OrderLine, "id", min_value=1)
    quantity = model_integer(OrderLine, "quantity", min_value=1)


class CancelSerializer(InputSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    lines = CancelLineSerializer(many=True, required=False)


class HoldSerializer(InputSerializer):
    reason = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why (free text, or a hold reason code).",
    )
    code = serializers.ChoiceField(choices=HoldReason.choices, required=False)


class ReleaseSerializer(InputSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    hold = serializers.ChoiceField(
        choices=HoldReason.choices, required=False, help_text="Release only this hold."
    )


class NoteSerializer(InputSerializer):
    text = serializers.CharField(max_length=5000)


class EditLineChangeSerializer(InputSerializer):
    line = model_integer(OrderLine, "id", min_value=1)
    quantity = model_integer(OrderLine, "quantity", min_value=1, required=False)
    unit_price = MoneyField(required=False)


class EditLineAddSerializer(InputSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = model_integer(OrderLine, "quantity", min_value=1)
    unit_price = MoneyField()


class EditLinesSerializer(InputSerializer):
    add = EditLineAddSerializer(many=True, required=False)
    remove = serializers.ListField(
        child=model_integer(OrderLine, "id", min_value=1), required=False
    )
    change = EditLineChangeSerializer(many=True, required=False)


class OrderLineOutputSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku_code")
    unit_price = MoneyField(currency_source="order.currency", read_only=True)
    discount = MoneyField(currency_source="order.currency", read_only=True)
    tax = MoneyField(currency_source="order.currency", read_only=True)
    line_total = MoneyField(currency_source="order.currency", read_only=True)
    known_sku = serializers.SerializerMethodField()

    class Meta:
        model = OrderLine
        fields = [
            "id",
            "line_number",
            "sku",
            "known_sku",
            "name",
            "quantity",
            "unit_price",
            "discount",
            "tax",
            "line_total",
            "quantity_allocated",
            "quantity_shipped",
            "quantity_cancelled",
            "quantity_returned",
        ]
        read_only_fields = fields

    def get_known_sku(self, obj: OrderLine) -> bool:
        return obj.sku_id is not None


class OrderOutputSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.code")
    hold_reasons = serializers.SerializerMethodField()
    customer = serializers.SerializerMethodField()
    lines = serializers.SerializerMethodField()
    shipments = serializers.SerializerMethodField()
    tracking_url = serializers.SerializerMethodField()
    subtotal = MoneyField(read_only=True)
    shipping_price = MoneyField(read_only=True)
    tax_total = MoneyField(read_only=True)
    discount_total = MoneyField(read_only=True)
    total = MoneyField(read_only=True)
    total_base = MoneyField(currency_source="base_currency", read_only=True, allow_null=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "channel",
            "external_id",
            "external_number",
            "status",
            "payment_status",
            "hold_reasons",
            "currency",
            "subtotal",
            "shipping_price",
            "tax_total",
            "discount_total",
            "total",
            "base_currency",
            "total_base",
            "fx_rate",
            "fx_source",
            "fx_date",
            "customer",
            "shipping_address",
            "billing_address",
            "lines",
            "shipments",
            "tracking_url",
            "notes",
            "priority",
            "placed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_hold_reasons(self, obj: Order) -> list[str]:
        return [h.reason for h in obj.holds.all() if h.released_at is None]

    def get_customer(self, obj: Order) -> dict[str, Any] | None:
        c = obj.customer
        if c is None:
            return None
        return {
            "id": c.pk,
            "email": c.email,
            "first_name": c.first_name,
            "last_name": c.last_name,
            "phone": c.phone,
        }

    def get_lines(self, obj: Order) -> Any:
        return OrderLineOutputSerializer(obj.lines.all(), many=True).data

    def get_shipments(self, obj: Order) -> list[int]:
        # Shipments belong to the fulfilment app, above this one: its port answers.
        shipments = order_shipments_port()
        return shipments.shipment_ids(obj) if shipments is not None else []

    def get_tracking_url(self, obj: Order) -> str | None:
        """The shopper's public tracking page (served by fulfilment, through its port)."""
        shipments = order_shipments_port()
        path = shipments.tracking_path(obj) if shipments is not None else None
        if path is None:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class OrderEventOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ["id", "kind", "actor", "data", "created_at"]
        read_only_fields = fields


class CustomerOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "phone",
            "erased_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PrivacyRequestOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = PrivacyRequest
        fields = [
            "id",
            "kind",
            "source",
            "status",
            "scope",
            "customer",
            "channel_code",
            "requested_by",
            "created_at",
            "completed_at",
            "summary",
            "detail",
        ]
        read_only_fields = fields
