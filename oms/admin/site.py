"""The staff back office. API-only accounts (the Integrator role) never get into it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest

from oms.roles import INTEGRATOR

#: The back office's apps in the order of the work; any other comes after them.
APP_ORDER = (
    "orders",
    "fulfilment",
    "inventory",
    "returns",
    "subscriptions",
    "channels",
    "webhooks",
    "reports",
    "your_work",
    "oms",
    "auth",
    "authtoken",
)
#: Apps whose pages the navigation shows in another app's section: django-money's stored rates
#: (read-only) beside the rate overrides, so rates are in one place (Orders).
APP_MERGED_INTO = {"exchange": "orders"}


def your_work_app() -> dict[str, Any]:
    """The navigation's "Your work" section: the person's background jobs (CSV imports and
    exports), which every staff member has and which no model's admin lists."""
    from django.urls import reverse

    url = reverse("admin:oms_jobs")
    return {
        "name": "Your work",
        "app_label": "your_work",
        "app_url": url,
        "has_module_perms": True,
        "models": [
            {
                "name": "Your background jobs",
                "object_name": "BackgroundJob",
                "admin_url": url,
                "add_url": None,
                "view_only": True,
                "perms": {"view": True},
            }
        ],
    }


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
    index_template = "admin/oms/home.html"

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and not is_api_only(request.user)

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """The operations home (oms.admin.home) above the list of every app's pages."""
        from oms.admin.home import home_context

        return super().index(request, {**home_context(request), **(extra_context or {})})

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[Any]:
        """The apps in the order of the work (orders first), the accounts and the kernel's
        plumbing last, instead of alphabetically; the person's own work (background jobs)
        before the kernel's; django-money's stored rates inside Orders (APP_MERGED_INTO)."""
        apps = super().get_app_list(request, app_label)
        by_label = {app["app_label"]: app for app in apps}
        for label, into in APP_MERGED_INTO.items():
            if label in by_label and into in by_label:
                by_label[into]["models"].extend(by_label.pop(label)["models"])
                by_label[into]["models"].sort(key=lambda model: model["name"])
        if app_label is None:
            by_label["your_work"] = your_work_app()
        rank = {label: n for n, label in enumerate(APP_ORDER)}
        return sorted(
            by_label.values(), key=lambda app: (rank.get(app["app_label"], len(rank)), app["name"])
        )

    def get_urls(self) -> list[Any]:
        """The kernel's pages of every list: background jobs and saved filters."""
        from django.urls import path

        from oms.admin import jobs, saved_filters

        wrap = self.admin_view
        return [
            path("jobs/", wrap(jobs.jobs_view), name="oms_jobs"),
            path("jobs/<int:job_id>/", wrap(jobs.job_view), name="oms_job"),
            path("jobs/<int:job_id>/status", wrap(jobs.job_status_view), name="oms_job_status"),
            path("jobs/<int:job_id>/cancel", wrap(jobs.job_cancel_view), name="oms_job_cancel"),
            path(
                "jobs/<int:job_id>/download",
                wrap(jobs.job_download_view),
                name="oms_job_download",
            ),
            path("saved-filters/", wrap(saved_filters.save_view), name="oms_saved_filter_save"),
            path(
                "saved-filters/<int:filter_id>/delete/",
                wrap(saved_filters.delete_view),
                name="oms_saved_filter_delete",
            ),
            *super().get_urls(),
        ]
