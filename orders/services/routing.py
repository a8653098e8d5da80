"""Routing an order through the port that fulfilment fills in (orders.ports), contained.

Invariants:
- the caller's change is committed (or its savepoint released) before routing starts, and
  routing runs in its own transaction (a savepoint inside an outer one): whatever it raises
  never undoes the order, and no API answer is a 5xx because of it;
- a routing that fails leaves the order as it was, writes `routing_failed` to its timeline and
  enqueues `orders.order_route` through the outbox (one pending retry per order), which retries
  with backoff (stock taken by others on every attempt counts as transient there); when the
  retries give up, the order is held for customer care with the reason;
- `orders_route_stuck` (beat) routes the orders no routing reached: pending, not held, open
  quantities, older than STUCK_AFTER, and no retry pending or running.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from oms.errors import InsufficientStock, TransientError
from oms.outbox import outbox_enqueue, outbox_open_keys
from orders.models import Order, OrderLine
from orders.ports import routing_port
from orders.services.timeline import order_event_add
from orders.states import OrderStatus

logger = logging.getLogger(__name__)

RETRY_TASK = "orders.order_route"
#: The first retry after a failed routing waits this long (then the outbox's backoff).
RETRY_AFTER_SECONDS = 5.0
#: An order still pending without a hold this long after its last change was missed.
STUCK_AFTER = dt.timedelta(minutes=2)


def retry_key(order_id: int) -> str:
    return f"{RETRY_TASK}:{order_id}"


def order_route_now(
    *, order_id: int, trigger: str, actor: str = "system", reroute: bool = False
) -> bool:
    """Route the order now, its failure contained (see the module docstring). Returns whether
    routing ran to its end (False: skipped without a port, or failed and a retry is queued)."""
    return (
        order_route_contained(order_id=order_id, trigger=trigger, actor=actor, reroute=reroute)
        is not FAILED
    )


def orders_route_now_many(*, order_ids: list[int], trigger: str, actor: str = "system") -> None:
    """Route these orders now as one batch (the port's route_many: one transaction), the
    failure contained: if the batch fails, each order is routed alone by order_route_now
    (which queues a retry for an order whose routing fails)."""
    routing = routing_port()
    if routing is None or not order_ids:
        return
    route_many = getattr(routing, "route_many", None)
    if route_many is not None:
        try:
            with transaction.atomic():
                route_many(order_ids=order_ids, trigger=trigger, actor=actor)
            return
        except Exception as exc:  # contained: the orders are committed; route them one by one
            logger.warning("Routing %s orders as a batch failed: %s", len(order_ids), exc)
    for order_id in order_ids:
        order_route_now(order_id=order_id, trigger=trigger, actor=actor)


#: What order_route_contained returns when routing did not run to its end.
FAILED = object()


def order_route_contained(
    *, order_id: int, trigger: str, actor: str = "system", reroute: bool = False
) -> object:
    """order_route_now returning what the routing port returned (for fulfilment's port, the
    decision or None), or FAILED (no port, or routing failed and a retry is queued)."""
    routing = routing_port()
    if routing is None:
        return FAILED
    try:
        with transaction.atomic():
            if reroute:
                return routing.reroute(order_id=order_id, trigger=trigger, actor=actor)
            return routing.route(order_id=order_id, trigger=trigger, actor=actor)
    except Exception as exc:  # contained by design: the order is already committed
        logger.warning("Routing order %s (%s) failed, retry queued: %s", order_id, trigger, exc)
        _route_later(order_id=order_id, trigger=trigger, reroute=reroute, error=exc)
        return FAILED


def _route_later(*, order_id: int, trigger: str, reroute: bool, error: Exception) -> None:
    try:
        with transaction.atomic():
            order = Order.objects.only("pk").get(pk=order_id)
            order_event_add(
                order=order,
                kind="routing_failed",
                trigger=trigger,
                error=f"{type(error).__name__}: {error}"[:500],
            )
            outbox_enqueue(
                RETRY_TASK,
                order_id=order_id,
                trigger=trigger,
                reroute=reroute,
                dedupe_key=retry_key(order_id),
                countdown=RETRY_AFTER_SECONDS,
            )
    except Exception:
        # The database itself is away: orders_route_stuck finds the order later.
        logger.exception("Could not queue the routing retry of order %s", order_id)


def order_route_retry(
    *, order_id: int, trigger: str, actor: str = "system", reroute: bool = False
) -> None:
    """Route again after a failure (the outbox task). Raises TransientError for stock taken by
    others meanwhile; other errors propagate (the outbox decides)."""
    routing = routing_port()
    if routing is None:
        return
    try:
        with transaction.atomic():
            if reroute:
                routing.reroute(order_id=order_id, trigger=trigger, actor=actor)
            else:
                routing.route(order_id=order_id, trigger=trigger, actor=actor)
    except InsufficientStock as exc:
        raise TransientError(f"Stock moved on every routing attempt: {exc}") from exc


def orders_route_stuck(*, limit: int = 200) -> int:
    """Route pending orders that no routing reached (see the module docstring)."""
    if routing_port() is None:
        return 0
    candidates = list(
        OrderLine.objects.filter(
            order__status=OrderStatus.PENDING,
            order__is_on_hold=False,
            order__updated_at__lt=timezone.now() - STUCK_AFTER,
            quantity__gt=F("quantity_allocated") + F("quantity_shipped") + F("quantity_cancelled"),
        )
        .order_by("order_id")
        .values_list("order_id", flat=True)
        .distinct()[:limit]
    )
    waiting = outbox_open_keys(retry_key(pk) for pk in candidates)
    routed = 0
    for order_id in candidates:
        if retry_key(order_id) in waiting:
            continue
        routed += order_route_now(order_id=order_id, trigger="recovered")
    return routed
