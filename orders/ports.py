"""What the orders app needs the apps above it to do, as ports they fill in at start-up.

Orders cannot import fulfilment (the layers), yet a captured or released order must be routed:
that is not a notification but part of the command. So fulfilment registers its routing here
(FulfilmentConfig.ready) and the orders services call it explicitly, after their own change,
containing its failures (orders.services.routing).

Invariant: with nothing registered (the orders app tested on its own layer) routing is skipped
and the order stays pending, exactly as if routing had found nothing to do yet.

Fulfilment also registers what an order shows of its shipments (OrderShipments): the orders
API lists them and links the tracking page without naming fulfilment's relation or URL.

Likewise fulfilment, returns and channels register what they hold of a shopper's personal data
(PersonalData), so that an export or an erasure reaches every app without orders importing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from oms.personal_data import Scrubber

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from orders.models import Order


class Routing(Protocol):
    def route(self, *, order_id: int, trigger: str, actor: str) -> object:
        """Route what the order still needs (a no-op for held, closed or allocated orders)."""

    def reroute(self, *, order_id: int, trigger: str, actor: str) -> object:
        """Give back what is not picked yet and route it again (the destination changed)."""

    def route_many(self, *, order_ids: Sequence[int], trigger: str, actor: str) -> object:
        """Route these orders in the order given, in one transaction, as route would one by
        one (a sync page). Optional: without it each order is routed alone."""


_routing: Routing | None = None


def routing_register(routing: Routing | None) -> Routing | None:
    """Install the routing port (None removes it); returns the one it replaces."""
    global _routing
    previous, _routing = _routing, routing
    return previous


def routing_port() -> Routing | None:
    return _routing


# --- what fulfilment shows on an order ---------------------------------------------------------


class OrderShipments(Protocol):
    """Fulfilment's part of an order as the orders API shows it: its shipments and the
    shopper's tracking page. Registered by fulfilment; with nothing registered an order shows
    no shipments and no tracking page (the orders app on its own layer)."""

    def prefetch(self, queryset: QuerySet[Order]) -> QuerySet[Order]:
        """The queryset, reading what `shipment_ids` needs in one query for a whole page."""
        ...

    def shipment_ids(self, order: Order) -> list[int]:
        """The order's shipments (from what `prefetch` read, when it did)."""
        ...

    def tracking_path(self, order: Order) -> str | None:
        """The path of the shopper's public tracking page of the order."""
        ...


_order_shipments: OrderShipments | None = None


def order_shipments_register(port: OrderShipments | None) -> OrderShipments | None:
    """Install fulfilment's part of an order (None removes it); returns the one it replaces."""
    global _order_shipments
    previous, _order_shipments = _order_shipments, port
    return previous


def order_shipments_port() -> OrderShipments | None:
    return _order_shipments


# --- personal data -----------------------------------------------------------------------------


class PersonalData(Protocol):
    """What an app above orders holds about the shopper of some orders (returns, shipments,
    channel payloads), for the privacy services (orders.services.privacy). Registered in the
    app's ready(); called explicitly inside the export or erasure, never as an event."""

    name: str

    def blockers(self, *, order_ids: Sequence[int]) -> list[str]:
        """Why these orders' data cannot be erased yet (an open return, ...); [] if none."""
        ...

    def export(self, *, order_ids: Sequence[int], emails: Sequence[str]) -> dict[str, Any]:
        """Everything held about these orders' shopper (JSON-ready)."""
        ...

    def erase(
        self, *, order_ids: Sequence[int], emails: Sequence[str], scrubber: Scrubber
    ) -> dict[str, int]:
        """Anonymise it in the caller's transaction; returns rows changed per kind."""
        ...

    def erase_channel(self, *, channel_code: str) -> dict[str, int]:
        """Anonymise what is held of a whole channel's shoppers (a shop's redaction)."""
        ...


_personal_data: dict[str, PersonalData] = {}


def personal_data_register(holder: PersonalData) -> None:
    """Install (or replace, by name) a holder of personal data."""
    _personal_data[holder.name] = holder


def personal_data_holders() -> list[PersonalData]:
    return [_personal_data[name] for name in sorted(_personal_data)]
