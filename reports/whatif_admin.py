"""What-if routing in the back office (Reports section): routing drafts edited like the routing
rules, tried on a past window (a run, replayed by a worker, with its progress bar), the result
side by side (current against draft) with the orders whose decision changed and both
explanations, and the draft's publication. Managers only (reports.manage_routing_drafts).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from fulfilment.admin.explanation import explanation_html
from oms.admin.tools import ToolAdmin, admin_form, show_domain_error
from oms.errors import DomainError
from reports import whatif
from reports.charts import Series, svg_chart
from reports.models import DraftLocation, DraftRule, DraftStatus, RoutingDraft, RunStatus, WhatIfRun


class ManagersOnly:
    """Every page and command needs reports.manage_routing_drafts."""

    def _may(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.has_perm(whatif.MANAGE))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._may(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # drafts are made from the live rules (the "new" screen), runs by a form

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        draft = obj if isinstance(obj, RoutingDraft) else getattr(obj, "draft", None)
        published = draft is not None and draft.status == DraftStatus.PUBLISHED
        return self._may(request) and not published

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj)


class DraftRuleForm(forms.ModelForm):
    class Meta:
        model = DraftRule
        fields = [
            "position",
            "name",
            "is_active",
            "channel",
            "countries",
            "kind",
            "locations",
            "priority",
            "allow_split",
            "max_splits",
            "on_shortage",
        ]

    def clean_countries(self) -> str:
        value, unknown = whatif.country_codes(self.cleaned_data.get("countries", ""))
        if unknown:
            raise forms.ValidationError(f"Not ISO 3166-1 country codes: {', '.join(unknown)}.")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "kind" in cleaned:
            for key, problems in whatif.rule_problems(cleaned).items():
                self.add_error(None if key == "non_field_errors" else key, problems)
        return cleaned


class DraftRuleInline(ManagersOnly, admin.TabularInline):
    model = DraftRule
    form = DraftRuleForm
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj)


class DraftLocationInline(ManagersOnly, admin.TabularInline):
    model = DraftLocation
    fields = ["location", "ships_online", "daily_capacity"]
    readonly_fields = ["location"]
    extra = 0
    can_delete = False
    verbose_name = "location setting"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NewDraftForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What this draft tries.")


class RunForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))


@admin.register(RoutingDraft)
class RoutingDraftAdmin(ManagersOnly, ToolAdmin):
    list_display = ["name", "status", "created_at", "created_by", "published_at", "runs_link"]
    fields = ["name", "status", "created_by", "created_at", "published_at", "published_by"]
    readonly_fields = ["status", "created_by", "created_at", "published_at", "published_by"]
    inlines = [DraftRuleInline, DraftLocationInline]
    change_list_template = "admin/reports/routingdraft/change_list.html"
    change_form_template = "admin/reports/routingdraft/change_form.html"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("new/", view(self.new_view), name="reports_routingdraft_new"),
            path("<int:pk>/try/", view(self.try_view), name="reports_routingdraft_try"),
            path("<int:pk>/publish/", view(self.publish_view), name="reports_routingdraft_publish"),
            *super().get_urls(),
        ]

    @admin.display(description="What-if runs")
    def runs_link(self, obj: RoutingDraft) -> str:
        url = reverse("admin:reports_whatifrun_changelist") + f"?draft__id__exact={obj.pk}"
        return format_html('<a href="{}">Runs</a>', url)

    def _draft(self, request: HttpRequest, pk: int) -> RoutingDraft:
        if not self._may(request):
            raise PermissionDenied
        return get_object_or_404(RoutingDraft, pk=pk)

    def new_view(self, request: HttpRequest) -> HttpResponse:
        if not self._may(request):
            raise PermissionDenied
        form = NewDraftForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            draft = whatif.routing_draft_create(
                name=form.cleaned_data["name"], actor=self.actor(request)
            )
            self.message_user(request, "Draft made from the live routing rules and locations.")
            return HttpResponseRedirect(
                reverse("admin:reports_routingdraft_change", args=[draft.pk])
            )
        context = self.tool_context(
            request,
            "New routing draft",
            adminform=admin_form(form),
            form=form,
            submit="Copy the live routing",
            intro="A draft starts as a copy of the live routing rules and of every active "
            "location's routing settings; change it, try it on past orders, publish it.",
        )
        return TemplateResponse(request, "admin/reports/whatif_form.html", context)

    def try_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        draft = self._draft(request, pk)
        today = timezone.localdate()
        form = RunForm(
            request.POST or None,
            initial={"start": today - dt.timedelta(days=7), "end": today - dt.timedelta(days=1)},
        )
        if request.method == "POST" and form.is_valid():
            try:
                run = whatif.whatif_run_create(
                    draft=draft,
                    start=form.cleaned_data["start"],
                    end=form.cleaned_data["end"],
                    actor=self.actor(request),
                )
            except DomainError as exc:
                show_domain_error(form, exc, {"from": "start", "to": "end"})
            else:
                return HttpResponseRedirect(
                    reverse("admin:reports_whatifrun_change", args=[run.pk])
                )
        context = self.tool_context(
            request,
            f"Try “{draft.name}” on past orders",
            adminform=admin_form(form),
            form=form,
            submit="Replay",
            intro="The orders that arrived in this window are routed again in memory, with the "
            "live rules and with this draft's, on the stock of that time: nothing is written.",
        )
        return TemplateResponse(request, "admin/reports/whatif_form.html", context)

    def publish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        draft = self._draft(request, pk)
        change_url = reverse("admin:reports_routingdraft_change", args=[draft.pk])
        if request.method == "POST":
            try:
                whatif.routing_draft_publish(draft_id=draft.pk, actor=self.actor(request))
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
            else:
                self.message_user(request, f"“{draft.name}” is now the live routing.")
            return HttpResponseRedirect(change_url)
        context = self.tool_context(
            request,
            f"Publish “{draft.name}”",
            draft=draft,
            change_url=change_url,
        )
        return TemplateResponse(request, "admin/reports/whatif_publish.html", context)


@admin.register(WhatIfRun)
class WhatIfRunAdmin(ManagersOnly, ToolAdmin):
    list_display = ["__str__", "draft", "start", "end", "status", "progress", "created_at"]
    list_filter = ["status"]
    list_select_related = ["draft"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Progress")
    def progress(self, obj: WhatIfRun) -> str:
        return f"{obj.percent} %"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if not self._may(request):
            raise PermissionDenied
        run = get_object_or_404(WhatIfRun.objects.select_related("draft"), pk=object_id)
        context = self.tool_context(
            request, f"What-if: “{run.draft.name}”", run=run, **run_page(run)
        )
        return TemplateResponse(request, "admin/reports/whatif_run.html", context)


#: The rows of the comparison: key of the figures, label, whether lower is better.
FIGURES = (
    ("orders", "Orders replayed", None),
    ("shipments", "Shipments", True),
    ("average_distance_km", "Average distance per shipment (km)", True),
    ("shipments_per_order", "Shipments per order", True),
    ("average_delivery_days", "Promised delivery (days, average)", True),
    ("backorders", "Backordered orders", True),
    ("units_short", "Units short", True),
)


def _delta(now: Any, then: Any, lower_better: bool | None) -> tuple[str, str]:
    """The change from current to draft, and whether it is better, worse or the same."""
    if not isinstance(now, int | float) or not isinstance(then, int | float) or now == then:
        return "", "same"
    change = then - now
    text = f"{change:+.2f}".rstrip("0").rstrip(".") if isinstance(change, float) else f"{change:+}"
    if lower_better is None:
        return text, "same"
    return text, "better" if (change < 0) == lower_better else "worse"


def run_page(run: WhatIfRun) -> dict[str, Any]:
    """The result page's context: the figures side by side, the chart of shipments per
    location, the changed orders with both explanations."""
    if run.status != RunStatus.SUCCEEDED:
        return {"done": False, "running": run.status in (RunStatus.QUEUED, RunStatus.RUNNING)}
    result = run.result
    now, then = result["current"], result["draft"]
    rows = []
    for key, label, lower_better in FIGURES:
        change, verdict = _delta(now.get(key), then.get(key), lower_better)
        rows.append((label, _show(now.get(key)), _show(then.get(key)), change, verdict))
    codes = sorted(set(now["shipments_per_location"]) | set(then["shipments_per_location"]))
    per_location = [
        (
            code,
            now["shipments_per_location"].get(code, 0),
            then["shipments_per_location"].get(code, 0),
        )
        for code in codes
    ]
    chart = svg_chart(
        codes,
        [
            Series("Current", [n for _, n, _ in per_location]),
            Series("Draft", [d for _, _, d in per_location]),
        ],
        title="Shipments per location",
    )
    changed = [
        {
            "number": c["number"],
            "url": reverse("admin:orders_order_change", args=[c["order"]]),
            "sides": [
                (
                    name,
                    c[key]["outcome"],
                    ", ".join(f"{code} ({n})" for code, n in c[key]["shipments"].items()) or "-",
                    explanation_html(c[key]["explanation"], compact=True),
                )
                for key, name in (("current", "Current"), ("draft", "Draft"))
            ],
        }
        for c in result["changed"]
    ]
    return {
        "done": True,
        "rows": rows,
        "chart": chart,
        "per_location": per_location,
        "changed": changed,
        "changed_count": result["changed_count"],
    }


def _show(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else str(value)
