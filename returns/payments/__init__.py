"""The payment port: who pays an order's refunds back, resolved per order from its channel's
`payment_provider` (`channel`, `stripe`, `manual`).

Invariants:
- a provider is called with the refund's provider key (its idempotency key, a new one per retry
  after a failure), so a repeated call never pays twice, and can be asked by that key whether
  the refund exists (`refund_lookup`) before any call whose earlier outcome is unknown;
- a provider answers what it knows: `succeeded` (the money left), `pending` (accepted, waiting
  for the provider's processing or for staff: cash, a bank transfer, a channel without a refund
  API), or raises PermanentError (refused: the refund fails with that message) or
  TransientError (unknown or retry later: nothing is recorded but the attempt);
- the `channel` provider is registered by the channels app (its connectors) at start-up; with
  none registered (the returns app on its own layer) a channel refund is a task for staff;
- a provider that captures (Stripe) also implements CapturingProvider: capture on shipment
  captures what shipped (`final` on the last one, releasing the rest) and voids what is left
  when the rest is cancelled, each keyed, each looked up before a retry of an unknown outcome;
- a provider that charges saved payment methods (Stripe) also implements ChargingProvider: a
  subscription's renewal is charged off-session, keyed per attempt, looked up before a retry of
  an unknown outcome;
- nothing here writes to the database: returns.services.refunds records the outcomes.
"""

from __future__ import annotations

from returns.payments.port import (
    CaptureRequest,
    CapturingProvider,
    ChargeRequest,
    ChargingProvider,
    ListingProvider,
    PaymentProvider,
    ProviderCapture,
    ProviderRecord,
    ProviderRefund,
    RefundRequest,
)
from returns.payments.registry import (
    capturing_provider_for,
    charging_provider_for,
    listing_provider_for,
    payment_provider_for,
    payment_provider_override,
    payment_provider_register,
)

__all__ = [
    "CaptureRequest",
    "CapturingProvider",
    "ChargeRequest",
    "ChargingProvider",
    "ListingProvider",
    "PaymentProvider",
    "ProviderCapture",
    "ProviderRecord",
    "ProviderRefund",
    "RefundRequest",
    "capturing_provider_for",
    "charging_provider_for",
    "listing_provider_for",
    "payment_provider_for",
    "payment_provider_override",
    "payment_provider_register",
]
