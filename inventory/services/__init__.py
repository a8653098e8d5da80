"""Every write of the inventory app (catalogue, stock, transfers). Import services from here."""

from inventory.services.catalogue import (
    location_create,
    location_update,
    sku_create,
    sku_update,
)
from inventory.services.stock import (
    LevelHistory,
    ReservationRequest,
    stock_adjust,
    stock_consume,
    stock_count,
    stock_history_load,
    stock_history_load_many,
    stock_level_set_bin,
    stock_level_set_thresholds,
    stock_quarantine,
    stock_release,
    stock_reserve,
    stock_restock_return,
    stock_sell_in_store,
    stock_write_off_quarantine,
)
from inventory.services.transfers import (
    transfer_cancel,
    transfer_create,
    transfer_receive,
    transfer_ship,
)

__all__ = [
    "LevelHistory",
    "ReservationRequest",
    "location_create",
    "location_update",
    "sku_create",
    "sku_update",
    "stock_adjust",
    "stock_consume",
    "stock_count",
    "stock_history_load",
    "stock_history_load_many",
    "stock_level_set_bin",
    "stock_level_set_thresholds",
    "stock_quarantine",
    "stock_release",
    "stock_reserve",
    "stock_restock_return",
    "stock_sell_in_store",
    "stock_write_off_quarantine",
    "transfer_cancel",
    "transfer_create",
    "transfer_receive",
    "transfer_ship",
]
