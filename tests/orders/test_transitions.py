"""The order lifecycle table (orders/states.py) over every (from, to) pair, checked both by the
shared `assert_transition` and by the real service `order_status_set`."""

from __future__ import annotations

import pytest

from oms.errors import InvalidTransition
from oms.states import assert_transition
from orders.models import Order, OrderEvent
from orders.services import order_status_set
from orders.states import TRANSITIONS, OrderStatus

S = OrderStatus
PAIRS = [(a.value, b.value) for a in S for b in S]
PAIR_IDS = [f"{a}->{b}" for a, b in PAIRS]

# API.md, "Orders": pending -> allocated | backordered -> partially_shipped -> shipped ->
# delivered -> completed; cancelled from any status before everything has shipped (a partially
# shipped order becomes shipped when its rest is cancelled). Routing may move an unshipped order
# between pending, allocated and backordered, and ship it in one go.
DOCUMENTED = {
    S.PENDING: {S.ALLOCATED, S.BACKORDERED, S.PARTIALLY_SHIPPED, S.SHIPPED, S.CANCELLED},
    S.ALLOCATED: {S.PENDING, S.BACKORDERED, S.PARTIALLY_SHIPPED, S.SHIPPED, S.CANCELLED},
    S.BACKORDERED: {S.PENDING, S.ALLOCATED, S.PARTIALLY_SHIPPED, S.SHIPPED, S.CANCELLED},
    S.PARTIALLY_SHIPPED: {S.SHIPPED},
    S.SHIPPED: {S.DELIVERED},
    S.DELIVERED: {S.COMPLETED},
    S.COMPLETED: set(),
    S.CANCELLED: set(),
}


def allowed(current: str, target: str) -> bool:
    return target in TRANSITIONS[current]


def test_the_table_is_the_documented_lifecycle():
    assert set(TRANSITIONS) == set(S.values)
    assert {k: set(v) for k, v in TRANSITIONS.items()} == {k: set(v) for k, v in DOCUMENTED.items()}
    for targets in TRANSITIONS.values():
        assert targets <= set(S.values)


def test_terminal_statuses_have_no_way_out():
    assert not TRANSITIONS[S.COMPLETED]
    assert not TRANSITIONS[S.CANCELLED]
    # Nothing shipped can be cancelled any more.
    for status in (S.PARTIALLY_SHIPPED, S.SHIPPED, S.DELIVERED, S.COMPLETED):
        assert S.CANCELLED not in TRANSITIONS[status]


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=PAIR_IDS)
def test_assert_transition_refuses_exactly_the_pairs_outside_the_table(current, target):
    if allowed(current, target):
        assert_transition(TRANSITIONS, current, target, what="Order")
        return
    with pytest.raises(InvalidTransition) as err:
        assert_transition(TRANSITIONS, current, target, what="Order")
    assert err.value.status == 409
    assert err.value.code == "invalid_transition"
    assert repr(current) in str(err.value)
    assert repr(target) in str(err.value)
    assert "status" in err.value.errors


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), PAIRS, ids=PAIR_IDS)
def test_the_status_writer_follows_the_table(capture_order, current, target):
    """`_transition` is the only writer of the status: every service goes through it."""
    from django.db import transaction

    from orders.services.lifecycle import _lock, _transition

    def order_status_set(*, order: int, status: str, actor: str) -> Order:
        with transaction.atomic():
            locked = _lock(order)
            _transition(locked, status, actor=actor)
            return locked

    order = capture_order()
    Order.objects.filter(pk=order.pk).update(status=current)  # test setup: force the status
    before = Order.objects.get(pk=order.pk)
    events_before = list(OrderEvent.objects.filter(order=order).values_list("pk", flat=True))

    if current == target:
        # A replay of the status it already has: nothing happens, nothing is recorded.
        result = order_status_set(order=order.pk, status=target, actor="ann")
        assert result.status == current
        after = Order.objects.get(pk=order.pk)
        assert after.updated_at == before.updated_at
        assert list(OrderEvent.objects.filter(order=order).values_list("pk", flat=True)) == (
            events_before
        )
    elif allowed(current, target):
        result = order_status_set(order=order.pk, status=target, actor="ann")
        assert result.status == target
        assert Order.objects.get(pk=order.pk).status == target
        new = OrderEvent.objects.filter(order=order).exclude(pk__in=events_before)
        assert [(e.kind, e.actor, e.data) for e in new] == [
            ("status_changed", "ann", {"from": current, "to": target})
        ]
    else:
        with pytest.raises(InvalidTransition) as err:
            order_status_set(order=order.pk, status=target, actor="ann")
        assert err.value.status == 409
        after = Order.objects.get(pk=order.pk)
        assert after.status == current
        assert after.updated_at == before.updated_at
        assert list(OrderEvent.objects.filter(order=order).values_list("pk", flat=True)) == (
            events_before
        )


@pytest.mark.django_db
def test_an_unknown_status_is_refused(capture_order):
    order = capture_order()
    with pytest.raises(InvalidTransition):
        order_status_set(order=order.pk, status="lost")
    assert Order.objects.get(pk=order.pk).status == "pending"


@pytest.mark.django_db
@pytest.mark.parametrize("target", [s.value for s in OrderStatus])
def test_only_explicit_statuses_can_be_set_directly(capture_order, target):
    """allocated, shipped, cancelled ... follow from quantities or their own command."""
    from orders.services.lifecycle import EXPLICIT_STATUSES

    order = capture_order()
    Order.objects.filter(pk=order.pk).update(
        status="shipped" if target == "delivered" else "pending"
    )
    if target in EXPLICIT_STATUSES and target != "completed":
        assert order_status_set(order=order.pk, status=target).status == target
    elif target in EXPLICIT_STATUSES:
        with pytest.raises(InvalidTransition):  # pending -> completed is not in the table
            order_status_set(order=order.pk, status=target)
    elif target != "pending":
        with pytest.raises(InvalidTransition, match="cannot be set directly"):
            order_status_set(order=order.pk, status=target)
