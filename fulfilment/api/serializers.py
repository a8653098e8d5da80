from typing import Any

from django.urls import reverse
from rest_framework import serializers

from fulfilment.models import Parcel, Shipment, ShipmentLine
from oms.api.fields import model_integer
from oms.api.serializers import InputSerializer
from orders.models import OrderLine


class ShipmentLineOutputSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="order_line.sku_code")

    class Meta:
        model = ShipmentLine
        fields = ["order_line", "sku", "quantity", "quantity_picked", "quantity_packed"]
        read_only_fields = fields


class ShipmentOutputSerializer(serializers.ModelSerializer):
    location = serializers.CharField(source="location.code")
    lines = ShipmentLineOutputSerializer(many=True)
    label_url = serializers.SerializerMethodField()
    routing_explanation = serializers.SerializerMethodField()

    class Meta:
        model = Shipment
        fields = [
            "id",
            "order",
            "location",
            "status",
            "lines",
            "carrier",
            "service",
            "tracking_number",
            "tracking_url",
            "label_url",
            "expected_ship_date",
            "expected_delivery_date",
            "shipped_at",
            "delivered_at",
            "routing_explanation",
            "created_at",
        ]
        read_only_fields = fields

    def get_label_url(self, obj: Shipment) -> str | None:
        """The label endpoint when a label exists (prefetched by selectors.shipment_list)."""
        labels = getattr(obj, "active_labels", None)
        if labels is None:  # a shipment not read through shipment_list
            has_label = obj.labels.filter(voided_at__isnull=True).exists()
        else:
            has_label = bool(labels)
        if not has_label:
            return None
        path = reverse("v1:shipment-label", args=[obj.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def get_routing_explanation(self, obj: Shipment) -> dict[str, Any] | None:
        return obj.decision.explanation if obj.decision else None


class PickLineSerializer(InputSerializer):
    order_line = model_integer(OrderLine, "id", min_value=1)
    quantity = model_integer(ShipmentLine, "quantity_picked")


class PickSerializer(InputSerializer):
    lines = PickLineSerializer(many=True, allow_empty=False)


class ParcelSerializer(InputSerializer):
    weight_grams = model_integer(Parcel, "weight_grams", min_value=1)
    length_mm = model_integer(Parcel, "length_mm", min_value=1, required=False, allow_null=True)
    width_mm = model_integer(Parcel, "width_mm", min_value=1, required=False, allow_null=True)
    height_mm = model_integer(Parcel, "height_mm", min_value=1, required=False, allow_null=True)


class PackSerializer(InputSerializer):
    parcels = ParcelSerializer(many=True, allow_empty=False)


class ShipSerializer(InputSerializer):
    carrier = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    service = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    tracking_number = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default=""
    )
    tracking_url = serializers.URLField(
        required=False,
        allow_blank=True,
        default="",
        max_length=Shipment._meta.get_field("tracking_url").max_length,
    )


class CancelShipmentSerializer(InputSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class PromiseDestinationSerializer(InputSerializer):
    country = serializers.RegexField(r"^[A-Za-z]{2}$")
    postal_code = serializers.CharField(max_length=32, required=False, allow_blank=True)


class PromiseLineSerializer(InputSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = model_integer(OrderLine, "quantity", min_value=1)


class PromiseInputSerializer(InputSerializer):
    channel = serializers.CharField(max_length=32)
    destination = PromiseDestinationSerializer()
    lines = PromiseLineSerializer(many=True, allow_empty=False)


class PromiseOptionSerializer(serializers.Serializer):
    locations = serializers.ListField(child=serializers.CharField())
    ship_date = serializers.DateField()
    delivery_date = serializers.DateField()
    carrier = serializers.CharField()
    service = serializers.CharField()


class PromiseOutputSerializer(serializers.Serializer):
    deliverable = serializers.BooleanField()
    reason = serializers.CharField()
    destination_precision = serializers.CharField()
    options = PromiseOptionSerializer(many=True)
