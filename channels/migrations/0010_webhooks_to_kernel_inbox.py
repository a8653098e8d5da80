"""The channels' webhook deliveries move to the kernel's inbox (oms.InboundWebhook, issue 15):
every row is copied and ChannelWebhookDelivery goes.

A row becomes kind channel, source the channel's code, channel_id its channel's id, with its
status, attempts, claim, error and times. Its id moves past the ids already in the kernel's
table (fulfilment 0005 filled it first, keeping its own): new id = old id + the largest id
there (0 when it is empty). The outbox messages that name the old ids (task
channels.webhook_process, still registered; in every state) are rewritten to the new ones,
their dedupe keys too, so queued work processes the same deliveries after the upgrade. The id sequence is moved
past the rows (PostgreSQL). The grants of view/add/change/delete_channelwebhookdelivery go to
the kernel's model (view/add/change/delete_inboundwebhook) with their groups and users, and so
do the admin's log entries (their object ids moved).

Backwards, the rows of kind channel whose channel still exists go back with their (new) ids,
the kernel's task messages naming them become channels.webhook_process messages again, and the
holders of the kernel model's permissions get the old ones.
"""

from django.db import migrations

from oms.inbox_migration import (
    batches,
    id_offset,
    outbox_ids_remap,
    outbox_task_rename,
    permissions_move,
    sequence_reset,
)

OLD_TASK, OLD_KEY = "channels.webhook_process", "delivery_id"
INBOX_TASK, INBOX_KEY = "oms.inbox_process", "inbox_id"


def forwards(apps, schema_editor):
    alias = schema_editor.connection.alias
    old_model = apps.get_model("channels", "ChannelWebhookDelivery")
    inbox_model = apps.get_model("oms", "InboundWebhook")
    offset = id_offset(inbox_model, alias)
    moved: set[int] = set()
    rows = old_model.objects.using(alias).select_related("channel").order_by("pk")
    for batch in batches(rows.iterator(chunk_size=1000)):
        inbox_model.objects.using(alias).bulk_create(
            [
                inbox_model(
                    id=old.pk + offset,
                    kind="channel",
                    source=old.channel.code,
                    channel_id=old.channel_id,
                    delivery_id=old.delivery_id,
                    topic=old.topic,
                    payload=old.payload,
                    nul_stripped=old.nul_stripped,
                    status=old.status,
                    attempts=old.attempts,
                    error=old.error,
                    claimed_until=old.claimed_until,
                    claimed_by=old.claimed_by,
                    received_at=old.received_at,
                    processed_at=old.processed_at,
                )
                for old in batch
            ]
        )
        moved.update(old.pk for old in batch)
    sequence_reset(schema_editor, inbox_model)
    if offset:
        outbox_ids_remap(
            apps,
            alias,
            task=OLD_TASK,
            key=OLD_KEY,
            remap=lambda pk: pk + offset if pk in moved else None,
        )
    permissions_move(
        apps,
        alias,
        source=("channels", "channelwebhookdelivery"),
        target=("oms", "inboundwebhook"),
        verbose_name="inbound webhook",
        object_id=lambda pk: str(int(pk) + offset) if pk.isdigit() else pk,
    )


def backwards(apps, schema_editor):
    alias = schema_editor.connection.alias
    old_model = apps.get_model("channels", "ChannelWebhookDelivery")
    inbox_model = apps.get_model("oms", "InboundWebhook")
    channels = set(
        apps.get_model("inventory", "Channel").objects.using(alias).values_list("pk", flat=True)
    )
    rows = inbox_model.objects.using(alias).filter(kind="channel")
    ids: set[int] = set()
    received_at = old_model._meta.get_field("received_at")
    received_at.auto_now_add = False  # the rows keep their time (this historical model only)
    try:
        for batch in batches(rows.order_by("pk").iterator(chunk_size=1000)):
            kept = [row for row in batch if row.channel_id in channels]
            old_model.objects.using(alias).bulk_create(
                [
                    old_model(
                        id=row.pk,
                        channel_id=row.channel_id,
                        delivery_id=row.delivery_id,
                        topic=row.topic,
                        payload=row.payload,
                        nul_stripped=row.nul_stripped,
                        status=row.status,
                        attempts=row.attempts,
                        error=row.error,
                        claimed_until=row.claimed_until,
                        claimed_by=row.claimed_by,
                        received_at=row.received_at,
                        processed_at=row.processed_at,
                    )
                    for row in kept
                ]
            )
            ids.update(row.pk for row in kept)
    finally:
        received_at.auto_now_add = True
    sequence_reset(schema_editor, old_model)
    outbox_task_rename(
        apps, alias, task=INBOX_TASK, key=INBOX_KEY, ids=ids, to_task=OLD_TASK, to_key=OLD_KEY
    )
    rows.delete()
    permissions_move(
        apps,
        alias,
        source=("oms", "inboundwebhook"),
        target=("channels", "channelwebhookdelivery"),
        verbose_name="channel webhook",
        keep_source=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0009_channel_moved_to_inventory"),
        # Fulfilment's deliveries are moved first and keep their ids; these follow them.
        ("fulfilment", "0005_webhooks_to_kernel_inbox"),
        ("oms", "0004_inbound_webhook"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("admin", "0003_logentry_add_action_flag_choices"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.DeleteModel(name="ChannelWebhookDelivery"),
    ]
