"""Every state table of the project is closed: each status of the model's column has its row,
every target is a known status, the terminal statuses (and only they) allow nothing, every
status is reachable from where the object starts and can still reach an end. Properties: any
walk along the table is accepted step by step by the shared `assert_transition`, and any step
off the table is refused."""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from itertools import pairwise

import pytest
from django.db import models
from hypothesis import given
from hypothesis import strategies as st

from fulfilment.models import Shipment
from fulfilment.states import TRANSITIONS as SHIPMENT_TRANSITIONS
from fulfilment.states import ShipmentStatus
from inventory.models import Transfer, TransferStatus
from inventory.states import TRANSITIONS as TRANSFER_TRANSITIONS
from oms.errors import InvalidTransition
from oms.inbox import TRANSITIONS as INBOX_TRANSITIONS
from oms.models import InboundWebhook
from oms.states import assert_transition
from orders.models import Order
from orders.states import TRANSITIONS as ORDER_TRANSITIONS
from orders.states import OrderStatus
from returns.models import Refund, ReturnRequest
from returns.states import REFUND_TRANSITIONS, RefundStatus, ReturnStatus
from returns.states import TRANSITIONS as RETURN_TRANSITIONS
from tests.properties import bounded


@dataclass(frozen=True)
class Table:
    name: str
    transitions: Mapping[str, Set[str]] = field(repr=False)
    model: type[models.Model] = field(repr=False)  # whose `status` column holds these statuses
    initial: str = ""
    terminal: frozenset[str] = field(default=frozenset(), repr=False)


TABLES = [
    Table(
        "order",
        ORDER_TRANSITIONS,
        Order,
        OrderStatus.PENDING,
        frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED}),
    ),
    Table(
        "shipment",
        SHIPMENT_TRANSITIONS,
        Shipment,
        ShipmentStatus.PENDING,
        frozenset({ShipmentStatus.DELIVERED, ShipmentStatus.CANCELLED}),
    ),
    Table(
        "transfer",
        TRANSFER_TRANSITIONS,
        Transfer,
        TransferStatus.DRAFT,
        frozenset({TransferStatus.RECEIVED, TransferStatus.CANCELLED}),
    ),
    Table(
        "return",
        RETURN_TRANSITIONS,
        ReturnRequest,
        ReturnStatus.REQUESTED,
        frozenset({ReturnStatus.REJECTED, ReturnStatus.COMPLETED, ReturnStatus.CANCELLED}),
    ),
    Table(
        "refund",
        REFUND_TRANSITIONS,
        Refund,
        RefundStatus.PENDING,
        # A failed refund may be tried again (back to pending, with a new provider key).
        frozenset({RefundStatus.SUCCEEDED}),
    ),
    Table(
        "inbound webhook",
        INBOX_TRANSITIONS,
        InboundWebhook,
        InboundWebhook.Status.RECEIVED,
        frozenset({InboundWebhook.Status.PROCESSED, InboundWebhook.Status.FAILED}),
    ),
]
IDS = [table.name for table in TABLES]


def statuses(table: Table) -> set[str]:
    """The statuses the model's column accepts (its choices)."""
    column = table.model._meta.get_field("status")
    return {str(value) for value, _ in column.choices or []}


def reachable(transitions: Mapping[str, Set[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for target in transitions.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


@pytest.mark.parametrize("table", TABLES, ids=IDS)
def test_every_status_of_the_column_has_its_row_and_every_target_is_known(table):
    known = statuses(table)
    assert known, f"{table.name}.status has no choices"
    assert set(table.transitions) == known
    for current, targets in table.transitions.items():
        assert set(targets) <= known, f"{table.name}: {current} -> unknown {set(targets) - known}"
        assert current not in targets, f"{table.name}: {current} -> itself is not a transition"


@pytest.mark.parametrize("table", TABLES, ids=IDS)
def test_terminal_statuses_and_only_they_allow_nothing(table):
    assert table.terminal <= statuses(table)
    assert {s for s, targets in table.transitions.items() if not targets} == table.terminal


@pytest.mark.parametrize("table", TABLES, ids=IDS)
def test_every_status_is_reachable_from_the_start_and_can_still_end(table):
    assert reachable(table.transitions, table.initial) == statuses(table)
    for status in table.transitions:
        assert reachable(table.transitions, status) & table.terminal, (
            f"{table.name}: nothing ends once {status}"
        )


@st.composite
def walks(draw: st.DrawFn) -> tuple[Table, list[str], str]:
    """A table, a walk along it from its start, and any status to try next."""
    table = draw(st.sampled_from(TABLES))
    path = [table.initial]
    for _ in range(draw(st.integers(min_value=0, max_value=12))):
        targets = sorted(table.transitions[path[-1]])
        if not targets:
            break
        path.append(draw(st.sampled_from(targets)))
    return table, path, draw(st.sampled_from(sorted(statuses(table))))


@bounded(300)
@given(walks())
def test_a_walk_along_the_table_is_accepted_and_a_step_off_it_refused(walk):
    table, path, attempt = walk
    for current, target in pairwise(path):
        assert_transition(table.transitions, current, target, what=table.name)
    current = path[-1]
    if attempt in table.transitions[current]:
        assert_transition(table.transitions, current, attempt, what=table.name)
    else:
        with pytest.raises(InvalidTransition):
            assert_transition(table.transitions, current, attempt, what=table.name)
    if current in table.terminal:
        assert not table.transitions[current]
