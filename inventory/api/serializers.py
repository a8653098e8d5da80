from typing import Any

from rest_framework import serializers

from inventory.models import (
    Channel,
    Location,
    LocationKind,
    Sku,
    SkuPrice,
    StockForecast,
    StockLevel,
    StockMovement,
    Transfer,
    TransferLine,
    code_validator,
)
from inventory.selectors import STOCK_LEVEL_FIGURES
from inventory.services import LOCATION_UPDATABLE
from oms.api.fields import MoneyField, model_integer
from oms.api.serializers import InputSerializer
from oms.money import is_current_currency


class SkuOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Sku
        fields = [
            "id",
            "code",
            "name",
            "barcode",
            "weight_grams",
            "is_active",
            "allow_backorder",
            "track_inventory",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SkuInputSerializer(InputSerializer):
    code = serializers.CharField(max_length=64, validators=[code_validator])
    name = serializers.CharField(max_length=255)
    barcode = serializers.CharField(max_length=64, required=False, allow_blank=True)
    weight_grams = model_integer(Sku, "weight_grams", required=False, allow_null=True)
    is_active = serializers.BooleanField(required=False)
    allow_backorder = serializers.BooleanField(required=False)
    track_inventory = serializers.BooleanField(required=False)

    def validate_code(self, value: str) -> str:
        if self.instance is not None and value != self.instance.code:
            raise serializers.ValidationError("A SKU's code cannot be changed.")
        return value


class SkuPriceOutputSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku.code")
    channel = serializers.CharField(
        source="channel.code", allow_null=True, help_text="Empty: the SKU's default price."
    )
    amount = MoneyField()

    class Meta:
        model = SkuPrice
        fields = ["id", "sku", "channel", "currency", "amount", "updated_at"]
        read_only_fields = fields


class SkuPriceInputSerializer(InputSerializer):
    """A new price; a change sends only `amount` (a price's SKU, channel and currency stay)."""

    sku = serializers.SlugRelatedField(slug_field="code", queryset=Sku.objects.all())
    channel = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Channel.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="A channel code; empty or absent: the SKU's default price on every channel "
        "without a price of its own.",
    )
    currency = serializers.CharField(min_length=3, max_length=3, help_text="ISO 4217")
    amount = MoneyField(help_text="More than 0, with at most the currency's decimal places.")

    def validate_currency(self, value: str) -> str:
        if not is_current_currency(value):
            raise serializers.ValidationError(f"{value!r} is not an ISO 4217 code in use today.")
        return value.upper()

    def validate_amount(self, value: Any) -> Any:
        if value <= 0:
            raise serializers.ValidationError("A price is more than 0 (delete it to have none).")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None:
            fixed = sorted(set(attrs) & {"sku", "channel", "currency"})
            if fixed:
                raise serializers.ValidationError(
                    {
                        name: ["A price's SKU, channel and currency cannot be changed."]
                        for name in fixed
                    }
                )
        return attrs


class LocationOutputSerializer(serializers.ModelSerializer):
    country = serializers.CharField(source="country.code")

    class Meta:
        model = Location
        fields = ["id", "code", *LOCATION_UPDATABLE, "created_at", "updated_at"]
        read_only_fields = fields


class LocationInputSerializer(InputSerializer):
    code = serializers.CharField(max_length=32, validators=[code_validator])
    name = serializers.CharField(max_length=255)
    kind = serializers.ChoiceField(choices=LocationKind.choices)
    line1 = serializers.CharField(max_length=255, required=False, allow_blank=True)
    line2 = serializers.CharField(max_length=255, required=False, allow_blank=True)
    city = serializers.CharField(max_length=128, required=False, allow_blank=True)
    region = serializers.CharField(max_length=128, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=32, required=False, allow_blank=True)
    country = serializers.CharField(min_length=2, max_length=2)
    latitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=-90, max_value=90, required=False, allow_null=True
    )
    longitude = serializers.DecimalField(
        max_digits=9,
        decimal_places=6,
        min_value=-180,
        max_value=180,
        required=False,
        allow_null=True,
    )
    is_active = serializers.BooleanField(required=False)
    ships_online = serializers.BooleanField(required=False)
    priority = model_integer(Location, "priority", required=False)
    daily_capacity = model_integer(Location, "daily_capacity", required=False, allow_null=True)

    def validate_code(self, value: str) -> str:
        if self.instance is not None and value != self.instance.code:
            raise serializers.ValidationError("A location's code cannot be changed.")
        return value

    def validate_country(self, value: str) -> str:
        return value.upper()


class StockLevelOutputSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku.code")
    location = serializers.CharField(source="location.code")
    available = serializers.IntegerField(source="available_qty")

    class Meta:
        model = StockLevel
        fields = ["id", "sku", "location", *STOCK_LEVEL_FIGURES, "updated_at"]
        read_only_fields = fields


class StockLevelAtSerializer(serializers.Serializer):
    """A level as it was at `at`, reconstructed from the ledger."""

    sku = serializers.CharField()
    location = serializers.CharField()
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    quarantined = serializers.IntegerField()
    safety_stock = serializers.IntegerField(help_text="Today's setting (not historised).")
    available = serializers.IntegerField()
    at = serializers.DateTimeField()


class StockLevelUpdateSerializer(InputSerializer):
    safety_stock = model_integer(StockLevel, "safety_stock", required=False)
    reorder_point = model_integer(StockLevel, "reorder_point", required=False)


class StockMovementOutputSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku.code")
    location = serializers.CharField(source="location.code")
    transfer = serializers.IntegerField(source="transfer_id", allow_null=True)

    class Meta:
        model = StockMovement
        fields = [
            "id",
            "sku",
            "location",
            "kind",
            "on_hand_delta",
            "reserved_delta",
            "quarantined_delta",
            "order_id",
            "order_line_id",
            "shipment_id",
            "return_id",
            "transfer",
            "actor",
            "reason",
            "created_at",
        ]
        read_only_fields = fields


class StockAdjustmentInputSerializer(InputSerializer):
    KINDS = ("receipt", "count", "damage", "correction")

    sku = serializers.SlugRelatedField(slug_field="code", queryset=Sku.objects.all())
    location = serializers.SlugRelatedField(slug_field="code", queryset=Location.objects.all())
    kind = serializers.ChoiceField(choices=KINDS)
    quantity = model_integer(
        StockMovement,
        "on_hand_delta",
        min_value=-(2**31 - 1),
        help_text="For a count: the counted figure (0 or more). Otherwise a signed delta, not 0.",
    )
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["kind"] == "count" and attrs["quantity"] < 0:
            raise serializers.ValidationError({"quantity": ["A count is 0 or more."]})
        if attrs["kind"] != "count" and attrs["quantity"] == 0:
            raise serializers.ValidationError({"quantity": ["A delta of 0 changes nothing."]})
        return attrs


class TransferLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku.code")

    class Meta:
        model = TransferLine
        fields = ["sku", "quantity"]
        read_only_fields = fields


class TransferOutputSerializer(serializers.ModelSerializer):
    from_location = serializers.CharField(source="from_location.code")
    to_location = serializers.CharField(source="to_location.code")
    lines = TransferLineSerializer(many=True)

    class Meta:
        model = Transfer
        fields = [
            "id",
            "from_location",
            "to_location",
            "status",
            "reference",
            "lines",
            "created_by",
            "created_at",
            "shipped_at",
            "received_at",
            "cancelled_at",
        ]
        read_only_fields = fields


class TransferLineInputSerializer(InputSerializer):
    sku = serializers.SlugRelatedField(slug_field="code", queryset=Sku.objects.all())
    quantity = model_integer(TransferLine, "quantity", min_value=1)


class TransferInputSerializer(InputSerializer):
    from_location = serializers.SlugRelatedField(slug_field="code", queryset=Location.objects.all())
    to_location = serializers.SlugRelatedField(slug_field="code", queryset=Location.objects.all())
    lines = TransferLineInputSerializer(many=True, allow_empty=False)
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class StockForecastOutputSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku.code")
    location = serializers.CharField(
        source="location.code", allow_null=True, help_text="Empty for the whole network."
    )

    class Meta:
        model = StockForecast
        fields = [
            "sku",
            "location",
            "computed_at",
            "velocity_7",
            "velocity_28",
            "velocity_90",
            "velocity",
            "on_hand",
            "available",
            "incoming",
            "days_of_cover",
            "stockout_date",
            "reorder_quantity",
            "wape",
            "backtest_weeks",
        ]
        read_only_fields = fields
