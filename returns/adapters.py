"""The payment provider that executes refunds, behind a Protocol, with a fake that succeeds.

Invariant: the provider is called with the refund's idempotency key, so that a retried call
never pays twice; it raises TransientError (retry) or PermanentError (the refund failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class RefundResult:
    reference: str


class PaymentAdapter(Protocol):
    def refund(
        self, *, order_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> RefundResult: ...


class FakePaymentAdapter:
    """Always succeeds; remembers its calls (per idempotency key) like a real provider would."""

    def __init__(self) -> None:
        self.calls: dict[str, RefundResult] = {}

    def refund(
        self, *, order_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> RefundResult:
        if idempotency_key not in self.calls:
            self.calls[idempotency_key] = RefundResult(reference=f"fake-{idempotency_key[:16]}")
        return self.calls[idempotency_key]


_default = FakePaymentAdapter()


def payment_adapter() -> PaymentAdapter:
    """The configured payment adapter (the fake until a real provider is wired)."""
    return _default
