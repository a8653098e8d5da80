"""ModelAdmins whose add and change forms write through services.

Invariants: the admin never saves a domain model itself; the form validates, the service writes.
A secret (`secret_fields`: channel credentials, a 3PL partner's signing secret) is write-only:
its input is always empty, it is on the page and in the form only for a user who may replace it
(so a view-only page never renders it, not even as a read-only value), and it is kept out of
error reports (sensitive POST parameters). Pages say whether a secret is set, never its value.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.views.decorators.debug import sensitive_post_parameters

from oms.admin.rows import QuickRows


class ServiceModelAdmin(QuickRows, admin.ModelAdmin):
    """Subclasses implement `service_create(data)` and `service_update(instance, data)`.

    `data` holds the cleaned form fields (on change: only those that changed), many-to-many
    fields included, so the service sets relations in its own transaction.
    """

    #: Write-only form fields holding secrets (declared on the form, never model fields).
    secret_fields: tuple[str, ...] = ()

    def has_secret_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """May replace or clear the secrets (subclasses add a permission of their own)."""
        if obj is None:
            return bool(self.has_add_permission(request))
        return bool(self.has_change_permission(request, obj))

    def _hidden_secrets(self, request: HttpRequest, obj: Any) -> set[str]:
        if not self.secret_fields:
            return set()
        # The page of a user who may not change the object shows every field read-only: a
        # secret's input must not be among them (a read-only field renders the model's value).
        may_write = (
            self.has_change_permission(request, obj)
            if obj is not None
            else self.has_add_permission(request)
        )
        if may_write and self.has_secret_permission(request, obj):
            return set()
        return set(self.secret_fields)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        hidden = self._hidden_secrets(request, obj)
        if not hidden:
            return fieldsets
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for name, options in fieldsets
        ]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        hidden = self._hidden_secrets(request, obj)
        if hidden:
            form = type(form.__name__, (form,), {"__module__": form.__module__})
            for name in hidden:
                form.base_fields.pop(name, None)
        return form

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        view = super().changeform_view
        if self.secret_fields:
            view = sensitive_post_parameters(*self.secret_fields)(view)
        return view(request, object_id, form_url, extra_context)

    def service_create(self, data: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def service_update(self, instance: Any, data: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def form_data(self, form: ModelForm, *, change: bool) -> dict[str, Any]:
        names = form.changed_data if change else list(form.cleaned_data)
        model_fields = {f.name for f in self.model._meta.get_fields()} | set(
            getattr(form, "service_fields", ())
        )
        return {n: form.cleaned_data[n] for n in names if n in model_fields}

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        data = self.form_data(form, change=change)
        if change:
            # The form already copied its values onto `obj`: the service starts from the row.
            saved = self.service_update(type(obj)._default_manager.get(pk=obj.pk), data)
        else:
            saved = self.service_create(data)
        # The admin goes on with `obj` (log entry, redirect): make it the saved row.
        obj.pk = saved.pk
        obj._state.adding = False
        obj._state.db = saved._state.db
        obj.refresh_from_db()

    def save_related(
        self, request: HttpRequest, form: ModelForm, formsets: Any, change: bool
    ) -> None:
        # Many-to-many fields were set by the service; inline formsets still save here.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
