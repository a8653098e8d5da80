from __future__ import annotations

from rest_framework import serializers

from oms.api.serializers import InputSerializer
from webhooks.models import EVENT_TYPES, Event, WebhookDelivery, WebhookEndpoint

EVENT_TYPE_CHOICES = list(EVENT_TYPES)


class EndpointOutputSerializer(serializers.ModelSerializer):
    """An endpoint, never its secret."""

    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES))
    previous_secret_valid_until = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "events",
            "description",
            "is_active",
            "disabled_reason",
            "failing_since",
            "previous_secret_valid_until",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_previous_secret_valid_until(self, obj: WebhookEndpoint) -> str | None:
        """While a rotated-out secret still signs deliveries."""
        at = obj.previous_secret_expires_at
        return serializers.DateTimeField().to_representation(at) if at else None


class EndpointWithSecretSerializer(EndpointOutputSerializer):
    """The answer of the calls that make a secret: the only time it is shown."""

    secret = serializers.CharField(help_text="whsec_...: shown once; store it now.")

    class Meta(EndpointOutputSerializer.Meta):
        fields = [*EndpointOutputSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EndpointInputSerializer(InputSerializer):
    url = serializers.URLField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES),
        required=False,
        max_length=len(EVENT_TYPE_CHOICES),
        help_text="Event types to receive; empty or absent: all.",
    )
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)


class DisableInputSerializer(InputSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class EventOutputSerializer(serializers.ModelSerializer):
    """The payload a subscriber receives, with the event's id (the feed's cursor)."""

    class Meta:
        model = Event
        fields = ["id", "type", "occurred_at", "sequence", "object_type", "object_id", "data"]
        read_only_fields = fields


class DeliveryOutputSerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(source="event.type")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "event",
            "event_type",
            "webhook_id",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_response_code",
            "last_duration_ms",
            "last_error",
            "response_body_head",
            "created_at",
        ]
        read_only_fields = fields


class FeedQuerySerializer(serializers.Serializer):
    """Query parameters (text): not an input serializer of JSON bodies."""

    after = serializers.IntegerField(
        required=False, min_value=0, max_value=2**63 - 1, help_text="The last event id you saw."
    )
    types = serializers.CharField(
        required=False, allow_blank=True, max_length=1000, help_text="Event types, comma-separated."
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)

    def validate_types(self, value: str) -> list[str]:
        found = [t.strip() for t in value.split(",") if t.strip()]
        unknown = [t for t in found if t not in EVENT_TYPES]
        if unknown:
            raise serializers.ValidationError(f"Unknown event types: {', '.join(unknown)}.")
        return found


class FeedPageSerializer(serializers.Serializer):
    results = EventOutputSerializer(many=True)
    next_after = serializers.IntegerField(
        help_text="Pass as `after` to read on (the last id of this page, or the one given)."
    )
    has_more = serializers.BooleanField(help_text="More events are there to read now.")
    next = serializers.CharField(help_text="The URL of the next page (poll it later if empty).")
