"""The channels back office: channel settings, sync runs, failures, pushes, listings (webhook
deliveries are in the kernel's inbox page, oms.admin.inbox).

Invariants: credentials are write-only (see oms.admin.services: the input is always empty and only
on the page of a user who may replace them; the page says "set" with the key names, never a
value); replacing or clearing them, switching the connector (`kind`), connecting or
disconnecting (`is_active`) and the actions "Sync orders now", "Push pending stock now" and
"Reconcile stock" need "manage channel connections" besides `change`; "Import orders from CSV"
is order capture (orders' `add`).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from channels import (
    admin_timeline,  # noqa: F401  (registers the channels' timeline sentences)
    services,
)
from channels.models import (
    ChannelListing,
    ChannelPush,
    ChannelSyncFailure,
    ChannelSyncRun,
    SyncTrigger,
)
from channels.services import requests
from inventory.models import SHOPPER_LANGUAGES, Channel
from oms import jsonsafe
from oms.admin.readonly import ReadOnlyInline, ReadOnlyModelAdmin
from oms.admin.services import ServiceModelAdmin
from oms.admin.tools import ToolAdmin, each_object
from oms.money import currency_choices
from oms.roles import MANAGE_CHANNEL_CONNECTIONS

#: Fields whose change connects, switches or disconnects a channel's connector.
CONNECTION_FIELDS = ("kind", "is_active")


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value: not the stored one, nor one typed and refused."""

    def format_value(self, value: Any) -> str | None:
        return None


class ChannelAdminForm(forms.ModelForm):
    """Credentials are write-only: the field is always shown empty; empty keeps the stored ones."""

    service_fields = ("credentials",)

    credentials = forms.CharField(
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 4, "autocomplete": "off"}),
        help_text=(
            'Write-only. A JSON object such as {"access_token": "..."}; leave empty to keep the '
            "stored credentials, or tick “clear credentials” to remove them. It is never shown "
            "again, not even when the form is refused: type it again then."
        ),
    )
    clear_credentials = forms.BooleanField(required=False)
    # Current ISO 4217 currencies only (no Andorran peseta); a channel's own older code stays.
    currency = forms.ChoiceField(choices=currency_choices)
    # https only (the model's validator); a bare host is read as https (Django 6's default).
    logo_url = forms.URLField(
        label="Logo URL",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=Channel._meta.get_field("logo_url").help_text,
    )

    # A form posted without it (a script of an older form) keeps the channel's language.
    language = forms.ChoiceField(
        label=Channel._meta.get_field("language").verbose_name,
        choices=SHOPPER_LANGUAGES,
        required=False,
        help_text=Channel._meta.get_field("language").help_text,
    )

    class Meta:
        model = Channel
        # The code, then what an update may change, the locations after the currency.
        fields = [
            "code",
            *services.CHANNEL_UPDATABLE[:3],
            "locations",
            *services.CHANNEL_UPDATABLE[3:],
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        own = getattr(self.instance, "currency", "")
        field = self.fields.get("currency")
        if own and isinstance(field, forms.ChoiceField):
            offered = currency_choices()
            if own not in {code for code, _ in offered}:
                field.choices = sorted([*offered, (own, f"{own} (no longer current)")])

    def clean_language(self) -> str:
        return str(self.cleaned_data.get("language") or getattr(self.instance, "language", "en"))

    def clean_credentials(self) -> dict[str, str] | None:
        raw = self.cleaned_data["credentials"].strip()
        if not raw:
            return None
        try:
            value = jsonsafe.loads(raw)
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
class ChannelAdmin(ToolAdmin, ServiceModelAdmin):
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
    secret_fields = ("credentials", "clear_credentials")
    readonly_fields = [
        "credentials_stored",
        "sync_cursor",
        "sync_next_at",
        "sync_lease_until",
        "last_runs",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["code", "name", "kind", "currency", "is_active", "send_emails"]}),
        ("Stock", {"fields": ["locations", "stock_buffer", "location_map"]}),
        (
            "Order sync",
            {
                "fields": [
                    "sync_interval_minutes",
                    "sync_overlap_minutes",
                    "shipped_elsewhere_stock",
                    "refund_restock",
                    "sync_cursor",
                    "sync_next_at",
                    "sync_lease_until",
                    "last_runs",
                ]
            },
        ),
        (
            "Returns",
            {
                "fields": [
                    "return_window_days",
                    "returns_auto_authorise",
                    "refund_basis",
                    "exchange_timing",
                ]
            },
        ),
        ("Payments", {"fields": ["payment_provider", "capture_on_shipment"]}),
        ("Branding", {"fields": ["merchant_name", "logo_url", "language"]}),
        (
            "Credentials",
            {"fields": ["credentials_stored", "credentials", "clear_credentials"]},
        ),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]
    actions = ["sync_now", "push_stock_now", "reconcile_stock"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Channel]:
        # An aggregate drops Meta.ordering: keep it (the autocomplete pages through this).
        return (
            super()
            .get_queryset(request)
            .annotate(location_total=Count("locations"))
            .order_by("code")
        )

    @admin.display(description="Locations", ordering="location_total")
    def location_count(self, obj: Any) -> int:
        return int(obj.location_total)

    @admin.display(description="Credentials stored")
    def credentials_stored(self, obj: Channel) -> str:
        """Whether credentials are set and their key names: never a value."""
        if not obj.has_credentials:
            return "Not set"
        try:
            keys = obj.credential_keys()
        except ImproperlyConfigured:
            return "Set, but unreadable: OMS_CREDENTIALS_KEY or SECRET_KEY changed"
        return f"Set: {', '.join(keys)}"

    # --- permissions: a channel's connection is its own permission -------------------------------

    def has_connections_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """May set or clear credentials, (dis)connect the channel, sync it and push stock."""
        return bool(
            self.has_change_permission(request, obj)
            and request.user.has_perm(MANAGE_CHANNEL_CONNECTIONS)
        )

    def has_secret_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_secret_permission(request, obj) and bool(
            request.user.has_perm(MANAGE_CHANNEL_CONNECTIONS)
        )

    @admin.display(description="Recent syncs")
    def last_runs(self, obj: Channel) -> str:
        if not obj.pk:
            return "-"
        runs = list(obj.sync_runs.all()[:5])
        if not runs:
            return "No sync yet."
        rows = format_html_join(
            "",
            "<li><a href='{}'>{} {}</a>: {} created, {} updated, {} failed {}</li>",
            (
                (
                    reverse("admin:channels_channelsyncrun_change", args=[run.pk]),
                    run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                    run.get_status_display(),
                    run.created,
                    run.updated,
                    run.failed,
                    run.error[:120],
                )
                for run in runs
            ),
        )
        return format_html("<ul style='margin:0'>{}</ul>", rows)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        """ "Import orders from CSV" at the top of the channel's page (its object tools)."""
        extra = dict(extra_context or {})
        if object_id.isdigit() and request.user.has_perm("orders.add_order"):
            extra["csv_import_url"] = reverse(
                "admin:inventory_channel_import_csv", args=[int(object_id)]
            )
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self) -> list[Any]:
        def csv_import(request: HttpRequest, channel_id: int) -> Any:
            from channels.admin_csv import csv_import_view

            return csv_import_view(request, channel_id)

        def csv_sample(request: HttpRequest) -> Any:
            from channels.admin_csv import csv_sample_view

            return csv_sample_view(request)

        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:channel_id>/import-csv/",
                wrap(csv_import),
                name="inventory_channel_import_csv",
            ),
            path("import-csv/sample.csv", wrap(csv_sample), name="inventory_channel_csv_sample"),
            *super().get_urls(),
        ]

    def _each(self, request: HttpRequest, queryset: QuerySet[Channel], do: Any) -> None:
        """Run `do(channel)` per channel and tell the outcome of each."""
        each_object(
            self,
            request,
            queryset,
            lambda channel: f"{channel.code}: {do(channel)}",
            failed=lambda channel, exc: f"{channel.code}: {exc}",
            failed_level=messages.WARNING,
            done_level=messages.INFO,
        )

    @admin.action(description="Sync orders now", permissions=["connections"])
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        def do(channel: Channel) -> str:
            requests.channel_sync_request(channel=channel, trigger=SyncTrigger.MANUAL)
            return "sync queued; its run appears under Sync runs."

        self._each(request, queryset, do)

    @admin.action(description="Push pending stock now", permissions=["connections"])
    def push_stock_now(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        def do(channel: Channel) -> str:
            requests.channel_stock_push_request(channel=channel)
            return "stock push queued."

        self._each(request, queryset, do)

    @admin.action(description="Reconcile stock (send every SKU)", permissions=["connections"])
    def reconcile_stock(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        def do(channel: Channel) -> str:
            marked = requests.channel_stock_reconcile_request(channel=channel)
            return f"{marked} SKUs queued for a full push."

        self._each(request, queryset, do)

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        if obj is None:
            return self.readonly_fields
        # A channel's code and kind are its identity: its orders, connector and credentials
        # follow them, so neither changes after creation.
        fields = [*self.readonly_fields, "code", "kind"]
        if not self.has_connections_permission(request, obj):
            fields += [name for name in CONNECTION_FIELDS if name not in fields]
        return fields

    def service_create(self, data: dict[str, Any]) -> Channel:
        return services.channel_create(**data)

    def service_update(self, instance: Channel, data: dict[str, Any]) -> Channel:
        return services.channel_update(channel=instance, data=data)


class SyncFailureInline(ReadOnlyInline):
    model = ChannelSyncFailure
    fields = ["external_id", "reason", "resolved", "raw"]
    readonly_fields = ["external_id", "reason", "resolved", "raw"]
    extra = 0


@admin.register(ChannelSyncRun)
class ChannelSyncRunAdmin(ReadOnlyModelAdmin):
    list_display = [
        "started_at",
        "channel",
        "trigger",
        "status",
        "pages",
        "created",
        "updated",
        "unchanged",
        "failed",
        "duration",
        "short_error",
    ]
    list_filter = ["status", "trigger", "channel"]
    list_select_related = ["channel"]
    date_hierarchy = "started_at"
    inlines = [SyncFailureInline]

    @admin.display(description="Seconds")
    def duration(self, obj: ChannelSyncRun) -> str:
        seconds = obj.duration_seconds
        return "-" if seconds is None else f"{seconds:.1f}"

    @admin.display(description="Error")
    def short_error(self, obj: ChannelSyncRun) -> str:
        return obj.error[:100]


@admin.register(ChannelSyncFailure)
class ChannelSyncFailureAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "channel", "external_id", "reason", "resolved"]
    list_filter = ["resolved", "channel"]
    list_select_related = ["channel"]
    search_fields = ["external_id"]


@admin.register(ChannelPush)
class ChannelPushAdmin(ReadOnlyModelAdmin):
    list_display = [
        "created_at",
        "channel",
        "kind",
        "status",
        "items",
        "failed_items",
        "attempts",
        "order",
        "short_error",
    ]
    list_filter = ["kind", "status", "channel"]
    list_select_related = ["channel", "order"]
    search_fields = ["reference", "order__number"]

    @admin.display(description="Error")
    def short_error(self, obj: ChannelPush) -> str:
        return obj.error[:100]


@admin.register(ChannelListing)
class ChannelListingAdmin(admin.ModelAdmin):
    """Which channel-side id a SKU has (staff map them; pushes record what was sent)."""

    list_display = [
        "channel",
        "sku",
        "external_id",
        "last_quantity",
        "last_pushed_at",
        "last_error",
    ]
    fields = ["channel", "sku", "external_id", "last_quantity", "last_pushed_at", "last_error"]
    readonly_fields = ["last_quantity", "last_pushed_at", "last_error"]
    autocomplete_fields = ["channel", "sku"]
    list_filter = ["channel"]
    list_select_related = ["channel", "sku"]
    search_fields = ["sku__code", "external_id"]
