"""Return (RMA) and refund statuses and the transitions allowed between them.

A return is requested, then authorised or rejected; authorised goods are received (partially,
then fully) and the return completes once it is settled. It can be cancelled only before
anything was received. A refund is pending until whoever took the money (the channel, the
payment service provider, or staff for cash and bank transfers) confirms it: succeeded (final)
or failed (with the provider's message; staff may try it again, back to pending).
"""

from __future__ import annotations

from django.db import models


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    AUTHORISED = "authorised", "Authorised"
    REJECTED = "rejected", "Rejected"
    PARTIALLY_RECEIVED = "partially_received", "Partially received"
    RECEIVED = "received", "Received"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class ReturnSource(models.TextChoices):
    STAFF = "staff", "Staff"
    SHOPPER = "shopper", "Shopper"


class Condition(models.TextChoices):
    SELLABLE = "sellable", "Sellable"
    DAMAGED = "damaged", "Damaged"
    DEFECTIVE = "defective", "Defective"


class Disposition(models.TextChoices):
    """What happens to a received unit: back to sellable stock, into quarantine, or destroyed."""

    RESTOCK = "restock", "Restock"
    QUARANTINE = "quarantine", "Quarantine"
    WRITE_OFF = "write_off", "Write off"


#: The disposition of a condition unless staff choose another one.
DEFAULT_DISPOSITION = {
    "sellable": Disposition.RESTOCK,
    "damaged": Disposition.QUARANTINE,
    "defective": Disposition.QUARANTINE,
}
#: Damaged and defective units never go back to sellable stock.
ALLOWED_DISPOSITIONS = {
    "sellable": frozenset(Disposition.values),
    "damaged": frozenset({Disposition.QUARANTINE, Disposition.WRITE_OFF}),
    "defective": frozenset({Disposition.QUARANTINE, Disposition.WRITE_OFF}),
}


class RefundStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class RefundWaiting(models.TextChoices):
    """Who must still confirm a pending refund the provider accepted."""

    NOTHING = "", "Nothing"
    STAFF = "staff", "Staff (paid by hand or on the channel's site)"
    PROVIDER = "provider", "The payment provider (processing)"


class PaymentKind(models.TextChoices):
    AUTHORIZATION = "authorization", "Authorisation"
    CAPTURE = "capture", "Capture"
    VOID = "void", "Void"


class PaymentRecordStatus(models.TextChoices):
    #: A capture or void asked of the provider, its answer not stored yet (looked up first
    #: when it is asked again).
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


R = ReturnStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    R.REQUESTED: frozenset({R.AUTHORISED, R.REJECTED, R.CANCELLED}),
    R.AUTHORISED: frozenset({R.PARTIALLY_RECEIVED, R.RECEIVED, R.CANCELLED}),
    R.PARTIALLY_RECEIVED: frozenset({R.RECEIVED}),
    R.RECEIVED: frozenset({R.COMPLETED}),
    R.REJECTED: frozenset(),
    R.COMPLETED: frozenset(),
    R.CANCELLED: frozenset(),
}

#: Returns waiting for goods at the warehouse (the receiving queue).
RECEIVABLE_STATUSES = frozenset({R.AUTHORISED, R.PARTIALLY_RECEIVED})
#: Returns the shopper may download a label for.
LABEL_STATUSES = RECEIVABLE_STATUSES

#: Returns not settled yet: an order with one stays delivered after its return window closed.
OPEN_RETURN_STATUSES = frozenset({R.REQUESTED, R.AUTHORISED, R.PARTIALLY_RECEIVED, R.RECEIVED})

#: Returns whose lines still count against what may be returned.
ACTIVE_RETURN_STATUSES = frozenset(
    {R.REQUESTED, R.AUTHORISED, R.PARTIALLY_RECEIVED, R.RECEIVED, R.COMPLETED}
)

F = RefundStatus
REFUND_TRANSITIONS: dict[str, frozenset[str]] = {
    F.PENDING: frozenset({F.SUCCEEDED, F.FAILED}),
    F.SUCCEEDED: frozenset(),
    # A failed refund can be tried again (with a new provider key), if the money is still due.
    F.FAILED: frozenset({F.PENDING}),
}
