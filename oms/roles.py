"""Staff roles as Django groups with model permissions.

The table below is the definition; `roles_sync` grants what it lists (it only adds, so a
merchant's extra grants survive). It runs in a data migration and again after every `migrate`,
so the models that later migrations add get their permissions without another data migration.

- Manager: everything in the OMS apps, the API tokens of users, and retrying outbox messages;
  refunds orders, manages channel connections, exports and erases customers' personal data
  (orders.manage_personal_data), makes routing drafts, replays them on past orders and
  publishes them (reports.manage_routing_drafts: the what-if of the Reports section).
- Warehouse: sees everything; works stock, fulfilment and returns; cannot change channels; never
  refunds (it receives returns, customer care or a manager pays them back).
- Customer care: sees everything; changes orders and returns; refunds orders (as Shopify's staff
  with "Refund orders" do: care handles the appeasements and the returns' money).
- Integrator: the API account of another system; reads and writes the OMS apps but never deletes,
  never refunds and never touches a channel's connection (credentials, connector, on/off, syncs,
  stock pushes), and cannot log into the admin (see OmsAdminSite). It manages webhook
  endpoints (creates, changes, rotates, disables) but, as everywhere, deletes none.

Webhooks: managers manage endpoints (and delete them); warehouse and customer care see
endpoints, deliveries and events (never a secret: no page or answer carries one after the one
that created it).

Two permissions are not about a model's rows but about what a user may command (as Shopify and
Saleor split them): REFUND_ORDERS (money goes back to a shopper) and MANAGE_CHANNEL_CONNECTIONS
(a channel's secrets, its connector, whether it is connected, and the syncs and stock pushes it
runs). `change` on a refund's return or on a channel never implies them; PERMISSIONS grants them.
A cancellation by someone allowed to cancel still refunds what was paid: that refund is the
system's duty (returns.services.refund_for_cancellation), not the user's command.
"""

from __future__ import annotations

from typing import Any

MANAGER = "Manager"
WAREHOUSE = "Warehouse"
CUSTOMER_CARE = "Customer care"
INTEGRATOR = "Integrator"

OMS_APPS = ("inventory", "orders", "fulfilment", "returns", "subscriptions", "channels", "webhooks")
ALL = ("view", "add", "change", "delete")
READ = ("view",)
WRITE = ("view", "add", "change")

#: Custom permissions ("app_label.codename"), declared in the models' Meta.permissions.
REFUND_ORDERS = "returns.refund_orders"
MANAGE_CHANNEL_CONNECTIONS = "channels.manage_channel_connections"
MANAGE_PERSONAL_DATA = "orders.manage_personal_data"
#: Make routing drafts, replay them on past orders (what-if) and publish them (the live rules).
MANAGE_ROUTING_DRAFTS = "reports.manage_routing_drafts"

# role -> {app_label or "app_label.model": actions}; a model's entry overrides its app's.
ROLES: dict[str, dict[str, tuple[str, ...]]] = {
    MANAGER: {**dict.fromkeys(OMS_APPS, ALL), "authtoken": ALL, "oms": ("view", "change")},
    WAREHOUSE: {
        "oms": READ,
        "inventory": WRITE,
        # The Channel lives in inventory (so orders can point at it) but the warehouse never
        # changes channels, as when it lived in the channels app.
        "inventory.channel": READ,
        # Prices are the merchant's (managers and integrations), not the warehouse's.
        "inventory.skuprice": READ,
        "orders": READ,
        "fulfilment": WRITE,
        "returns": WRITE,
        "subscriptions": READ,
        "channels": READ,
        "webhooks": READ,
    },
    CUSTOMER_CARE: {
        "oms": READ,
        "inventory": READ,
        "orders": WRITE,
        "fulfilment": READ,
        "returns": WRITE,
        "subscriptions": WRITE,
        "channels": READ,
        "webhooks": READ,
    },
    INTEGRATOR: dict.fromkeys(OMS_APPS, WRITE),
}

# role -> the custom permissions it has besides its model actions (the Integrator has none).
PERMISSIONS: dict[str, tuple[str, ...]] = {
    MANAGER: (
        REFUND_ORDERS,
        MANAGE_CHANNEL_CONNECTIONS,
        MANAGE_PERSONAL_DATA,
        MANAGE_ROUTING_DRAFTS,
    ),
    WAREHOUSE: (),
    CUSTOMER_CARE: (REFUND_ORDERS,),
    INTEGRATOR: (),
}
#: The codenames of custom permissions: never granted by an action prefix such as "manage".
CUSTOM_CODENAMES = {
    name.split(".", 1)[1]
    for name in (
        REFUND_ORDERS,
        MANAGE_CHANNEL_CONNECTIONS,
        MANAGE_PERSONAL_DATA,
        MANAGE_ROUTING_DRAFTS,
    )
}


def actions_of(grants: dict[str, tuple[str, ...]], content_type: Any) -> tuple[str, ...]:
    """The actions `grants` (a role's) gives on the model of `content_type`."""
    app = content_type.app_label
    return grants.get(f"{app}.{content_type.model}", grants.get(app, ()))


def roles_sync(apps: Any) -> None:
    """Create the role groups and grant the permissions of ROLES (using `apps`' models)."""
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    permissions = list(
        permission_model.objects.filter(
            content_type__app_label__in={
                key.split(".", 1)[0] for grants in ROLES.values() for key in grants
            }
            | {name.split(".", 1)[0] for names in PERMISSIONS.values() for name in names}
        ).select_related("content_type")
    )
    for role, grants in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=role)
        custom = set(PERMISSIONS.get(role, ()))
        wanted = [
            p
            for p in permissions
            if f"{p.content_type.app_label}.{p.codename}" in custom
            or (
                p.codename not in CUSTOM_CODENAMES
                and p.codename.split("_", 1)[0] in actions_of(grants, p.content_type)
            )
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
