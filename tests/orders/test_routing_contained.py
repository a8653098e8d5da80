"""Routing failures are contained (orders.services.routing): the order is committed pending,
the failure is on its timeline, one retry goes through the outbox, spent retries hold it for
customer care, and orders no routing reached are routed by the stuck sweep."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.utils import timezone

from oms.errors import InsufficientStock
from oms.models import OutboxMessage
from oms.outbox import outbox_enqueue
from oms.roles import INTEGRATOR
from orders.models import Order
from orders.ports import routing_register
from orders.services import order_hold
from orders.services.lifecycle import order_route_gave_up
from orders.services.routing import (
    RETRY_AFTER_SECONDS,
    RETRY_TASK,
    STUCK_AFTER,
    order_route_now,
    orders_route_stuck,
    retry_key,
)
from tests.conftest import token_client
from tests.holders import dead_holder
from tests.orders.conftest import PAYLOAD
from tests.outbox import queued, run_outbox

State = OutboxMessage.State


class BrokenRouting:
    """A routing port that fails every time, with `error`."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error or RuntimeError("routing service down")
        self.calls: list[tuple[int, str]] = []

    def route(self, *, order_id: int, trigger: str, actor: str = "system") -> None:
        self.calls.append((order_id, trigger))
        raise self.error

    def reroute(self, *, order_id: int, trigger: str, actor: str = "system") -> None:
        self.calls.append((order_id, f"reroute:{trigger}"))
        raise self.error


@pytest.fixture
def install(routing_calls) -> Callable[[object], object]:
    """Install a routing port for this test; the recorder of tests/orders (routing_calls,
    set up first) is back afterwards, and then the real one."""
    previous: list[object] = []

    def install_port(port: object) -> object:
        replaced = routing_register(port)  # type: ignore[arg-type]
        if not previous:
            previous.append(replaced)
        return port

    yield install_port
    if previous:
        routing_register(previous[0])  # type: ignore[arg-type]


def fulfilment_routing() -> object:
    from fulfilment.services.routing_port import RoutingPort

    return RoutingPort()


def retries(order: Order) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(task=RETRY_TASK, kwargs__order_id=order.pk))


def make_old(*orders: Order) -> None:
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(
        updated_at=timezone.now() - STUCK_AFTER - dt.timedelta(minutes=1)
    )


@pytest.mark.django_db(transaction=True)
def test_a_failing_routing_leaves_the_order_committed_pending_with_one_retry(
    install, capture_order
):
    port = install(BrokenRouting())
    order = capture_order()
    assert port.calls == [(order.pk, "captured")]
    order = Order.objects.get(pk=order.pk)  # committed, in its own transaction
    assert (order.status, order.is_on_hold) == ("pending", False)
    assert order.lines.count() == 2
    [failed] = order.events.filter(kind="routing_failed")
    assert failed.data["trigger"] == "captured"
    assert failed.data["error"] == "RuntimeError: routing service down"
    [retry] = retries(order)
    assert retry.state == State.PENDING
    assert retry.kwargs == {"order_id": order.pk, "trigger": "captured", "reroute": False}
    assert retry.dedupe_key == retry_key(order.pk)
    delay = (retry.run_after - retry.created_at).total_seconds()
    assert delay == pytest.approx(RETRY_AFTER_SECONDS, abs=0.01)

    # It fails again before the retry ran: still one pending retry (two timeline entries).
    assert order_route_now(order_id=order.pk, trigger="captured") is False
    assert len(retries(order)) == 1
    assert order.events.filter(kind="routing_failed").count() == 2


@pytest.mark.django_db
def test_the_api_answers_201_pending_when_routing_fails(install, catalogue, orders_roles_granted):
    install(BrokenRouting())
    integrator = token_client(INTEGRATOR)
    response = integrator.post("/api/v1/orders/", PAYLOAD, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending"
    order = Order.objects.get(pk=body["id"])
    assert order.events.filter(kind="routing_failed").exists()
    assert queued(RETRY_TASK) == [
        (RETRY_TASK, {"order_id": order.pk, "trigger": "captured", "reroute": False})
    ]


@pytest.mark.django_db
def test_the_retry_routes_the_order_once_routing_works(install, capture_order):
    install(BrokenRouting())
    order = capture_order()
    install(fulfilment_routing())
    assert run_outbox(RETRY_TASK) == 1
    order.refresh_from_db()
    assert order.status == "allocated"
    assert all(line.quantity_allocated == line.quantity for line in order.lines.all())
    [retry] = retries(order)
    assert retry.state == State.DONE
    assert not order.is_on_hold


@pytest.mark.django_db
def test_spent_retries_hold_the_order_for_customer_care(install, capture_order):
    install(BrokenRouting())
    order = capture_order()
    port = install(BrokenRouting(InsufficientStock("Stock moved meanwhile.")))
    assert run_outbox(RETRY_TASK) == 9  # max_retries=8: nine attempts
    assert len(port.calls) == 9
    [retry] = retries(order)
    assert retry.state == State.FAILED
    assert "Stock moved on every routing attempt" in retry.last_error
    order.refresh_from_db()
    assert order.is_on_hold
    assert order.status == "pending"
    [hold] = order.holds.filter(released_at__isnull=True)
    assert hold.reason == "customer_care"
    assert hold.note.startswith("Routing failed: TransientError: Stock moved")


@pytest.mark.django_db
def test_a_retry_that_fails_otherwise_holds_the_order_at_once(install, capture_order):
    install(BrokenRouting())
    order = capture_order()
    install(BrokenRouting(RuntimeError("a bug in routing")))
    with pytest.raises(RuntimeError, match="a bug in routing"):
        run_outbox(RETRY_TASK)
    [retry] = retries(order)
    assert (retry.state, retry.attempts) == (State.FAILED, 1)
    order.refresh_from_db()
    assert order.is_on_hold
    assert order.holds.get().note == "Routing failed: RuntimeError: a bug in routing"


@pytest.mark.django_db
def test_the_give_up_hook_leaves_a_cancelled_order_alone(capture_order):
    from orders.services import order_cancel

    order = capture_order()
    order_cancel(order=order)
    order_route_gave_up(order_id=order.pk, reason="late")
    order.refresh_from_db()
    assert (order.status, order.is_on_hold) == ("cancelled", False)


@pytest.mark.django_db
def test_stuck_routes_old_pending_orders_without_an_open_retry(routing_calls, capture_order):
    stuck = capture_order()
    waiting = capture_order()
    busy = capture_order()
    held = capture_order()
    recent = capture_order()
    order_hold(order=held, reason="customer_care", note="call the shopper")
    outbox_enqueue(
        RETRY_TASK,
        order_id=waiting.pk,
        trigger="captured",
        reroute=False,
        dedupe_key=retry_key(waiting.pk),
        countdown=5,
    )
    running = outbox_enqueue(
        RETRY_TASK, order_id=busy.pk, trigger="captured", dedupe_key=retry_key(busy.pk)
    )
    OutboxMessage.objects.filter(pk=running.pk).update(
        state=State.RUNNING,
        holder=dead_holder(),
        lease_until=timezone.now() + dt.timedelta(minutes=5),
    )
    make_old(stuck, waiting, busy, held)
    assert {o.status for o in (stuck, waiting, busy, held, recent)} == {"pending"}
    routing_calls.clear()

    assert orders_route_stuck() == 1
    assert routing_calls == [(stuck.pk, "recovered")]
    assert recent.pk not in [pk for pk, _ in routing_calls]


@pytest.mark.django_db
def test_stuck_routing_that_fails_again_is_contained_and_queues_a_retry(install, capture_order):
    order = capture_order()
    make_old(order)
    port = install(BrokenRouting())
    assert orders_route_stuck() == 0
    assert port.calls == [(order.pk, "recovered")]
    [retry] = retries(order)
    assert retry.kwargs["trigger"] == "recovered"
    # Its retry is open now: the next sweep leaves the order to it.
    make_old(order)
    assert orders_route_stuck() == 0
    assert port.calls == [(order.pk, "recovered")]


@pytest.mark.django_db
def test_stuck_does_nothing_without_a_routing_port(install, capture_order):
    order = capture_order()
    make_old(order)
    install(None)
    assert orders_route_stuck() == 0
    order.refresh_from_db()
    assert order.status == "pending"
