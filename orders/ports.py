"""What the orders app needs the apps above it to do, as ports they fill in at start-up.

Orders cannot import fulfilment (the layers), yet a captured or released order must be routed:
that is not a notification but part of the command. So fulfilment registers its routing here
(FulfilmentConfig.ready) and the orders services call it explicitly, after their own change,
containing its failures (orders.services.routing).

Invariant: with nothing registered (the orders app tested on its own layer) routing is skipped
and the order stays pending, exactly as if routing had found nothing to do yet.
"""

from __future__ import annotations

from typing import Protocol


class Routing(Protocol):
    def route(self, *, order_id: int, trigger: str, actor: str) -> object:
        """Route what the order still needs (a no-op for held, closed or allocated orders)."""

    def reroute(self, *, order_id: int, trigger: str, actor: str) -> object:
        """Give back what is not picked yet and route it again (the destination changed)."""


_routing: Routing | None = None


def routing_register(routing: Routing | None) -> Routing | None:
    """Install the routing port (None removes it); returns the one it replaces."""
    global _routing
    previous, _routing = _routing, routing
    return previous


def routing_port() -> Routing | None:
    return _routing
