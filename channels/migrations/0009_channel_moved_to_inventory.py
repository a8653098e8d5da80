"""The Channel has moved to inventory (inventory 0005): the channels app's foreign keys point
at inventory.Channel and its own copy of the model goes. State only: the table keeps its name
(channels_channel), its rows and its foreign keys.

The data step keeps what hangs on the content type: the row ('channels', 'channel') becomes
('inventory', 'channel'), so the permissions view/add/change/delete_channel (now
"inventory.*_channel"), the groups and users holding them and the admin's log entries stay as
they were. The permission "manage_channel_connections" keeps its name
"channels.manage_channel_connections": it moves to the content type of ChannelConnection, a
model without a table that only declares it; its grants go with it. Both steps do nothing
when there is nothing to move (a new database: the post-migrate handlers create the rows), may
run twice, and run backwards.
"""

import django.db.models.deletion
from django.db import migrations, models

CONNECTIONS = "manage_channel_connections"


def _permission_move(Permission, codename, source, target, alias):
    """Put the permission `codename` of content type `source` on `target`, with its grants."""
    old = Permission.objects.using(alias).filter(content_type=source, codename=codename).first()
    if old is None:
        return
    new = Permission.objects.using(alias).filter(content_type=target, codename=codename).first()
    if new is None:
        old.content_type = target
        old.save(update_fields=["content_type"])
        return
    for group in old.group_set.all():
        group.permissions.add(new)
    for user in old.user_set.all():
        user.user_permissions.add(new)
    old.delete()


def _content_type_move(apps, alias, model, source_app, target_app):
    """The content type (source_app, model) becomes (target_app, model); if both exist, the
    source's permissions (with their grants) and log entries go to the target's."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    types = ContentType.objects.using(alias)
    old = types.filter(app_label=source_app, model=model).first()
    if old is None:
        return
    new = types.filter(app_label=target_app, model=model).first()
    if new is None:
        old.app_label = target_app
        old.save(update_fields=["app_label"])
        return
    for codename in (
        Permission.objects.using(alias).filter(content_type=old).values_list("codename", flat=True)
    ):
        _permission_move(Permission, codename, old, new, alias)
    try:
        LogEntry = apps.get_model("admin", "LogEntry")
    except LookupError:
        pass
    else:
        LogEntry.objects.using(alias).filter(content_type=old).update(content_type=new)
    old.delete()


def _caches_clear():
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


def forwards(apps, schema_editor):
    alias = schema_editor.connection.alias
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    channel = ContentType.objects.using(alias).filter(app_label="channels", model="channel")
    if channel.exists():
        connection, _ = ContentType.objects.using(alias).get_or_create(
            app_label="channels", model="channelconnection"
        )
        _permission_move(Permission, CONNECTIONS, channel.get(), connection, alias)
    _content_type_move(apps, alias, "channel", "channels", "inventory")
    _caches_clear()


def backwards(apps, schema_editor):
    alias = schema_editor.connection.alias
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    _content_type_move(apps, alias, "channel", "inventory", "channels")
    types = ContentType.objects.using(alias)
    channel = types.filter(app_label="channels", model="channel").first()
    connection = types.filter(app_label="channels", model="channelconnection").first()
    if channel is not None and connection is not None:
        _permission_move(Permission, CONNECTIONS, connection, channel, alias)
    if connection is not None:
        connection.delete()
    _caches_clear()


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0008_webhook_nul_stripped"),
        ("inventory", "0005_channel"),
        # Every foreign key to channels.Channel points at inventory.Channel before it goes.
        ("orders", "0006_channel_in_inventory"),
        ("fulfilment", "0004_channel_in_inventory"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="channelorderstate",
                    name="channel",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="inventory.channel",
                    ),
                ),
                migrations.AlterField(
                    model_name="channelstockchange",
                    name="channel",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="stock_changes",
                        to="inventory.channel",
                    ),
                ),
                migrations.AlterField(
                    model_name="channelwebhookdelivery",
                    name="channel",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="webhooks",
                        to="inventory.channel",
                    ),
                ),
                migrations.AlterField(
                    model_name="channellisting",
                    name="channel",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="listings",
                        to="inventory.channel",
                    ),
                ),
                migrations.AlterField(
                    model_name="channelsyncfailure",
                    name="channel",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="inventory.channel",
                    ),
                ),
                migrations.AlterField(
                    model_name="channelsyncrun",
                    name="channel",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="sync_runs",
                        to="inventory.channel",
                    ),
                ),
                migrations.AlterField(
                    model_name="channelpush",
                    name="channel",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="pushes",
                        to="inventory.channel",
                    ),
                ),
                migrations.DeleteModel(
                    name="Channel",
                ),
            ],
            database_operations=[],
        ),
        migrations.CreateModel(
            name="ChannelConnection",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
            ],
            options={
                "permissions": [
                    (
                        "manage_channel_connections",
                        "Can manage channel credentials and connections (syncs, stock pushes)",
                    )
                ],
                "managed": False,
                "default_permissions": (),
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
