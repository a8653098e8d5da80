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
from decimal import Decimal
from pathlib import Path

from django.conf import settings

from oms.errors import TransientError
from returns.payments import (
    CaptureRequest,
    ChargeRequest,
    ProviderCapture,
    ProviderRefund,
    RefundRequest,
)


class FakePaymentAdapter:
    """Always succeeds; one refund per provider key."""

    name = "fake"

    def __init__(self, journal: Path | None = None, delay_ms: int = 0) -> None:
        self.calls: dict[str, ProviderRefund] = {}
        self.charges: dict[str, ProviderCapture] = {}
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

    # Charges of saved payment methods (subscriptions): a reference starting with "decline"
    # is declined; `charges` keeps one outcome per key, like a provider's idempotency.
    # With a journal folder (worker processes), a charge is a file written once per key before
    # the answer is delayed: a worker killed during the delay was charged, its answer lost.
    def charge(self, request: ChargeRequest) -> ProviderCapture:
        if request.payment_reference.startswith("decline"):
            result = ProviderCapture(state="failed", message="Your card was declined.")
        else:
            result = ProviderCapture(state="succeeded", reference=f"pi-{request.key[:40]}")
        if self.journal is None:
            return self.charges.setdefault(request.key, result)
        self.journal.mkdir(parents=True, exist_ok=True)
        with open(self.journal / "charge-calls.log", "a") as calls:
            calls.write(f"{request.key} {os.getpid()}\n")
        record = {"state": result.state, "reference": result.reference, "message": result.message}
        try:
            with open(self._path(f"charge-{request.key}"), "x") as file:  # once per key
                json.dump({**record, "amount": str(request.amount), "pid": os.getpid()}, file)
        except FileExistsError:
            pass
        if self.delay_ms:
            time.sleep(self.delay_ms / 1000)
        return self.charge_lookup(request) or result

    def charge_lookup(self, request: ChargeRequest) -> ProviderCapture | None:
        if self.journal is None:
            return self.charges.get(request.key)
        try:
            with open(self._path(f"charge-{request.key}")) as file:
                found = json.load(file)
        except (FileNotFoundError, ValueError):
            return None
        return ProviderCapture(
            state=found["state"], reference=found["reference"], message=found["message"]
        )

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

    def charge(self, request: ChargeRequest) -> ProviderCapture:
        return self._fake().charge(request)

    def charge_lookup(self, request: ChargeRequest) -> ProviderCapture | None:
        return self._fake().charge_lookup(request)


class FakeCapturingProvider(FakePaymentAdapter):
    """A fake payment service provider that also captures and voids authorisations: it keeps
    what it captured per authorisation, like Stripe's `amount_received`."""

    def __init__(self) -> None:
        super().__init__()
        self.captures: dict[str, Decimal] = {}
        self.received: dict[str, Decimal] = {}
        self.voids: list[str] = []
        self.fail_next: Exception | None = None
        self.lose_next_answer = False

    def capture(self, request: CaptureRequest) -> ProviderCapture:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        if request.key not in self.captures:
            self.captures[request.key] = request.amount
            reference = request.payment_reference
            self.received[reference] = self.received.get(reference, Decimal(0)) + request.amount
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise TransientError("the answer was lost")
        return ProviderCapture(state="succeeded", reference=f"ch-{request.key}")

    def capture_lookup(self, request: CaptureRequest) -> ProviderCapture | None:
        received = self.received.get(request.payment_reference, Decimal(0))
        if received >= request.captured_before + request.amount:
            return ProviderCapture(state="succeeded", reference=f"ch-{request.key}")
        return None

    def void(self, request: CaptureRequest) -> ProviderCapture:
        if request.key not in self.voids:
            self.voids.append(request.key)
        return ProviderCapture(state="succeeded", reference=request.payment_reference)
