"""The base of the back office's custom screens and actions (pack, receive, adjust, transfer ...).

What every one of them did for itself: who is acting (the user's name goes on the ledger, the
timeline and the events), a plain form laid out like an admin change form, a `DomainError`
shown on the form that caused it, one message per selected object (an action goes on with the
others when one fails), and the context of the one tool template `admin/oms/tool.html` (the
admin's look, breadcrumbs back to the list).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core import signing
from django.http import HttpRequest
from django.urls import reverse

from oms.admin.rows import QuickRows
from oms.errors import DomainError

T = TypeVar("T")


def actor_name(request: HttpRequest) -> str:
    """Who is acting: the name written on movements, timelines and events."""
    return request.user.get_username()


def admin_form(form: forms.BaseForm, name: str | None = None) -> helpers.AdminForm:
    """A plain form laid out like an admin change form (one fieldset, every field)."""
    return helpers.AdminForm(
        cast(Any, form), [(name, {"fields": list(form.fields)})], prepopulated_fields={}
    )


def show_domain_error(
    form: forms.BaseForm, exc: DomainError, fields: Mapping[str, str] | None = None
) -> None:
    """A DomainError on a form: its detail on top, its field errors on the fields they name
    (`fields` maps the service's names to the form's)."""
    form.add_error(None, exc.detail)
    for key, msgs in exc.errors.items():
        name = (fields or {}).get(key, key)
        form.add_error(name if name in form.fields else None, [str(m) for m in msgs])


def tool_context(
    model_admin: admin.ModelAdmin, request: HttpRequest, title: str, **extra: Any
) -> dict[str, Any]:
    """The context of a tool page of `model_admin`: the admin's, its options, the title and the
    list it belongs to (`changelist_url`, which `extra` may name otherwise)."""
    opts = model_admin.opts
    return {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": title,
        "changelist_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        **extra,
    }


def each_object(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    objects: Iterable[T],
    do: Callable[[T], str | tuple[str, int] | None],
    *,
    failed: Callable[[T, DomainError], str],
    failed_level: int = messages.ERROR,
    done_level: int = messages.SUCCESS,
) -> int:
    """Run `do` on each object, one service call each: what it returns is that object's message
    (with its level, else `done_level`; None: no message); a DomainError is the message `failed`
    writes, and the others go on. Returns how many succeeded."""
    done = 0
    for obj in objects:
        try:
            text = do(obj)
        except DomainError as exc:
            model_admin.message_user(request, failed(obj, exc), failed_level)
            continue
        done += 1
        if isinstance(text, tuple):
            model_admin.message_user(request, text[0], text[1])
        elif text:
            model_admin.message_user(request, text, done_level)
    return done


def action_confirmation(
    request: HttpRequest, action: str, pks: Iterable[Any], *, yes: str
) -> dict[str, Any]:
    """The confirmation form of a list action (admin/oms/includes/action_confirmation.html):
    what it posts back to run the action (the selected rows, the action's name, whether every
    row was selected, post=yes) and its button (`yes`); "No" goes back to the list."""
    return {
        "yes": yes,
        "selected": list(pks),
        "action_name": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "select_across": request.POST.get("select_across", "0"),
    }


def signed_preview(token: str, *, salt: str, max_age: int) -> Any:
    """What a preview page signed (a file to import, its digest), or a form error saying to
    upload the file again: the preview is confirmed by a later request."""
    try:
        return signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired:
        raise forms.ValidationError("This preview expired: upload the file again.") from None
    except signing.BadSignature:
        raise forms.ValidationError("This preview is not valid: upload the file again.") from None


class ToolAdmin(QuickRows, admin.ModelAdmin):
    """A ModelAdmin with custom screens or actions that call services (its actions report
    with `each_object(self, ...)`)."""

    def actor(self, request: HttpRequest) -> str:
        return actor_name(request)

    def tool_context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return tool_context(self, request, title, **extra)

    def has_transition_permission(self, request: HttpRequest) -> bool:
        """May run the commands (actions with permissions=["transition"], tool screens): the
        model's change permission, even where the page itself is read-only."""
        opts = self.opts
        return bool(request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}"))
