"""Staff roles as Django groups with model permissions.

The table below is the definition; `roles_sync` grants what it lists (it only adds, so a
merchant's extra grants survive). It runs in a data migration and again after every `migrate`,
so the models that later migrations add get their permissions without another data migration.

- Manager: everything in the OMS apps, the API tokens of users, retrying outbox messages, and
  exporting and erasing customers' personal data (orders.manage_personal_data).
- Warehouse: sees everything; works stock, fulfilment and returns; cannot change channels.
- Customer care: sees everything; changes orders and returns.
- Integrator: the API account of another system; reads and writes the OMS apps but never deletes,
  and cannot log into the admin (see OmsAdminSite).
"""

from __future__ import annotations

from typing import Any

MANAGER = "Manager"
WAREHOUSE = "Warehouse"
CUSTOMER_CARE = "Customer care"
INTEGRATOR = "Integrator"

OMS_APPS = ("inventory", "orders", "fulfilment", "returns", "channels")
ALL = ("view", "add", "change", "delete")
READ = ("view",)
WRITE = ("view", "add", "change")

# role -> {app_label: actions}
ROLES: dict[str, dict[str, tuple[str, ...]]] = {
    MANAGER: {**dict.fromkeys(OMS_APPS, ALL), "authtoken": ALL, "oms": ("view", "change")},
    WAREHOUSE: {
        "oms": READ,
        "inventory": WRITE,
        "orders": READ,
        "fulfilment": WRITE,
        "returns": WRITE,
        "channels": READ,
    },
    CUSTOMER_CARE: {
        "oms": READ,
        "inventory": READ,
        "orders": WRITE,
        "fulfilment": READ,
        "returns": WRITE,
        "channels": READ,
    },
    INTEGRATOR: dict.fromkeys(OMS_APPS, WRITE),
}
# role -> permissions beyond view/add/change/delete ("app_label.codename").
EXTRA: dict[str, tuple[str, ...]] = {
    MANAGER: ("orders.manage_personal_data",),
}


def roles_sync(apps: Any) -> None:
    """Create the role groups and grant the permissions of ROLES (using `apps`' models)."""
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    permissions = list(
        permission_model.objects.filter(
            content_type__app_label__in={app for grants in ROLES.values() for app in grants}
        ).select_related("content_type")
    )
    for role, grants in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=role)
        extra = EXTRA.get(role, ())
        wanted = [
            p
            for p in permissions
            if p.codename.split("_", 1)[0] in grants.get(p.content_type.app_label, ())
            or f"{p.content_type.app_label}.{p.codename}" in extra
        ]
        group.permissions.add(*wanted)


def roles_sync_after_migrate(sender: Any, apps: Any = None, **kwargs: Any) -> None:
    # Run once per migrate, for the last installed app: by then every app's post_migrate
    # handlers (which create the permissions) have run.
    from django.apps import apps as installed

    if apps is None or sender.label != list(installed.get_app_configs())[-1].label:
        return
    try:
        apps.get_model("auth", "Group")
    except LookupError:
        return
    roles_sync(apps)
