from typing import Any

from rest_framework.permissions import DjangoModelPermissions


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
