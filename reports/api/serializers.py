"""The reports' query parameters (validated: a bad one is a 400 problem, never a 500) and the
shape of an answer, for the schema."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from inventory.models import Channel, Location
from reports.selectors import FILTERS, GROUPS, MAX_DAYS, Query

DEFAULT_DAYS = 30


class ReportQuerySerializer(serializers.Serializer):
    # "from" is a Python keyword: it is declared at the end of the module.
    to = serializers.DateField(required=False, help_text="Last day (default today).")
    channel = serializers.SlugRelatedField(
        slug_field="code", queryset=Channel.objects.all(), required=False, help_text="Channel code"
    )
    location = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Location.objects.all(),
        required=False,
        help_text="Location code",
    )
    group = serializers.ChoiceField(choices=GROUPS, default="day", required=False)
    format = serializers.ChoiceField(choices=("json", "csv"), default="json", required=False)

    def __init__(self, *args: Any, report: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.report = report

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        refused = {
            name: [f"The {self.report} report has no {name} filter."]
            for name in ("channel", "location")
            if attrs.get(name) is not None and name not in FILTERS[self.report]
        }
        if refused:
            raise serializers.ValidationError(refused)
        end = attrs.get("to") or timezone.localdate()
        start = attrs.get("from") or end - dt.timedelta(days=DEFAULT_DAYS)
        if start > end:
            raise serializers.ValidationError({"from": ["`from` comes after `to`."]})
        if (end - start).days >= MAX_DAYS:
            raise serializers.ValidationError(
                {"from": [f"A report covers at most {MAX_DAYS} days."]}
            )
        attrs["start"], attrs["end"] = start, end
        return attrs

    def query(self) -> Query:
        data = self.validated_data
        return Query(
            name=self.report,
            start=data["start"],
            end=data["end"],
            group=data.get("group") or "day",
            channel=data.get("channel"),
            location=data.get("location"),
        )


class ReportOutputSerializer(serializers.Serializer):
    report = serializers.CharField()
    title = serializers.CharField()
    base_currency = serializers.CharField()
    group = serializers.ChoiceField(choices=GROUPS)
    columns = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        help_text="key and label of each figure of a row, in order",
    )
    rows = serializers.ListField(
        child=serializers.DictField(),
        help_text="one per period (`period`: its first day) with the figures of `columns`",
    )
    totals = serializers.DictField(help_text="the figures over the whole range")
    breakdowns = serializers.DictField(
        child=serializers.ListField(child=serializers.DictField()),
        help_text="per location, channel, SKU or reason, as the report has them",
    )


# The `from` parameter for the schema: DRF cannot declare a field named with a keyword.
ReportQuerySerializer._declared_fields["from"] = serializers.DateField(
    required=False, help_text=f"First day (default {DEFAULT_DAYS} days before `to`)."
)
