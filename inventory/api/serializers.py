from rest_framework import serializers

from inventory.models import Location, LocationKind, Sku, code_validator
from oms.api.serializers import InputSerializer


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
    weight_grams = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    is_active = serializers.BooleanField(required=False)
    allow_backorder = serializers.BooleanField(required=False)
    track_inventory = serializers.BooleanField(required=False)

    def validate_code(self, value: str) -> str:
        if self.instance is not None and value != self.instance.code:
            raise serializers.ValidationError("A SKU's code cannot be changed.")
        return value


class LocationOutputSerializer(serializers.ModelSerializer):
    country = serializers.CharField(source="country.code")

    class Meta:
        model = Location
        fields = [
            "id",
            "code",
            "name",
            "kind",
            "line1",
            "line2",
            "city",
            "region",
            "postal_code",
            "country",
            "latitude",
            "longitude",
            "is_active",
            "ships_online",
            "priority",
            "daily_capacity",
            "created_at",
            "updated_at",
        ]
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
    priority = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    daily_capacity = serializers.IntegerField(min_value=0, required=False, allow_null=True)

    def validate_code(self, value: str) -> str:
        if self.instance is not None and value != self.instance.code:
            raise serializers.ValidationError("A location's code cannot be changed.")
        return value

    def validate_country(self, value: str) -> str:
        return value.upper()
