"""The staff back office. API-only accounts (the Integrator role) never get into it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest

from oms.roles import INTEGRATOR


def is_api_only(user: Any) -> bool:
    """An integrator account is a machine identity: its token must not open a staff session."""
    return not user.is_superuser and user.groups.filter(name=INTEGRATOR).exists()


class OmsAdminAuthenticationForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if is_api_only(user):
            raise forms.ValidationError(
                "This is an API account (Integrator): it cannot log into the back office.",
                code="api_only",
            )


class OmsAdminSite(admin.AdminSite):
    site_header = "OMS back office"
    site_title = "OMS"
    index_title = "Orders, stock, fulfilment, returns and channels"
    login_form = OmsAdminAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and not is_api_only(request.user)
