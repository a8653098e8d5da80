"""Writes that apps above make on every stock change, run inside a reservation's locking
statement instead of after it.

A reservation of a popular SKU queues for that SKU's level row: the SKU's throughput is one
over the time a transaction holds the row. So stock_reserve (on PostgreSQL) publishes
StockChanged *before* it locks the row, marked `written`, and runs each registered writer as a
data-modifying CTE of its locking statement: what a subscriber would have written after the row
was locked (channels' pending stock pushes, themselves a row per channel and SKU) is written by
the same statement, and the row is held for that statement and COMMIT only.

A writer is `writer(pairs, after) -> (sql, params)`: one data-modifying statement for the
(sku_id, location_id) pairs that reads the CTE named `after` (e.g. `WHERE EXISTS (SELECT 1
FROM after)`), so that it runs after the level rows are locked and updated: the house lock
order, level rows first, holds. Its subscriber to StockChanged skips events marked `written`.
Apps register theirs in their AppConfig.ready(); registering the same callable twice keeps one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

Writer = Callable[[Collection[tuple[int, int]], str], tuple[str, list[Any]]]

_writers: list[Writer] = []


def stock_mark_writer_register(writer: Writer) -> Writer:
    """Register `writer` (once); returns it, so it can decorate."""
    if writer not in _writers:
        _writers.append(writer)
    return writer


def stock_mark_writers() -> list[Writer]:
    return list(_writers)
