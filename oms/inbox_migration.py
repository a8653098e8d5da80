"""Helpers of the migrations that move the apps' webhook inboxes into the kernel's
(fulfilment 0005, channels 0010). Frozen as migrations are (change nothing they rely on), and
they use the historical models they are given, never the current ones.

Each app moves its own rows (the kernel knows no app): the first keeps its ids (the kernel's
table is new and empty), the next adds the largest id already in the kernel's table to its ids
(`id_offset`) and rewrites the outbox messages that name its old ids (`outbox_ids_remap`).
After rows are inserted with explicit ids, the table's id sequence is moved past them
(`sequence_reset`: PostgreSQL; SQLite's AUTOINCREMENT follows by itself).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from django.core.management.color import no_style
from django.db.models import Max

BATCH = 500
ACTIONS = ("view", "add", "change", "delete")


def batches(items: Iterable[Any], size: int = BATCH) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def id_offset(model: Any, alias: str) -> int:
    """What to add to the ids moved into `model`'s table so that none collides."""
    return int(model.objects.using(alias).aggregate(last=Max("pk"))["last"] or 0)


def sequence_reset(schema_editor: Any, *models: Any) -> None:
    """Move the id sequence of `models`' tables past their largest id (PostgreSQL)."""
    connection = schema_editor.connection
    statements = connection.ops.sequence_reset_sql(no_style(), list(models))
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def outbox_ids_remap(
    apps: Any, alias: str, *, task: str, key: str, remap: Callable[[int], int | None]
) -> int:
    """Rewrite the id `key` of the outbox messages of `task` (in every state: the row is the
    truth a worker runs, and staff may retry a failed one), and their dedupe key
    "<task>:<id>". `remap` gives the new id (None: leave the message alone)."""
    message_model = apps.get_model("oms", "OutboxMessage")
    changed = []
    for message in message_model.objects.using(alias).filter(task=task).iterator():
        kwargs = dict(message.kwargs or {})
        old = kwargs.get(key)
        if isinstance(old, bool) or not isinstance(old, int):
            continue
        new = remap(old)
        if new is None or new == old:
            continue
        kwargs[key] = new
        message.kwargs = kwargs
        if message.dedupe_key == f"{task}:{old}":
            message.dedupe_key = f"{task}:{new}"
        changed.append(message)
    for batch in batches(changed):
        message_model.objects.using(alias).bulk_update(batch, ["kwargs", "dedupe_key"])
    return len(changed)


def outbox_task_rename(
    apps: Any, alias: str, *, task: str, key: str, ids: set[int], to_task: str, to_key: str
) -> None:
    """Messages of `task` whose `key` is one of `ids` become messages of `to_task` with that id
    as `to_key` (the way back: the kernel's task names the app's old one)."""
    message_model = apps.get_model("oms", "OutboxMessage")
    changed = []
    for message in message_model.objects.using(alias).filter(task=task).iterator():
        kwargs = dict(message.kwargs or {})
        pk = kwargs.pop(key, None)
        if pk not in ids:
            continue
        message.task = to_task
        message.kwargs = {**kwargs, to_key: pk}
        if message.dedupe_key == f"{task}:{pk}":
            message.dedupe_key = f"{to_task}:{pk}"
        changed.append(message)
    for batch in batches(changed):
        message_model.objects.using(alias).bulk_update(batch, ["task", "kwargs", "dedupe_key"])


def permissions_move(
    apps: Any,
    alias: str,
    *,
    source: tuple[str, str],
    target: tuple[str, str],
    verbose_name: str,
    object_id: Callable[[str], str] = str,
    keep_source: bool = False,
) -> None:
    """Give the holders (groups and users) of view/add/change/delete of model `source`
    (app label, model name) the same permissions of model `target`. Unless `keep_source` (the
    way back), the admin's log entries move to the target (`object_id` maps their ids) and the
    source's content type goes with its permissions. Does nothing when the source has no content
    type (a new database: the post-migrate handlers create the target's permissions)."""
    content_type_model = apps.get_model("contenttypes", "ContentType")
    permission_model = apps.get_model("auth", "Permission")
    types = content_type_model.objects.using(alias)
    old_type = types.filter(app_label=source[0], model=source[1]).first()
    if old_type is None:
        return
    new_type, _ = types.get_or_create(app_label=target[0], model=target[1])
    permissions = permission_model.objects.using(alias)
    for action in ACTIONS:
        old = permissions.filter(content_type=old_type, codename=f"{action}_{source[1]}").first()
        if old is None:
            continue
        new, _ = permissions.get_or_create(
            content_type=new_type,
            codename=f"{action}_{target[1]}",
            defaults={"name": f"Can {action} {verbose_name}"},
        )
        for group in old.group_set.all():
            group.permissions.add(new)
        for user in old.user_set.all():
            user.user_permissions.add(new)
    if not keep_source:
        log_entry_model = apps.get_model("admin", "LogEntry")
        entries = list(log_entry_model.objects.using(alias).filter(content_type=old_type))
        for entry in entries:
            entry.content_type = new_type
            entry.object_id = object_id(entry.object_id)
        for batch in batches(entries):
            log_entry_model.objects.using(alias).bulk_update(batch, ["content_type", "object_id"])
        permissions.filter(content_type=old_type).delete()
        old_type.delete()
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
