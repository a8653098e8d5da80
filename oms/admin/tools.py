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
from django.http import HttpRequest
from django.urls import reverse

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


class ToolAdmin(admin.ModelAdmin):
    """A ModelAdmin with custom screens or actions that call services."""

    def actor(self, request: HttpRequest) -> str:
        return actor_name(request)

    def tool_context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return tool_context(self, request, title, **extra)

    def has_transition_permission(self, request: HttpRequest) -> bool:
        """May run the commands (actions with permissions=["transition"], tool screens): the
        model's change permission, even where the page itself is read-only."""
        opts = self.opts
        return bool(request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}"))

    def each_object(
        self,
        request: HttpRequest,
        objects: Iterable[T],
        do: Callable[[T], str | tuple[str, int] | None],
        *,
        failed: Callable[[T, DomainError], str],
        failed_level: int = messages.ERROR,
        done_level: int = messages.SUCCESS,
    ) -> int:
        """Run `do` on each object, one service call each: what it returns is that object's
        message (with its level, else `done_level`; None: no message); a DomainError is the
        message `failed` writes, and the others go on. Returns how many succeeded."""
        done = 0
        for obj in objects:
            try:
                text = do(obj)
            except DomainError as exc:
                self.message_user(request, failed(obj, exc), failed_level)
                continue
            done += 1
            if isinstance(text, tuple):
                self.message_user(request, text[0], text[1])
            elif text:
                self.message_user(request, text, done_level)
        return done
