"""Every write of the orders app. Import services from here."""

from orders.services.capture import CaptureResult, order_capture
from orders.services.fx import fx_rates_refresh, order_convert_total
from orders.services.lifecycle import (
    derived_status,
    order_allocate,
    order_allocate_locked,
    order_cancel,
    order_deallocate,
    order_get_for_update,
    order_hold,
    order_line_returned_add,
    order_lines_edit,
    order_lock_with_lines,
    order_note_add,
    order_payment_status_set,
    order_release,
    order_ship,
    order_shipping_address_update,
    order_status_refresh,
    order_status_set,
)
from orders.services.timeline import order_event_add, order_events_add

__all__ = [
    "CaptureResult",
    "derived_status",
    "fx_rates_refresh",
    "order_allocate",
    "order_allocate_locked",
    "order_cancel",
    "order_capture",
    "order_convert_total",
    "order_deallocate",
    "order_event_add",
    "order_events_add",
    "order_get_for_update",
    "order_hold",
    "order_line_returned_add",
    "order_lines_edit",
    "order_lock_with_lines",
    "order_note_add",
    "order_payment_status_set",
    "order_release",
    "order_ship",
    "order_shipping_address_update",
    "order_status_refresh",
    "order_status_set",
]
