from django.core.validators import URLValidator
from rest_framework import serializers

from channels.models import ChannelSyncRun
from inventory.models import (
    SHOPPER_LANGUAGES,
    Channel,
    ChannelKind,
    Location,
    PaymentProvider,
    Sku,
    code_validator,
    validate_currency,
)
from oms.api.fields import model_integer
from oms.api.serializers import InputSerializer


class ChannelOutputSerializer(serializers.ModelSerializer):
    locations: serializers.RelatedField = serializers.SlugRelatedField(
        slug_field="code", many=True, read_only=True
    )
    has_credentials = serializers.BooleanField(read_only=True)

    class Meta:
        model = Channel
        fields = [
            "id",
            "code",
            "name",
            "kind",
            "currency",
            "locations",
            "stock_buffer",
            "is_active",
            "has_credentials",
            "send_emails",
            "location_map",
            "sync_interval_minutes",
            "sync_overlap_minutes",
            "sync_cursor",
            "sync_next_at",
            "return_window_days",
            "returns_auto_authorise",
            "refund_basis",
            "exchange_timing",
            "payment_provider",
            "capture_on_shipment",
            "shipped_elsewhere_stock",
            "refund_restock",
            "merchant_name",
            "logo_url",
            "language",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ChannelInputSerializer(InputSerializer):
    code = serializers.CharField(max_length=32, validators=[code_validator])
    name = serializers.CharField(max_length=255)
    kind = serializers.ChoiceField(
        choices=ChannelKind.choices, help_text="Set at creation; it cannot be changed."
    )
    currency = serializers.CharField(min_length=3, max_length=3)
    locations = serializers.SlugRelatedField(
        slug_field="code", many=True, queryset=Location.objects.all(), required=False
    )
    stock_buffer = model_integer(Channel, "stock_buffer", required=False)
    is_active = serializers.BooleanField(required=False)
    send_emails = serializers.BooleanField(required=False)
    location_map = serializers.DictField(
        child=serializers.CharField(max_length=32),
        required=False,
        help_text="Channel-side location id -> our location code.",
    )
    sync_interval_minutes = model_integer(
        Channel, "sync_interval_minutes", max_value=1440, required=False
    )
    sync_overlap_minutes = model_integer(
        Channel, "sync_overlap_minutes", max_value=1440, required=False
    )
    return_window_days = model_integer(
        Channel, "return_window_days", max_value=3650, required=False
    )
    returns_auto_authorise = serializers.BooleanField(required=False)
    refund_basis = serializers.ChoiceField(choices=["received", "authorised"], required=False)
    exchange_timing = serializers.ChoiceField(choices=["on_receipt", "immediate"], required=False)
    payment_provider = serializers.ChoiceField(
        choices=PaymentProvider.choices,
        required=False,
        help_text="Who pays refunds back: the channel, Stripe, or staff by hand (manual).",
    )
    capture_on_shipment = serializers.BooleanField(required=False)
    shipped_elsewhere_stock = serializers.ChoiceField(
        choices=["none", "take"],
        required=False,
        help_text="Orders already shipped on the channel when first imported: take their units "
        "from the location they left (take) or none of our stock (none).",
    )
    refund_restock = serializers.ChoiceField(
        choices=["none", "restock"],
        required=False,
        help_text="Refunds of a channel that does not say whether their units came back "
        "(WooCommerce, eBay): put shipped units back in stock (restock) or not (none).",
    )
    merchant_name = serializers.CharField(
        max_length=255,
        allow_blank=True,
        required=False,
        help_text="The shop name on packing slips, e-mails and the tracking page "
        "(empty: the channel's name).",
    )
    logo_url = serializers.URLField(
        max_length=500,
        allow_blank=True,
        required=False,
        validators=[
            URLValidator(schemes=["https"], message="Enter an https:// URL.", code="not_https")
        ],
        help_text="An https:// image URL for the e-mails and the tracking page (empty: none).",
    )
    language = serializers.ChoiceField(
        choices=SHOPPER_LANGUAGES,
        required=False,
        help_text="The language of the shopper's tracking page, return pages and e-mails "
        "(en, de, fr, nl, es), unless an order names its own.",
    )
    credentials = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=10000),
        required=False,
        write_only=True,
        help_text="Write-only secrets of the channel's API (tokens, keys). Never returned.",
    )

    def validate_code(self, value: str) -> str:
        if self.instance is not None and value != self.instance.code:
            raise serializers.ValidationError("A channel's code cannot be changed.")
        return value

    def validate_kind(self, value: str) -> str:
        if self.instance is not None and value != self.instance.kind:
            raise serializers.ValidationError(
                f"A channel's kind cannot be changed (it stays {self.instance.kind!r})."
            )
        return value

    def validate_credentials(self, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 100 or any(len(key) > 200 for key in value):
            raise serializers.ValidationError("At most 100 keys of at most 200 characters.")
        return value

    def validate_location_map(self, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 1000 or any(len(key) > 200 for key in value):
            raise serializers.ValidationError("At most 1,000 keys of at most 200 characters.")
        codes = set(value.values())
        known = set(Location.objects.filter(code__in=codes).values_list("code", flat=True))
        unknown = sorted(codes - known)
        if unknown:
            raise serializers.ValidationError(f"Unknown location codes: {', '.join(unknown)}.")
        return value

    def validate_currency(self, value: str) -> str:
        value = value.upper()
        try:
            validate_currency(value)
        except Exception as exc:
            raise serializers.ValidationError(str(exc.args[0])) from None
        return value


class AvailabilityQuerySerializer(InputSerializer):
    MAX_SKUS = 1000

    channel = serializers.SlugRelatedField(slug_field="code", queryset=Channel.objects.all())
    sku = serializers.CharField(help_text="One SKU code, or up to 1,000 separated by commas.")

    def validate_sku(self, value: str) -> list[Sku]:
        codes = list(dict.fromkeys(code.strip() for code in value.split(",") if code.strip()))
        if not codes:
            raise serializers.ValidationError("Name at least one SKU code.")
        if len(codes) > self.MAX_SKUS:
            raise serializers.ValidationError(f"At most {self.MAX_SKUS} SKUs per request.")
        found = {sku.code: sku for sku in Sku.objects.filter(code__in=codes).only("id", "code")}
        unknown = [code for code in codes if code not in found]
        if unknown:
            shown = ", ".join(unknown[:20]) + (" ..." if len(unknown) > 20 else "")
            raise serializers.ValidationError(f"Unknown SKU codes: {shown}.")
        return [found[code] for code in codes]


class LocationAvailabilitySerializer(serializers.Serializer):
    location = serializers.CharField()
    available = serializers.IntegerField()


class AvailabilityOutputSerializer(serializers.Serializer):
    sku = serializers.CharField()
    available = serializers.IntegerField()
    locations = LocationAvailabilitySerializer(many=True)


class SyncRunSerializer(serializers.ModelSerializer):
    channel: serializers.RelatedField = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = ChannelSyncRun
        fields = [
            "id",
            "channel",
            "trigger",
            "status",
            "since",
            "cursor_after",
            "started_at",
            "finished_at",
            "pages",
            "created",
            "updated",
            "unchanged",
            "failed",
            "error",
        ]
        read_only_fields = fields
