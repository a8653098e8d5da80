"""A small in-process domain-event dispatcher.

Lower apps publish facts ("an order was captured", "stock changed") without importing the higher
apps that react to them; higher apps subscribe in their AppConfig.ready().

Invariants: handlers run synchronously, in subscription order, inside the publisher's
transaction (so a failing handler rolls the publisher back); `publish_on_commit` defers the
dispatch until the surrounding transaction commits, for reactions that must only see committed
data. Subscribing the same handler twice is a no-op.

A batch (a page of orders captured or routed together) publishes its events with
`publish_many`: plain handlers are called once per event as `publish` would, and a handler
subscribed with `subscribe_many` once per event type with all of them (a subscriber that writes
a row per event writes them in one statement).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import transaction

Event = Any
E = TypeVar("E")
Handler = Callable[[Any], object]

ManyHandler = Callable[[Sequence[Any]], object]

_handlers: dict[type, list[Handler]] = defaultdict(list)
_many_handlers: dict[type, list[ManyHandler]] = defaultdict(list)


def subscribe(event_type: type[E], handler: Callable[[E], object]) -> None:
    """Register `handler` for events of `event_type` (and its subclasses)."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def subscribe_many(event_type: type[E], handler: Callable[[Sequence[E]], object]) -> None:
    """Register `handler` for events of exactly `event_type`, called with a list of them (one
    event for `publish`, all of that type for `publish_many`)."""
    if handler not in _many_handlers[event_type]:
        _many_handlers[event_type].append(handler)


def unsubscribe(event_type: type, handler: Handler) -> None:
    if handler in _handlers.get(event_type, []):
        _handlers[event_type].remove(handler)
    if handler in _many_handlers.get(event_type, []):
        _many_handlers[event_type].remove(handler)


def handlers_for(event_type: type) -> list[Handler]:
    found: list[Handler] = []
    for klass in event_type.__mro__:
        found.extend(_handlers.get(klass, []))
    return found


def publish(event: Event) -> None:
    """Call every subscriber now, inside the caller's transaction."""
    for handler in handlers_for(type(event)):
        handler(event)
    for many in _many_handlers.get(type(event), ()):
        many([event])


def publish_many(events: Sequence[Event]) -> None:
    """Publish several events now, inside the caller's transaction (see the module docstring)."""
    by_type: dict[type, list[Event]] = {}
    for event in events:
        for handler in handlers_for(type(event)):
            handler(event)
        by_type.setdefault(type(event), []).append(event)
    for event_type, found in by_type.items():
        for many in _many_handlers.get(event_type, ()):
            many(found)


def publish_on_commit(event: Event, *, using: str | None = None) -> None:
    """Call every subscriber once the current transaction commits (now if there is none)."""
    transaction.on_commit(lambda: publish(event), using=using)
