"""The fake payment provider of the tests (never shipped in the product): it pays every refund,
once per provider key, like a real provider.

It keeps its refunds in memory, or, with a journal folder (OMS_FAKE_PAYMENTS_DIR for worker
processes of the fault tests), as one file per key in that folder (created exclusively), so that
it behaves like a provider outside our processes: a worker that dies after the call and before
storing the outcome finds the refund there on its next attempt. OMS_FAKE_PAYMENTS_DELAY_MS slows
each refund down.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from django.conf import settings

from returns.payments import ProviderRefund, RefundRequest


class FakePaymentAdapter:
    """Always succeeds; one refund per provider key."""

    name = "fake"

    def __init__(self, journal: Path | None = None, delay_ms: int = 0) -> None:
        self.calls: dict[str, ProviderRefund] = {}
        self.journal = journal
        self.delay_ms = delay_ms

    def refund(self, request: RefundRequest) -> ProviderRefund:
        if self.delay_ms:
            time.sleep(self.delay_ms / 1000)
        result = ProviderRefund(state="succeeded", reference=f"fake-{request.key[:16]}")
        if self.journal is None:
            return self.calls.setdefault(request.key, result)
        self.journal.mkdir(parents=True, exist_ok=True)
        record = {"reference": result.reference, "amount": str(request.amount)}
        try:
            with open(self._path(request.key), "x") as file:  # exclusive: once per key
                json.dump({**record, "order": request.order_number, "pid": os.getpid()}, file)
        except FileExistsError:
            pass
        return self.refund_lookup(request) or result

    def refund_lookup(self, request: RefundRequest) -> ProviderRefund | None:
        if self.journal is None:
            return self.calls.get(request.key)
        try:
            with open(self._path(request.key)) as file:
                reference = str(json.load(file)["reference"])
        except (FileNotFoundError, ValueError, KeyError):
            return None
        return ProviderRefund(state="succeeded", reference=reference)

    def _path(self, key: str) -> Path:
        assert self.journal is not None
        return self.journal / f"{''.join(c for c in key if c.isalnum() or c in '-_')}.json"


class ConfiguredFake:
    """The fake as the settings describe it (journal folder and delay read at each call), for
    OMS_PAYMENT_PROVIDER_OVERRIDE=tests.returns.fakes.ConfiguredFake in worker processes."""

    name = "fake"

    def _fake(self) -> FakePaymentAdapter:
        journal = settings.OMS_FAKE_PAYMENTS_DIR
        return FakePaymentAdapter(
            Path(journal) if journal else None, settings.OMS_FAKE_PAYMENTS_DELAY_MS
        )

    def refund(self, request: RefundRequest) -> ProviderRefund:
        return self._fake().refund(request)

    def refund_lookup(self, request: RefundRequest) -> ProviderRefund | None:
        return self._fake().refund_lookup(request)
