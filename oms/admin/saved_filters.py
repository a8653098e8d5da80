"""Saved filters: a person names the current view of an admin list (its querystring: filters,
search, ordering, date drill-down) and finds it again on that list; each is theirs alone.

Invariants: a filter is saved only for a list the person may see, under a name of at most 80
characters, and a name saved again on the same list replaces the querystring it had; only its
owner lists or deletes it; bad input is a 400 that saves nothing. The page number is not kept.

URLs (wired in oms.admin.site.OmsAdminSite.get_urls, behind admin_view, POST only):
`saved-filters/` -> save_view, `saved-filters/<id>/delete/` -> delete_view.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from oms.models import SavedFilter

#: Parameters of a list that are not a filter (the page, a popup, the error flag).
NOT_KEPT = {"p", "e", "_popup", "_to_field"}


def _changelist_url(list_key: str) -> str:
    app_label, model_name = list_key.split(".", 1)
    return reverse(f"admin:{app_label}_{model_name}_changelist")


def kept_query(query: str) -> str:
    """The querystring without what is not a filter."""
    pairs = [(k, v) for k, v in parse_qsl(query.lstrip("?"), keep_blank_values=True)]
    return urlencode([(k, v) for k, v in pairs if k not in NOT_KEPT])


def saved_filters_context(request: HttpRequest, opts: Any) -> dict[str, Any]:
    """The saved filters of this list for the list's page (one query)."""
    list_key = opts.label_lower
    user_id = int(request.user.pk or 0)
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    current = kept_query(request.GET.urlencode())
    saved = [
        {
            "name": saved.name,
            "url": f"{url}?{saved.querystring}" if saved.querystring else url,
            "delete_url": reverse("admin:oms_saved_filter_delete", args=[saved.pk]),
            "current": saved.querystring == current,
        }
        for saved in SavedFilter.objects.filter(user_id=user_id, list_key=list_key)
    ]
    return {
        "saved_filters": saved,
        "saved_filter_save_url": reverse("admin:oms_saved_filter_save"),
        "saved_filter_list_key": list_key,
        "saved_filter_query": current,
    }


class SaveFilterForm(forms.Form):
    list_key = forms.CharField(max_length=100)
    name = forms.CharField(max_length=80, strip=True)
    querystring = forms.CharField(max_length=2000, required=False, strip=True)

    def __init__(self, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_list_key(self) -> str:
        key = self.cleaned_data["list_key"]
        try:
            model = apps.get_model(key)
        except (LookupError, ValueError):
            raise forms.ValidationError("No such list.") from None
        model_admin = admin.site._registry.get(model)
        if model_admin is None or not model_admin.has_view_permission(self.request):
            raise forms.ValidationError("No such list.")
        try:
            _changelist_url(key)
        except NoReverseMatch:
            raise forms.ValidationError("No such list.") from None
        return str(model._meta.label_lower)

    def clean_querystring(self) -> str:
        return kept_query(self.cleaned_data["querystring"])


@require_POST
def save_view(request: HttpRequest) -> HttpResponse:
    form = SaveFilterForm(request.POST, request=request)
    if not form.is_valid():
        errors = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items())
        return HttpResponseBadRequest(
            f"The filter was not saved: {errors}", content_type="text/plain; charset=utf-8"
        )
    data = form.cleaned_data
    SavedFilter.objects.update_or_create(
        user_id=int(request.user.pk or 0),
        list_key=data["list_key"],
        name=data["name"],
        defaults={"querystring": data["querystring"]},
    )
    messages.success(request, f"Saved the filter “{data['name']}”.")
    url = _changelist_url(data["list_key"])
    return HttpResponseRedirect(f"{url}?{data['querystring']}" if data["querystring"] else url)


@require_POST
def delete_view(request: HttpRequest, filter_id: int) -> HttpResponse:
    saved = get_object_or_404(SavedFilter, pk=filter_id, user_id=int(request.user.pk or 0))
    saved.delete()
    messages.success(request, f"Deleted the saved filter “{saved.name}”.")
    return HttpResponseRedirect(_changelist_url(saved.list_key))
