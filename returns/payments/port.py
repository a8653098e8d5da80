"""The payment port's records and protocols (see the package docstring)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol

from oms.money import money_format

RefundState = Literal["succeeded", "pending", "failed"]


@dataclass(frozen=True)
class RefundRequest:
    """What a provider needs to pay a refund back (read from the refund and its order)."""

    refund_id: int
    key: str  # the provider key: a provider makes at most one refund per key
    order_id: int
    order_number: str
    order_external_id: str
    channel_code: str
    channel_kind: str
    amount: Decimal
    currency: str
    reason: str
    #: The provider's id of the payment to refund (a Stripe PaymentIntent or charge), if any.
    payment_reference: str = ""

    @property
    def money(self) -> str:
        """The amount as people read it: "12.50 EUR"."""
        return f"{money_format(self.amount, self.currency)} {self.currency}"


@dataclass(frozen=True)
class ProviderRefund:
    """What the provider says of a refund: `succeeded` (money left), `pending` (accepted but
    not confirmed: `waiting_for` "staff" or "provider"), or `failed` (with `message`)."""

    state: RefundState
    reference: str = ""
    message: str = ""
    waiting_for: str = ""
    action_url: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


class PaymentProvider(Protocol):
    name: str

    def refund(self, request: RefundRequest) -> ProviderRefund:
        """Pay the refund back (idempotent on `request.key`). Raises PermanentError (refused),
        TransientError (unknown outcome, or try later)."""
        ...

    def refund_lookup(self, request: RefundRequest) -> ProviderRefund | None:
        """The refund the provider made with `request.key`, None if it has none. Raises
        TransientError when it cannot tell."""
        ...


@dataclass(frozen=True)
class CaptureRequest:
    """A capture of part of an authorisation (what shipped), or the void of what is left."""

    key: str  # one capture (or void) per key
    order_id: int
    order_number: str
    payment_reference: str  # the authorisation (a Stripe PaymentIntent)
    amount: Decimal
    currency: str
    #: What was captured before this one (a look-up compares the provider's total with it).
    captured_before: Decimal
    #: Nothing is left to ship after this capture: the provider releases the rest.
    final: bool = False


@dataclass(frozen=True)
class ProviderCapture:
    state: Literal["succeeded", "failed"]
    reference: str = ""
    message: str = ""


class CapturingProvider(Protocol):
    """A payment service provider that captures authorisations (capture on shipment)."""

    name: str

    def capture(self, request: CaptureRequest) -> ProviderCapture:
        """Capture `request.amount` (idempotent on `request.key`). Raises PermanentError,
        TransientError (unknown outcome)."""
        ...

    def capture_lookup(self, request: CaptureRequest) -> ProviderCapture | None:
        """The capture, if the provider shows it happened; None if it did not."""
        ...

    def void(self, request: CaptureRequest) -> ProviderCapture:
        """Release what is authorised and not captured (idempotent on `request.key`)."""
        ...


@dataclass(frozen=True)
class ProviderRecord:
    """One refund as the provider lists it (for the reconciliation report)."""

    reference: str
    key: str  # our key, as the provider kept it ("" when it has none: not made by us)
    amount: Decimal
    currency: str
    state: str  # succeeded, pending, failed


class ListingProvider(Protocol):
    """A provider that lists its refunds of a day (UTC), for the reconciliation report."""

    name: str

    def refunds_on(self, day: dt.date) -> list[ProviderRecord]: ...


@dataclass(frozen=True)
class ChargeRequest:
    """A merchant-initiated charge of a saved payment method (a subscription's renewal)."""

    key: str  # one charge per key (a dunning retry has its own key)
    order_id: int
    order_number: str
    #: The saved payment method at the provider (Stripe: "cus_...:pm_...").
    payment_reference: str
    amount: Decimal
    currency: str
    description: str = ""


class ChargingProvider(Protocol):
    """A payment service provider that charges saved payment methods off-session."""

    name: str

    def charge(self, request: ChargeRequest) -> ProviderCapture:
        """Charge `request.amount` (idempotent on `request.key`): `succeeded`, or `failed` with
        the provider's message (a decline). Raises PermanentError (refused), TransientError
        (unknown outcome: ask `charge_lookup` before trying again)."""
        ...

    def charge_lookup(self, request: ChargeRequest) -> ProviderCapture | None:
        """The charge made with `request.key`, None if there is none."""
        ...
