"""The payment provider that executes refunds, behind a Protocol, with a fake that succeeds.

Invariants: the provider is called with the refund's idempotency key, so that a retried call
never pays twice, and can be asked by that key whether a refund already happened; it raises
TransientError (retry) or PermanentError (the refund failed).

The fake keeps its refunds in memory, or, when OMS_FAKE_PAYMENTS_DIR is set, as one file per
idempotency key in that folder (created exclusively), so that it behaves like a provider outside
our processes: a worker that dies after the call and before storing the outcome finds the refund
there on its next attempt. OMS_FAKE_PAYMENTS_DELAY_MS slows each refund down (fault tests).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from django.conf import settings


@dataclass(frozen=True)
class RefundResult:
    reference: str


class PaymentAdapter(Protocol):
    def refund(
        self, *, order_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> RefundResult: ...

    def refund_lookup(self, *, idempotency_key: str) -> RefundResult | None:
        """The refund made with this key, or None if the provider has none."""


class FakePaymentAdapter:
    """Always succeeds; one refund per idempotency key, like a real provider."""

    def __init__(self, journal: Path | None = None, delay_ms: int = 0) -> None:
        self.calls: dict[str, RefundResult] = {}
        self.journal = journal
        self.delay_ms = delay_ms

    def refund(
        self, *, order_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> RefundResult:
        if self.delay_ms:
            time.sleep(self.delay_ms / 1000)
        result = RefundResult(reference=f"fake-{idempotency_key[:16]}")
        if self.journal is None:
            return self.calls.setdefault(idempotency_key, result)
        self.journal.mkdir(parents=True, exist_ok=True)
        record = {"reference": result.reference, "amount": str(amount), "currency": currency}
        try:
            with open(self._path(idempotency_key), "x") as file:  # exclusive: once per key
                json.dump({**record, "order": order_reference, "pid": os.getpid()}, file)
        except FileExistsError:
            pass
        found = self.refund_lookup(idempotency_key=idempotency_key)
        return found or result

    def refund_lookup(self, *, idempotency_key: str) -> RefundResult | None:
        if self.journal is None:
            return self.calls.get(idempotency_key)
        try:
            with open(self._path(idempotency_key)) as file:
                return RefundResult(reference=str(json.load(file)["reference"]))
        except (FileNotFoundError, ValueError, KeyError):
            return None

    def _path(self, key: str) -> Path:
        assert self.journal is not None
        return self.journal / f"{''.join(c for c in key if c.isalnum() or c in '-_')}.json"


_default: FakePaymentAdapter | None = None


def payment_adapter() -> PaymentAdapter:
    """The configured payment adapter (the fake until a real provider is wired)."""
    global _default
    journal = settings.OMS_FAKE_PAYMENTS_DIR
    wanted = Path(journal) if journal else None
    if _default is None or _default.journal != wanted:
        _default = FakePaymentAdapter(wanted, settings.OMS_FAKE_PAYMENTS_DELAY_MS)
    return _default
