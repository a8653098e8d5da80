"""What-if routing in the API: drafts (in and out) and runs (in and out).

A bad draft or window is a 400 problem naming the field (`rules.0.locations`, `from`), never a
500 and never a half-made draft.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from fulfilment.models import RuleKind, ShortagePolicy
from inventory.models import Channel, Location
from oms.api.fields import IntegerField
from oms.api.serializers import InputSerializer
from reports.models import DraftStatus, RoutingDraft, RunStatus, WhatIfRun
from reports.whatif import country_codes, rule_problems


class DraftRuleSerializer(InputSerializer):
    position = IntegerField(min_value=0, max_value=32767, default=100)
    name = serializers.CharField(max_length=100)
    is_active = serializers.BooleanField(default=True)
    channel = serializers.SlugRelatedField(
        slug_field="code", queryset=Channel.objects.all(), required=False, allow_null=True
    )
    countries = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", help_text="ISO codes"
    )
    kind = serializers.ChoiceField(choices=RuleKind.choices)
    locations = serializers.SlugRelatedField(
        slug_field="code", queryset=Location.objects.all(), many=True, required=False
    )
    priority = IntegerField(
        min_value=-32768, max_value=32767, required=False, allow_null=True, default=None
    )
    allow_split = serializers.BooleanField(required=False, allow_null=True, default=None)
    max_splits = IntegerField(
        min_value=1, max_value=32767, required=False, allow_null=True, default=None
    )
    on_shortage = serializers.ChoiceField(
        choices=ShortagePolicy.choices, required=False, allow_blank=True, default=""
    )

    def validate_countries(self, value: str) -> str:
        known, unknown = country_codes(value)
        if unknown:
            raise serializers.ValidationError(
                f"Not ISO 3166-1 country codes: {', '.join(unknown)}."
            )
        return known

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        problems = rule_problems(attrs)
        if problems:
            raise serializers.ValidationError(problems)
        return attrs


class DraftLocationSerializer(InputSerializer):
    location = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Location.objects.filter(is_active=True),
        help_text="An active location's code",
    )
    ships_online = serializers.BooleanField(required=False)
    daily_capacity = IntegerField(
        min_value=0, max_value=2_147_483_647, required=False, allow_null=True
    )


class DraftInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=100)
    rules = DraftRuleSerializer(
        many=True, required=False, help_text="The draft's rules; omitted: a copy of the live ones."
    )
    locations = DraftLocationSerializer(
        many=True,
        required=False,
        help_text="Changes to the live locations' settings (switched off, capacity).",
    )

    def validate_locations(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        codes = [item["location"].code for item in value]
        if len(codes) != len(set(codes)):
            raise serializers.ValidationError("A location is named twice.")
        return value

    def service_kwargs(self) -> dict[str, Any]:
        data = self.validated_data
        return {
            "name": data["name"],
            "rules": data.get("rules"),
            "locations": {
                item["location"].pk: {k: v for k, v in item.items() if k != "location"}
                for item in data.get("locations") or []
            },
        }


class DraftRuleOutputSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    name = serializers.CharField()
    is_active = serializers.BooleanField()
    channel = serializers.SerializerMethodField()
    countries = serializers.CharField()
    kind = serializers.CharField()
    locations = serializers.SerializerMethodField()
    priority = serializers.IntegerField(allow_null=True)
    allow_split = serializers.BooleanField(allow_null=True)
    max_splits = serializers.IntegerField(allow_null=True)
    on_shortage = serializers.CharField()

    def get_channel(self, rule: Any) -> str | None:
        return rule.channel.code if rule.channel_id else None

    def get_locations(self, rule: Any) -> list[str]:
        return sorted(loc.code for loc in rule.locations.all())


class DraftLocationOutputSerializer(serializers.Serializer):
    location = serializers.CharField(source="location.code")
    ships_online = serializers.BooleanField()
    daily_capacity = serializers.IntegerField(allow_null=True)


class DraftOutputSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=DraftStatus.choices)
    rules = DraftRuleOutputSerializer(many=True)
    locations = DraftLocationOutputSerializer(many=True)

    class Meta:
        model = RoutingDraft
        fields = [
            "id",
            "name",
            "status",
            "created_at",
            "created_by",
            "published_at",
            "published_by",
            "rules",
            "locations",
        ]


class RunInputSerializer(InputSerializer):
    draft = serializers.PrimaryKeyRelatedField(queryset=RoutingDraft.objects.all())
    to = serializers.DateField(help_text="Last day replayed (included).")

    def service_kwargs(self) -> dict[str, Any]:
        data = self.validated_data
        return {"draft": data["draft"], "start": data["from"], "end": data["to"]}


# "from" is a Python keyword: declared here.
RunInputSerializer._declared_fields["from"] = serializers.DateField(
    help_text="First day replayed (orders that arrived from then on)."
)


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    percent = serializers.IntegerField()


class RunOutputSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=RunStatus.choices)
    to = serializers.DateField(source="end")
    progress = serializers.SerializerMethodField()
    result = serializers.SerializerMethodField(
        help_text="When succeeded (left out of lists): `current` and `draft` figures, "
        "`changed_count`, `changed` (orders whose decision changed, with both explanations)."
    )

    class Meta:
        model = WhatIfRun
        fields = [
            "id",
            "draft",
            "from",
            "to",
            "status",
            "progress",
            "error",
            "created_at",
            "created_by",
            "started_at",
            "finished_at",
            "result",
        ]

    def get_progress(self, run: WhatIfRun) -> dict[str, int]:
        return {"done": run.orders_done, "total": run.orders_total, "percent": run.percent}

    def get_result(self, run: WhatIfRun) -> dict[str, Any] | None:
        if run.status != RunStatus.SUCCEEDED or not self.context.get("with_result", True):
            return None
        return run.result


RunOutputSerializer._declared_fields["from"] = serializers.DateField(source="start")
