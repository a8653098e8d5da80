"""Domain events that inventory publishes for the apps above it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StockChanged:
    """The available quantity of these (sku_id, location_id) pairs may have changed.

    Published inside the transaction that changed them, so subscribers' writes commit with it.
    """

    pairs: frozenset[tuple[int, int]]
    #: More became free to reserve (stock arrived, or a reservation was released): orders
    #: waiting for these SKUs may now be served.
    freed: bool = False
    #: The writers of inventory.stock_marks already wrote for these pairs, in the statement
    #: that changed them (stock_reserve): the subscribers that registered one skip the event.
    written: bool = False
