"""The carriers' and 3PLs' webhook deliveries move to the kernel's inbox (oms.InboundWebhook,
issue 15): every row is copied, with its id, and fulfilment's InboundWebhook goes.

A row's source "carrier:<code>" becomes kind carrier, source <code>; "3pl:<location>" kind
partner, source <location>. Its status is `received` until it was processed; a processed 3PL
confirmation with an error (it could not be applied) is `failed`, anything else processed is
`processed` (a carrier's unknown tracking numbers stay noted in `error`).

The ids are kept (the kernel's table is new: this migration fills it first, channels 0010
follows), so the outbox messages already written for them, under the task names that stay
registered (fulfilment.carrier_webhook_process, fulfilment.partner_confirmation_process), name
the right rows; should the table hold rows already, the ids move past them and those messages
are rewritten. The id sequence is moved past the rows (PostgreSQL). The grants of the old
model's view, add, change and delete permissions go to the kernel model's with their groups
and users, and so do the admin's log entries.

Backwards, the rows of kinds carrier and partner go back with their ids, the kernel's task
messages naming them become the old tasks' again, and the holders of the kernel model's
permissions get the old ones.
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

CARRIER_TASK, CARRIER_KEY = "fulfilment.carrier_webhook_process", "inbound_webhook_id"
PARTNER_TASK, PARTNER_KEY = "fulfilment.partner_confirmation_process", "webhook_id"
INBOX_TASK, INBOX_KEY = "oms.inbox_process", "inbox_id"
PARTNER_PREFIX, CARRIER_PREFIX = "3pl:", "carrier:"


def _inbox_row(inbox_model, old, offset):
    partner = old.source.startswith(PARTNER_PREFIX)
    if old.processed_at is None:
        status = "received"
    elif partner and old.error:
        status = "failed"
    else:
        status = "processed"
    return inbox_model(
        id=old.pk + offset,
        kind="partner" if partner else "carrier",
        source=old.source.removeprefix(PARTNER_PREFIX if partner else CARRIER_PREFIX),
        delivery_id=old.delivery_id,
        payload=old.payload,
        nul_stripped=old.nul_stripped,
        status=status,
        attempts=0 if old.processed_at is None else 1,
        error=old.error,
        received_at=old.received_at,
        processed_at=old.processed_at,
    )


def forwards(apps, schema_editor):
    alias = schema_editor.connection.alias
    old_model = apps.get_model("fulfilment", "InboundWebhook")
    inbox_model = apps.get_model("oms", "InboundWebhook")
    offset = id_offset(inbox_model, alias)
    moved: set[int] = set()
    rows = old_model.objects.using(alias).order_by("pk").iterator(chunk_size=1000)
    for batch in batches(rows):
        inbox_model.objects.using(alias).bulk_create(
            [_inbox_row(inbox_model, old, offset) for old in batch]
        )
        moved.update(old.pk for old in batch)
    sequence_reset(schema_editor, inbox_model)
    if offset:
        for task, key in ((CARRIER_TASK, CARRIER_KEY), (PARTNER_TASK, PARTNER_KEY)):
            outbox_ids_remap(
                apps,
                alias,
                task=task,
                key=key,
                remap=lambda pk: pk + offset if pk in moved else None,
            )
    permissions_move(
        apps,
        alias,
        source=("fulfilment", "inboundwebhook"),
        target=("oms", "inboundwebhook"),
        verbose_name="inbound webhook",
        object_id=lambda pk: str(int(pk) + offset) if pk.isdigit() else pk,
    )


def backwards(apps, schema_editor):
    alias = schema_editor.connection.alias
    old_model = apps.get_model("fulfilment", "InboundWebhook")
    inbox_model = apps.get_model("oms", "InboundWebhook")
    rows = inbox_model.objects.using(alias).filter(kind__in=["carrier", "partner"])
    ids = {"carrier": set(), "partner": set()}
    received_at = old_model._meta.get_field("received_at")
    received_at.auto_now_add = False  # the rows keep their time (this historical model only)
    try:
        for batch in batches(rows.order_by("pk").iterator(chunk_size=1000)):
            old_model.objects.using(alias).bulk_create(
                [
                    old_model(
                        id=row.pk,
                        source=(PARTNER_PREFIX if row.kind == "partner" else CARRIER_PREFIX)
                        + row.source,
                        delivery_id=row.delivery_id,
                        payload=row.payload,
                        nul_stripped=row.nul_stripped,
                        received_at=row.received_at,
                        processed_at=None if row.status == "received" else row.processed_at,
                        error=row.error[:500],
                    )
                    for row in batch
                ]
            )
            for row in batch:
                ids[row.kind].add(row.pk)
    finally:
        received_at.auto_now_add = True
    sequence_reset(schema_editor, old_model)
    for kind, task, key in (
        ("carrier", CARRIER_TASK, CARRIER_KEY),
        ("partner", PARTNER_TASK, PARTNER_KEY),
    ):
        outbox_task_rename(
            apps, alias, task=INBOX_TASK, key=INBOX_KEY, ids=ids[kind], to_task=task, to_key=key
        )
    rows.delete()
    permissions_move(
        apps,
        alias,
        source=("oms", "inboundwebhook"),
        target=("fulfilment", "inboundwebhook"),
        verbose_name="inbound webhook",
        keep_source=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("fulfilment", "0004_channel_in_inventory"),
        ("oms", "0004_inbound_webhook"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("admin", "0003_logentry_add_action_flag_choices"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.DeleteModel(name="InboundWebhook"),
    ]
