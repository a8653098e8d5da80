"""The staff back office. API-only accounts (the Integrator role) never get into it."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from oms.roles import INTEGRATOR


class OmsAdminSite(admin.AdminSite):
    site_header = "OMS back office"
    site_title = "OMS"
    index_title = "Orders, stock, fulfilment, returns and channels"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not super().has_permission(request):
            return False
        if user.is_superuser:
            return True
        # An integrator account is a machine identity: its token must not open a staff session.
        return not user.groups.filter(name=INTEGRATOR).exists()
