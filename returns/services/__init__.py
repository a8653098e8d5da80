"""Every write of the returns app: returns (RMAs), receiving with disposition, refunds and
exchanges. Import services from here."""

from returns.services.completion import orders_complete_after_return_window
from returns.services.exchanges import exchange_external_id, return_exchange_order_create
from returns.services.payments import (
    payment_capture_shipment,
    payment_charge,
    payment_record,
    payment_status_sync,
    payment_void_rest,
    payments_total,
    shipment_capture_amount,
)
from returns.services.reconciliation import payments_reconcile
from returns.services.refunds import (
    cancellation_key,
    paid_amount,
    refund_confirm,
    refund_create,
    refund_execute,
    refund_execute_gave_up,
    refund_for_cancellation,
    refund_retry,
    refund_suggested_amount,
    refundable_amount,
    refunds_recover,
    return_refund,
)
from returns.services.requests import (
    return_authorise,
    return_cancel,
    return_complete,
    return_create,
    return_receive,
    return_reject,
    returned_or_requested,
)

__all__ = [
    "cancellation_key",
    "exchange_external_id",
    "orders_complete_after_return_window",
    "paid_amount",
    "payment_capture_shipment",
    "payment_charge",
    "payment_record",
    "payment_status_sync",
    "payment_void_rest",
    "payments_reconcile",
    "payments_total",
    "refund_confirm",
    "refund_create",
    "refund_execute",
    "refund_execute_gave_up",
    "refund_for_cancellation",
    "refund_retry",
    "refund_suggested_amount",
    "refundable_amount",
    "refunds_recover",
    "return_authorise",
    "return_cancel",
    "return_complete",
    "return_create",
    "return_exchange_order_create",
    "return_receive",
    "return_refund",
    "return_reject",
    "returned_or_requested",
    "shipment_capture_amount",
]
