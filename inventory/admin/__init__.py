"""The inventory back office: catalogue, stock levels, the ledger, transfers, counts.

Invariants: the admin never writes a quantity or a status itself; every change goes through a
service of inventory.services (thresholds, counts, adjustments, count imports, transfer steps),
and a DomainError is shown to the person, never a 500; the ledger is read-only; changelists
are built in a constant number of queries whatever the number of rows.

One module a screen: `catalogue` (SKUs, locations), `stock_levels` (the list and a level's
page), `stock_screens` (adjust or count, import counts, needs attention), `ledger` (movements),
`transfers`, `forecasts`. Importing the package registers them all.
"""

from inventory.admin import catalogue, forecasts, ledger, stock_levels, transfers

__all__ = ["catalogue", "forecasts", "ledger", "stock_levels", "transfers"]
