"""channels/states.py: each status table is closed, and the models take their choices from it
(the webhook deliveries' table is the kernel inbox's: tests/oms/test_state_tables.py)."""

from __future__ import annotations

import pytest

from channels import models, states

TABLES = [
    (states.SyncStatus, states.SYNC_TRANSITIONS, models.ChannelSyncRun, states.SyncStatus.RUNNING),
    (states.PushStatus, states.PUSH_TRANSITIONS, models.ChannelPush, states.PushStatus.PENDING),
]


@pytest.mark.parametrize(("choices", "table", "model", "initial"), TABLES)
def test_every_status_has_a_row_and_every_target_is_a_status(choices, table, model, initial):
    assert set(table) == set(choices.values)
    for targets in table.values():
        assert targets <= set(choices.values)
    field = model._meta.get_field("status")
    assert field.choices == choices.choices
    assert field.default == initial


@pytest.mark.parametrize(("choices", "table", "model", "initial"), TABLES)
def test_every_status_is_reachable_from_the_initial_one(choices, table, model, initial):
    seen, todo = {initial}, [initial]
    while todo:
        for target in table[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    assert seen == set(choices.values)


def test_the_kinds_and_triggers_are_the_models_choices():
    assert models.ChannelSyncRun._meta.get_field("trigger").choices == states.SyncTrigger.choices
    assert models.ChannelPush._meta.get_field("kind").choices == states.PushKind.choices
