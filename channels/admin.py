import json
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from channels import services
from channels.models import Channel
from oms.admin_utils import ServiceModelAdmin
from oms.currencies import currency_choices


class ChannelAdminForm(forms.ModelForm):
    """Credentials are write-only: the field is always shown empty; empty keeps the stored ones."""

    service_fields = ("credentials",)

    credentials = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
        help_text=(
            'Write-only. A JSON object such as {"access_token": "..."}; leave empty to keep the '
            "stored credentials, or tick “clear credentials” to remove them."
        ),
    )
    clear_credentials = forms.BooleanField(required=False)
    currency = forms.ChoiceField(choices=currency_choices())

    class Meta:
        model = Channel
        fields = ["code", "name", "kind", "currency", "locations", "stock_buffer", "is_active"]

    def clean_credentials(self) -> dict[str, str] | None:
        raw = self.cleaned_data["credentials"].strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError("Enter a JSON object.") from None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise forms.ValidationError("Enter a JSON object of text values.")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("clear_credentials"):
            cleaned["credentials"] = {}
        elif cleaned.get("credentials") is None:
            cleaned.pop("credentials", None)
        # changed_data decides what the service is given: only a new or cleared secret.
        replace = "credentials" in cleaned
        if replace != ("credentials" in self.changed_data):
            if replace:
                self.changed_data.append("credentials")
            else:
                self.changed_data.remove("credentials")
        return cleaned


@admin.register(Channel)
class ChannelAdmin(ServiceModelAdmin):
    form = ChannelAdminForm
    list_display = [
        "code",
        "name",
        "kind",
        "currency",
        "location_count",
        "stock_buffer",
        "is_active",
    ]
    list_filter = ["kind", "currency", "is_active"]
    search_fields = ["code", "name"]
    filter_horizontal = ["locations"]
    readonly_fields = ["has_credentials", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["code", "name", "kind", "currency", "is_active"]}),
        ("Stock", {"fields": ["locations", "stock_buffer"]}),
        ("Credentials", {"fields": ["has_credentials", "credentials", "clear_credentials"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Channel]:
        return super().get_queryset(request).annotate(location_total=Count("locations"))

    @admin.display(description="Locations", ordering="location_total")
    def location_count(self, obj: Any) -> int:
        return int(obj.location_total)

    @admin.display(boolean=True, description="Credentials stored")
    def has_credentials(self, obj: Channel) -> bool:
        return obj.has_credentials

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        return [*self.readonly_fields, "code"] if obj else self.readonly_fields

    def service_create(self, data: dict[str, Any]) -> Channel:
        return services.channel_create(**data)

    def service_update(self, instance: Channel, data: dict[str, Any]) -> Channel:
        return services.channel_update(channel=instance, data=data)
