"""Back office of the webhooks app: endpoints, deliveries, events.

Invariants: a signing secret appears once, in the message after the endpoint was created or its
secret rotated (to the user who did it); no page, list or form shows it otherwise (the page says
whether a previous secret still signs). Deliveries and events are read-only; "Redeliver" sends
a delivery again with its webhook-id. Every write goes through webhooks.services.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from oms.admin.readonly import ReadOnlyModelAdmin
from oms.admin.services import ServiceModelAdmin
from oms.admin.tools import ToolAdmin, each_object
from webhooks import services
from webhooks.models import EVENT_TYPES, Event, WebhookDelivery, WebhookEndpoint

RECENT_DELIVERIES = 20


class EndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=[(t, f"{t}: {what}") for t, what in EVENT_TYPES.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )
    url = forms.URLField(
        max_length=2000,
        assume_scheme="https",
        help_text="https; never a loopback, private or link-local address.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "description"]

    def clean_url(self) -> str:
        url = str(self.cleaned_data.get("url") or "")
        problem = services.url_problem(url)
        if problem:
            raise forms.ValidationError(problem)
        return url


def _secret_message(endpoint: WebhookEndpoint, secret: str, what: str) -> str:
    return (
        f"{what} signing secret of {endpoint.url}, shown this once (store it with the "
        f"receiver now): {secret}"
    )


@admin.action(description="Rotate the signing secret", permissions=["transition"])
def rotate_secret(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]
) -> None:
    def rotate(endpoint: WebhookEndpoint) -> tuple[str, int]:
        endpoint, secret = services.endpoint_rotate_secret(endpoint=endpoint)
        return _secret_message(endpoint, secret, "The new"), messages.WARNING

    each_object(
        modeladmin, request, queryset, rotate, failed=lambda e, exc: f"{e.url} not rotated: {exc}"
    )


@admin.action(description="Disable (stop sending)", permissions=["transition"])
def disable(modeladmin: Any, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
    who = request.user.get_username()
    each_object(
        modeladmin,
        request,
        queryset,
        lambda e: (
            f"{services.endpoint_disable(endpoint=e, reason=f'Disabled by {who}.').url} "
            "is disabled."
        ),
        failed=lambda e, exc: f"{e.url} not disabled: {exc}",
    )


@admin.action(description="Enable (send again)", permissions=["transition"])
def enable(modeladmin: Any, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
    each_object(
        modeladmin,
        request,
        queryset,
        lambda e: f"{services.endpoint_enable(endpoint=e).url} is enabled.",
        failed=lambda e, exc: f"{e.url} not enabled: {exc}",
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ToolAdmin, ServiceModelAdmin):
    form = EndpointForm
    list_display = ["url", "description", "is_active", "failing_since", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    actions = [rotate_secret, disable, enable]
    readonly_fields = [
        "is_active",
        "disabled_reason",
        "failing_since",
        "previous_secret_valid_until",
        "recent_deliveries",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["url", "events", "description"]}),
        (
            "State",
            {
                "fields": [
                    "is_active",
                    "disabled_reason",
                    "failing_since",
                    "previous_secret_valid_until",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
        ("Recent deliveries", {"fields": ["recent_deliveries"]}),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fieldsets[:1] if obj is None else self.fieldsets

    @admin.display(description="Previous secret signs until")
    def previous_secret_valid_until(self, obj: WebhookEndpoint) -> Any:
        return obj.previous_secret_expires_at or "-"

    @admin.display(description="Recent deliveries")
    def recent_deliveries(self, obj: WebhookEndpoint) -> str:
        rows = list(
            WebhookDelivery.objects.filter(endpoint=obj)
            .select_related("event")
            .order_by("-id")[:RECENT_DELIVERIES]
        )
        if not rows:
            return "None yet."
        changelist = reverse("admin:webhooks_webhookdelivery_changelist")
        body = format_html_join(
            "",
            "<tr><td><a href='{}'>{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:webhooks_webhookdelivery_change", args=[d.pk]),
                    d.webhook_id,
                    d.event.type,
                    d.status,
                    d.attempts,
                    d.last_response_code or "-",
                    f"{d.last_duration_ms} ms" if d.last_duration_ms is not None else "-",
                    d.last_error or "",
                )
                for d in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>webhook-id</th><th>event</th><th>status</th><th>attempts"
            "</th><th>code</th><th>time</th><th>error</th></tr></thead><tbody>{}</tbody>"
            "</table><p><a href='{}?endpoint__id__exact={}'>All deliveries</a></p>",
            body,
            changelist,
            obj.pk,
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        services.endpoint_delete(endpoint=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            services.endpoint_delete(endpoint=endpoint)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        endpoint, secret = services.endpoint_create(**self.form_data(form, change=False))
        obj.pk = endpoint.pk
        obj._state.adding = False
        obj._state.db = endpoint._state.db
        obj.refresh_from_db()
        self.message_user(request, _secret_message(endpoint, secret, "The"), messages.WARNING)

    def service_update(self, instance: WebhookEndpoint, data: dict[str, Any]) -> WebhookEndpoint:
        return services.endpoint_update(endpoint=instance, data=data)


@admin.action(description="Redeliver (same webhook-id)", permissions=["transition"])
def redeliver(modeladmin: Any, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
    each_object(
        modeladmin,
        request,
        queryset.order_by("pk"),
        lambda d: f"{services.delivery_redeliver(delivery=d).webhook_id} will be sent again.",
        failed=lambda d, exc: f"{d.webhook_id} not sent again: {exc}",
    )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ToolAdmin, ReadOnlyModelAdmin):
    list_display = [
        "webhook_id",
        "endpoint",
        "event_type",
        "status",
        "attempts",
        "last_response_code",
        "last_duration_ms",
        "next_attempt_at",
        "created_at",
    ]
    list_select_related = ["endpoint", "event"]
    list_filter = ["status", "endpoint", "event__type"]
    search_fields = ["webhook_id"]
    actions = [redeliver]
    exclude = ["lease_until"]

    @admin.display(description="Event", ordering="event__type")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type


@admin.register(Event)
class EventAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "type", "object_type", "object_id", "sequence", "occurred_at"]
    list_filter = ["type", "object_type"]
    search_fields = ["=object_id", "type"]
    exclude = ["txid"]
