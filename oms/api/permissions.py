"""Who may call what: Django model permissions, plus the permissions of commands.

Invariants: every request needs the model permission of its method (`view` to read, `add` to
POST a collection, `change` to PATCH or POST a command on one object); a command that pays money
back or touches a channel's connection needs its own permission as well (oms.roles:
REFUND_ORDERS, MANAGE_CHANNEL_CONNECTIONS), checked before the body is validated, so a denied
request is 403 problem JSON and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    """Django model permissions of the user's groups.

    Reading needs the `view` permission; a POST command on one object (`/orders/{id}/cancel/`)
    needs `change`, a POST to a collection needs `add`.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method == "POST" and getattr(view, "detail", False):
            if not request.user or not request.user.is_authenticated:
                return False
            queryset = self._queryset(view)
            perms = self.get_required_permissions("PATCH", queryset.model)
            return bool(request.user.has_perms(perms))
        return bool(super().has_permission(request, view))


class _Requires(BasePermission):
    perms: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()

    def _allowed(self, request: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perms(self.perms))

    @staticmethod
    def _body(request: Any) -> Mapping[str, Any]:
        data = request.data  # parsed once by DRF; a body that is not an object names no field
        return data if isinstance(data, Mapping) else {}

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        conditional = bool(self.fields or self.changes)
        if conditional and not any(name in self._body(request) for name in self.fields):
            return True  # `changes` are judged against the object (has_object_permission)
        return self._allowed(request)

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        if request.method in SAFE_METHODS or not self.changes:
            return True
        body = self._body(request)
        changed = [
            name for name in self.changes if name in body and body[name] != getattr(obj, name)
        ]
        return not changed or self._allowed(request)


def RequiresPermission(
    *perms: str, fields: tuple[str, ...] = (), changes: tuple[str, ...] = ()
) -> type[BasePermission]:
    """A DRF permission class: a write needs every one of `perms` ("app_label.codename").

    Without `fields` and `changes` every write needs them (compose it with ModelPermissions, e.g.
    `@action(..., permission_classes=[ModelPermissions, RequiresPermission(REFUND_ORDERS)])`).
    With them, only a body naming one of `fields` (a channel's `credentials`), or giving one of
    `changes` a value other than the object's (a channel's `is_active`), needs them.
    """
    name = "Requires_" + "_".join(p.replace(".", "_") for p in perms)
    return type(
        name,
        (_Requires,),
        {
            "perms": tuple(perms),
            "fields": tuple(fields),
            "changes": tuple(changes),
            "message": f"This needs the permission {', '.join(perms)}.",
        },
    )
