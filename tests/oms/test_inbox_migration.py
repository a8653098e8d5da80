"""The move of the channels' and fulfilment's webhook inboxes into the kernel's (oms 0004,
fulfilment 0005, channels 0010) keeps an existing database whole: every delivery with its
state, the queued work that names them (outbox messages under the former task names, their ids
rewritten where the ids moved), the id sequence past the moved ids, and the grants of the old
models' permissions. And it runs backwards."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("oms", "0003_outbox_and_heartbeats"),
    ("fulfilment", "0004_channel_in_inventory"),
    ("channels", "0009_channel_moved_to_inventory"),
]
AFTER = [("channels", "0010_webhooks_to_kernel_inbox")]
FRAMEWORK = [
    ("contenttypes", "0002_remove_content_type_name"),
    ("auth", "0012_alter_user_first_name_max_length"),
    ("admin", "0003_logentry_add_action_flag_choices"),
]
#: The former task names, with the keyword that names the delivery, per kind.
OLD_TASKS = {
    "channels.webhook_process": ("delivery_id", "channel"),
    "fulfilment.carrier_webhook_process": ("inbound_webhook_id", "carrier"),
    "fulfilment.partner_confirmation_process": ("webhook_id", "partner"),
}
T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def migrated(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state([*targets, *FRAMEWORK]).apps


def grants(apps, user_id):
    user = apps.get_model("auth", "User").objects.get(pk=user_id)
    return sorted(f"{p.content_type.app_label}.{p.codename}" for p in user.user_permissions.all())


def inbox_rows(apps):
    return {
        row["delivery_id"]: row for row in apps.get_model("oms", "InboundWebhook").objects.values()
    }


def assert_messages_name_their_deliveries(apps):
    """Every message of a former task name points at the inbox row it pointed at before."""
    messages = apps.get_model("oms", "OutboxMessage").objects.filter(task__in=list(OLD_TASKS))
    rows = apps.get_model("oms", "InboundWebhook").objects
    for message in messages:
        key, kind = OLD_TASKS[message.task]
        row = rows.get(pk=message.kwargs[key])
        assert (row.kind, row.delivery_id) == (kind, message.kwargs["expected"]), message.task
        assert message.dedupe_key in ("", f"{message.task}:{row.pk}")


def old_world(apps):
    """Deliveries of both old inboxes (ids that collide), messages naming them, and grants."""
    channel = apps.get_model("inventory", "Channel").objects.create(
        code="shop", name="Shop", kind="shopify", currency="EUR"
    )
    channel_hooks = apps.get_model("channels", "ChannelWebhookDelivery").objects
    processed = channel_hooks.create(
        channel=channel,
        delivery_id="ch-processed",
        topic="orders/create",
        payload={"id": 1},
        status="processed",
        attempts=2,
        processed_at=T0,
    )
    waiting = channel_hooks.create(
        channel=channel,
        delivery_id="ch-waiting",
        topic="orders/updated",
        payload={"id": "a"},
        nul_stripped=True,
        claimed_by="host:1:1",
        claimed_until=T0,
        attempts=1,
        error="HTTP 503",
    )
    channel_hooks.filter(pk=waiting.pk).update(received_at=T0)
    fulfilment_hooks = apps.get_model("fulfilment", "InboundWebhook").objects
    carrier_done = fulfilment_hooks.create(
        source="carrier:dhl",
        delivery_id="c-done",
        payload={"events": []},
        processed_at=T0,
        error="no shipment with tracking number X",
    )
    carrier_waiting = fulfilment_hooks.create(
        source="carrier:dhl", delivery_id="c-waiting", payload={"events": [1]}, nul_stripped=True
    )
    partner_refused = fulfilment_hooks.create(
        source="3pl:LON",
        delivery_id="p-refused",
        payload={"type": "x"},
        processed_at=T0,
        error="Unknown confirmation type 'x'.",
    )
    partner_waiting = fulfilment_hooks.create(
        source="3pl:LON", delivery_id="p-waiting", payload={"type": "shipment.shipped"}
    )
    messages = apps.get_model("oms", "OutboxMessage").objects
    for task, key, hook in (
        ("channels.webhook_process", "delivery_id", waiting),
        ("channels.webhook_process", "delivery_id", processed),
        ("fulfilment.carrier_webhook_process", "inbound_webhook_id", carrier_waiting),
        ("fulfilment.partner_confirmation_process", "webhook_id", partner_waiting),
    ):
        messages.create(
            task=task,
            queue="channels" if task.startswith("channels.") else "default",
            kwargs={key: hook.pk, "expected": hook.delivery_id},
            dedupe_key=f"{task}:{hook.pk}" if task.startswith("channels.") else "",
        )
    unrelated = messages.create(task="channels.sync", kwargs={"channel_id": channel.pk})

    content_type = apps.get_model("contenttypes", "ContentType").objects
    permission = apps.get_model("auth", "Permission").objects
    granted = []
    for app_label, model in (
        ("channels", "channelwebhookdelivery"),
        ("fulfilment", "inboundwebhook"),
    ):
        kind, _ = content_type.get_or_create(app_label=app_label, model=model)
        for action in ("view", "change"):
            found, _ = permission.get_or_create(
                content_type=kind, codename=f"{action}_{model}", defaults={"name": action}
            )
            if action == "view":
                granted.append(found)
    user = apps.get_model("auth", "User").objects.create(username="inbox-viewer")
    user.user_permissions.add(*granted)
    return {
        "channel": channel,
        "user": user,
        "unrelated": unrelated,
        "ids": {
            hook.delivery_id: hook.pk
            for hook in (
                processed,
                waiting,
                carrier_done,
                carrier_waiting,
                partner_refused,
                partner_waiting,
            )
        },
    }


@pytest.mark.django_db(transaction=True)
def test_an_existing_database_keeps_its_deliveries_queued_work_and_grants_through_the_move():
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    world = old_world(migrated(BEFORE))
    ids = world["ids"]

    new = migrated(AFTER)
    rows = inbox_rows(new)
    assert set(rows) == set(ids)
    # Fulfilment's rows keep their ids; the channels' follow them.
    offset = max(ids[d] for d in ("c-done", "c-waiting", "p-refused", "p-waiting"))
    for delivery_id, old_id in ids.items():
        expected = old_id + offset if delivery_id.startswith("ch-") else old_id
        assert rows[delivery_id]["id"] == expected, delivery_id
    summary = {
        d: (r["kind"], r["source"], r["status"], r["attempts"], r["error"], r["nul_stripped"])
        for d, r in rows.items()
    }
    assert summary == {
        "ch-processed": ("channel", "shop", "processed", 2, "", False),
        "ch-waiting": ("channel", "shop", "received", 1, "HTTP 503", True),
        "c-done": ("carrier", "dhl", "processed", 1, "no shipment with tracking number X", False),
        "c-waiting": ("carrier", "dhl", "received", 0, "", True),
        "p-refused": ("partner", "LON", "failed", 1, "Unknown confirmation type 'x'.", False),
        "p-waiting": ("partner", "LON", "received", 0, "", False),
    }
    waiting = rows["ch-waiting"]
    assert (waiting["channel_id"], waiting["topic"], waiting["payload"]) == (
        world["channel"].pk,
        "orders/updated",
        {"id": "a"},
    )
    assert (waiting["claimed_by"], waiting["claimed_until"], waiting["received_at"]) == (
        "host:1:1",
        T0,
        T0,
    )
    assert rows["c-done"]["processed_at"] == T0
    assert_messages_name_their_deliveries(new)
    message = new.get_model("oms", "OutboxMessage")
    assert message.objects.get(pk=world["unrelated"].pk).kwargs == {
        "channel_id": world["channel"].pk
    }
    # The id sequence is past the moved ids.
    inbox = new.get_model("oms", "InboundWebhook")
    fresh = inbox.objects.create(kind="carrier", source="dhl", delivery_id="after-the-move")
    assert fresh.pk > max(row["id"] for row in rows.values())
    assert grants(new, world["user"].pk) == ["oms.view_inboundwebhook"]
    types = new.get_model("contenttypes", "ContentType").objects
    assert not types.filter(app_label="channels", model="channelwebhookdelivery").exists()
    assert not types.filter(app_label="fulfilment", model="inboundwebhook").exists()
    fresh.delete()
    # Work queued by the new code names the kernel's task: it goes back with the rows.
    new_style = message.objects.create(
        task="oms.inbox_process",
        queue="channels",
        kwargs={"inbox_id": rows["ch-waiting"]["id"]},
        dedupe_key=f"oms.inbox_process:{rows['ch-waiting']['id']}",
    )

    back = migrated(BEFORE)
    channel_hooks = back.get_model("channels", "ChannelWebhookDelivery").objects
    assert dict(channel_hooks.values_list("delivery_id", "status")) == {
        "ch-processed": "processed",
        "ch-waiting": "received",
    }
    assert channel_hooks.get(delivery_id="ch-waiting").received_at == T0
    fulfilment_hooks = back.get_model("fulfilment", "InboundWebhook").objects
    assert sorted(fulfilment_hooks.values_list("source", "delivery_id", "error")) == [
        ("3pl:LON", "p-refused", "Unknown confirmation type 'x'."),
        ("3pl:LON", "p-waiting", ""),
        ("carrier:dhl", "c-done", "no shipment with tracking number X"),
        ("carrier:dhl", "c-waiting", ""),
    ]
    assert fulfilment_hooks.get(delivery_id="c-waiting").processed_at is None
    returned = back.get_model("oms", "OutboxMessage").objects.get(pk=new_style.pk)
    assert (returned.task, returned.kwargs, returned.dedupe_key) == (
        "channels.webhook_process",
        {"delivery_id": rows["ch-waiting"]["id"]},
        f"channels.webhook_process:{rows['ch-waiting']['id']}",
    )
    assert channel_hooks.get(pk=rows["ch-waiting"]["id"]).delivery_id == "ch-waiting"
    assert "channels.view_channelwebhookdelivery" in grants(back, world["user"].pk)
    assert "fulfilment.view_inboundwebhook" in grants(back, world["user"].pk)
    back.get_model("oms", "OutboxMessage").objects.filter(pk=new_style.pk).delete()

    again = migrated(leaves)  # and forwards once more: nothing doubled, nothing lost
    assert set(inbox_rows(again)) == set(ids)
    assert_messages_name_their_deliveries(again)
    assert "oms.view_inboundwebhook" in grants(again, world["user"].pk)
