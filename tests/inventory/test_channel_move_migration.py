"""The Channel's move from channels to inventory (issue 15) keeps an existing database whole:
its rows, its locations, the orders pointing at it, and what hangs on its content type (the
grants of view/change_channel and of "manage channel connections", the admin's log entries).
And it runs backwards."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("inventory", "0004_stock_bin"),
    ("orders", "0005_privacy_requests"),
    ("fulfilment", "0003_webhook_nul_stripped"),
    ("channels", "0008_webhook_nul_stripped"),
]
AFTER = [("channels", "0009_channel_moved_to_inventory")]
#: The apps whose models the test reads besides the pillar apps'.
FRAMEWORK = [
    ("contenttypes", "0002_remove_content_type_name"),
    ("auth", "0012_alter_user_first_name_max_length"),
    ("admin", "0003_logentry_add_action_flag_choices"),
]


def migrated(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state([*targets, *FRAMEWORK]).apps


def grants(apps, user_id):
    user = apps.get_model("auth", "User").objects.get(pk=user_id)
    return sorted(f"{p.content_type.app_label}.{p.codename}" for p in user.user_permissions.all())


@pytest.mark.django_db(transaction=True)
def test_an_existing_database_keeps_its_channels_and_grants_through_the_move():
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old = migrated(BEFORE)
    content_type = old.get_model("contenttypes", "ContentType")
    permission = old.get_model("auth", "Permission")
    channel_type, _ = content_type.objects.get_or_create(app_label="channels", model="channel")
    for codename in ("change_channel", "manage_channel_connections"):
        permission.objects.get_or_create(
            content_type=channel_type, codename=codename, defaults={"name": codename}
        )
    location = old.get_model("inventory", "Location").objects.create(
        code="WH", name="Warehouse", kind="warehouse", country="DE"
    )
    channel = old.get_model("channels", "Channel").objects.create(
        code="shop", name="Shop", kind="shopify", currency="EUR"
    )
    channel.locations.add(location)
    order = old.get_model("orders", "Order").objects.create(
        channel_id=channel.pk, external_id="E1", currency="EUR"
    )
    user = old.get_model("auth", "User").objects.create(username="kept")
    user.user_permissions.add(
        *permission.objects.filter(
            content_type=channel_type,
            codename__in=["change_channel", "manage_channel_connections"],
        )
    )
    entry = old.get_model("admin", "LogEntry").objects.create(
        user_id=user.pk, content_type=channel_type, object_id=str(channel.pk), action_flag=2
    )

    new = migrated(AFTER)
    moved = new.get_model("inventory", "Channel").objects.get(pk=channel.pk)
    assert (moved.code, [loc.code for loc in moved.locations.all()]) == ("shop", ["WH"])
    assert new.get_model("orders", "Order").objects.get(pk=order.pk).channel_id == channel.pk
    assert grants(new, user.pk) == [
        "channels.manage_channel_connections",
        "inventory.change_channel",
    ]
    entry_type = new.get_model("admin", "LogEntry").objects.get(pk=entry.pk).content_type
    assert (entry_type.app_label, entry_type.model) == ("inventory", "channel")
    types = new.get_model("contenttypes", "ContentType").objects
    assert not types.filter(app_label="channels", model="channel").exists()

    back = migrated(BEFORE)
    assert grants(back, user.pk) == [
        "channels.change_channel",
        "channels.manage_channel_connections",
    ]
    assert back.get_model("channels", "Channel").objects.get(pk=channel.pk).code == "shop"

    again = migrated(leaves)  # and forwards once more: nothing doubled, nothing lost
    assert grants(again, user.pk) == [
        "channels.manage_channel_connections",
        "inventory.change_channel",
    ]
