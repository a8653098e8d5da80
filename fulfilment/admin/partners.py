"""Back-office screens of fulfilment: partners (imported by fulfilment/admin.py).

Invariants: a partner's secret is write-only (the form field is always empty, an empty field
keeps the stored secret, the page only says whether one is stored, and a user who may only view
partners has no secret field at all: see oms.admin.services); partners are written by
fulfilment.services.partners; "Send to partner again" calls the service per shipment and reports
each one, a refusal never stops the others.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from fulfilment.models import Shipment, ThirdPartyPartner
from fulfilment.picklists import shipment_code
from fulfilment.services import partners
from inventory.models import Location, LocationKind
from oms.admin.services import ServiceModelAdmin
from oms.admin.tools import actor_name, each_object
from oms.errors import DomainError


class ThirdPartyPartnerForm(forms.ModelForm):
    """The secret is write-only: always shown empty; empty keeps the stored one."""

    service_fields = ("secret",)

    secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=(
            "Write-only. The Standard Webhooks secret shared with the partner (signs what we "
            "send, verifies its confirmations), e.g. whsec_ followed by base64. Leave empty to "
            "keep the stored secret."
        ),
    )

    endpoint = forms.URLField(
        max_length=200,
        assume_scheme="https",
        help_text="Where its shipments are POSTed (signed JSON, Standard Webhooks).",
    )

    class Meta:
        model = ThirdPartyPartner
        fields = ["location", "name", "endpoint", "countries", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "location" in self.fields:
            field = self.fields["location"]
            field.queryset = Location.objects.filter(  # type: ignore[attr-defined]
                kind=LocationKind.THIRD_PARTY
            ).order_by("code")
            field.help_text = "A 3PL location; its shipments are sent to this partner."

    def clean_secret(self) -> str:
        secret = str(self.cleaned_data.get("secret") or "")
        if not secret:
            if self.instance.pk is None:
                raise forms.ValidationError("A new partner needs a secret.")
            return ""
        problem = partners.secret_problem(secret)
        if problem:
            raise forms.ValidationError(problem)
        return secret

    def clean_countries(self) -> str:
        try:
            return partners.countries_normalise(str(self.cleaned_data.get("countries") or ""))
        except DomainError as exc:
            raise forms.ValidationError(" ".join(exc.errors.get("countries", [str(exc)]))) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # changed_data decides what the service is given: a secret only when one was typed.
        if cleaned.get("secret"):
            if "secret" not in self.changed_data:
                self.changed_data.append("secret")
        elif "secret" in self.changed_data:
            self.changed_data.remove("secret")
        return cleaned


@admin.register(ThirdPartyPartner)
class ThirdPartyPartnerAdmin(ServiceModelAdmin):
    form = ThirdPartyPartnerForm
    secret_fields = ("secret",)
    list_display = ["name", "location", "endpoint", "countries", "is_active", "has_secret"]
    list_select_related = ["location"]
    list_filter = ["is_active"]
    search_fields = ["name", "location__code", "endpoint"]
    readonly_fields = ["has_secret"]
    fieldsets = [
        (None, {"fields": ["location", "name", "is_active", "countries"]}),
        ("Hand-off", {"fields": ["endpoint", "has_secret", "secret"]}),
    ]

    @admin.display(boolean=True, description="Secret stored")
    def has_secret(self, obj: ThirdPartyPartner) -> bool:
        return bool(obj.secret_encrypted)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*self.readonly_fields, "location"] if obj else self.readonly_fields

    def service_create(self, data: dict[str, Any]) -> ThirdPartyPartner:
        return partners.partner_create(**data)

    def service_update(
        self, instance: ThirdPartyPartner, data: dict[str, Any]
    ) -> ThirdPartyPartner:
        return partners.partner_update(partner=instance, data=data)


@admin.action(description="Send to partner again (3PL)", permissions=["transition"])
def send_to_partner_again(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Shipment]
) -> None:
    actor = actor_name(request) or "admin"

    def resend(shipment: Shipment) -> str | tuple[str, int]:
        label = shipment_code(shipment.pk)
        if shipment.location.kind != LocationKind.THIRD_PARTY:
            return (
                f"{label} is left alone: {shipment.location.code} is not a 3PL location.",
                messages.WARNING,
            )
        partners.shipment_partner_resend(shipment=shipment.pk, actor=actor)
        return f"{label} will be sent to the partner of {shipment.location.code} again."

    each_object(
        modeladmin,
        request,
        queryset.select_related("location").order_by("pk"),
        resend,
        failed=lambda shipment, exc: f"{shipment_code(shipment.pk)} not sent again: {exc}",
    )


def _attach_to_shipment_page() -> None:
    """Add the action (and a "needs attention" filter) to the Shipment admin fulfilment
    registered, once."""
    shipment_admin = admin.site._registry.get(Shipment)
    if shipment_admin is None:
        return
    target = cast(Any, shipment_admin)  # this instance only: the class stays as defined
    actions = list(shipment_admin.actions or [])
    if send_to_partner_again not in actions:
        target.actions = [*actions, send_to_partner_again]
    filters = list(shipment_admin.list_filter or [])
    if "needs_attention" not in filters:
        target.list_filter = [*filters, "needs_attention"]


_attach_to_shipment_page()
