"""Stripe as the payment service provider, through the official `stripe` library.

Invariants:
- every refund is created with our key as Stripe's `Idempotency-Key` and in its metadata
  (`oms_refund_key`): a repeated call is replayed by Stripe, never paid twice, and the refund
  can be found again by listing the payment's refunds (Stripe has no look-up by idempotency key);
- the library's own network retries are off: a call not answered (timeout, connection lost) is
  of unknown outcome and raises TransientError; the refund service then looks the refund up by
  its key before any new call;
- 429 and 5xx raise TransientError; a decline or a refused request (400, 402, 404, a key reused
  with other parameters) raises PermanentError with Stripe's message; Stripe's refund `status`
  maps to ours: succeeded -> succeeded, pending / requires_action -> pending (processing),
  failed / canceled -> failed with its `failure_reason`;
- amounts go to Stripe in minor units of the currency (oms.money.to_minor).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import stripe
from django.conf import settings

from oms.errors import PermanentError, TransientError
from oms.money import from_minor, to_minor
from returns.payments.port import (
    CaptureRequest,
    ChargeRequest,
    ProviderCapture,
    ProviderRecord,
    ProviderRefund,
    RefundRequest,
)

METADATA_KEY = "oms_refund_key"


class StripeProvider:
    name = "stripe"

    def __init__(self, *, secret_key: str, api_base: str, timeout: float) -> None:
        self.secret_key = secret_key
        self.client = stripe.StripeClient(
            secret_key or "sk_unset",
            base_addresses={"api": api_base},
            max_network_retries=0,
            http_client=stripe.HTTPXClient(timeout=timeout, allow_sync_methods=True),
        )

    @classmethod
    def from_settings(cls) -> StripeProvider:
        return cls(
            secret_key=settings.OMS_STRIPE_SECRET_KEY,
            api_base=settings.OMS_STRIPE_API_BASE,
            timeout=float(settings.OMS_STRIPE_TIMEOUT_SECONDS),
        )

    def _payment(self, request: RefundRequest) -> dict[str, str]:
        if not self.secret_key:
            raise PermanentError("Stripe is not configured (OMS_STRIPE_SECRET_KEY).")
        reference = request.payment_reference
        if reference.startswith("pi_"):
            return {"payment_intent": reference}
        if reference.startswith(("ch_", "py_")):
            return {"charge": reference}
        raise PermanentError(
            f"Order {request.order_number or request.order_id} has no Stripe payment to refund "
            "(record its PaymentIntent: POST /api/v1/orders/{id}/payments/)."
        )

    def refund(self, request: RefundRequest) -> ProviderRefund:
        params: Any = {  # the library's TypedDicts name these keys
            **self._payment(request),
            "amount": to_minor(request.amount, request.currency),
            "metadata": {METADATA_KEY: request.key, "oms_order": request.order_number},
        }
        try:
            refund = self.client.v1.refunds.create(
                params=params, options={"idempotency_key": request.key}
            )
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        return _outcome(refund.to_dict())

    def refund_lookup(self, request: RefundRequest) -> ProviderRefund | None:
        params: Any = {**self._payment(request), "limit": 100}
        try:
            page = self.client.v1.refunds.list(params=params)
            for found in page.auto_paging_iter():
                refund = found.to_dict()
                if (refund.get("metadata") or {}).get(METADATA_KEY) == request.key:
                    return _outcome(refund)
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        return None

    def refunds_on(self, day: dt.date) -> list[ProviderRecord]:
        """Stripe's refunds created on `day` (UTC), every page."""
        if not self.secret_key:
            raise PermanentError("Stripe is not configured (OMS_STRIPE_SECRET_KEY).")
        start = int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp())
        params: Any = {"created": {"gte": start, "lt": start + 86400}, "limit": 100}
        records = []
        try:
            page = self.client.v1.refunds.list(params=params)
            for found in page.auto_paging_iter():
                refund = found.to_dict()
                currency = str(refund.get("currency") or "").upper()
                outcome = _outcome(refund)
                records.append(
                    ProviderRecord(
                        reference=str(refund.get("id") or ""),
                        key=str((refund.get("metadata") or {}).get(METADATA_KEY) or ""),
                        amount=from_minor(int(refund.get("amount") or 0), currency),
                        currency=currency,
                        state=outcome.state,
                    )
                )
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        return records

    # --- capture on shipment (PaymentIntents authorised with capture_method=manual and, for
    # split shipments, request_multicapture: each capture but the last has final_capture false)

    def _intent(self, request: CaptureRequest) -> str:
        if not self.secret_key:
            raise PermanentError("Stripe is not configured (OMS_STRIPE_SECRET_KEY).")
        if not request.payment_reference.startswith("pi_"):
            raise PermanentError(
                f"Order {request.order_number} has no Stripe PaymentIntent to capture."
            )
        return request.payment_reference

    def capture(self, request: CaptureRequest) -> ProviderCapture:
        intent = self._intent(request)
        params: Any = {
            "amount_to_capture": to_minor(request.amount, request.currency),
            "final_capture": request.final,
            "metadata": {"oms_last_capture_key": request.key},
        }
        try:
            answer = self.client.v1.payment_intents.capture(
                intent, params=params, options={"idempotency_key": request.key}
            ).to_dict()
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        return ProviderCapture(
            state="succeeded", reference=str(answer.get("latest_charge") or intent)
        )

    def capture_lookup(self, request: CaptureRequest) -> ProviderCapture | None:
        """Stripe keeps no list of a PaymentIntent's captures by key: its `amount_received`
        tells whether this capture happened (it covers what we captured before and this)."""
        intent = self._intent(request)
        try:
            answer = self.client.v1.payment_intents.retrieve(intent).to_dict()
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        wanted = to_minor(request.captured_before + request.amount, request.currency)
        if int(answer.get("amount_received") or 0) >= wanted:
            return ProviderCapture(
                state="succeeded", reference=str(answer.get("latest_charge") or intent)
            )
        return None

    def void(self, request: CaptureRequest) -> ProviderCapture:
        intent = self._intent(request)
        try:
            answer = self.client.v1.payment_intents.cancel(
                intent,
                params={"cancellation_reason": "abandoned"},
                options={"idempotency_key": request.key},
            ).to_dict()
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        return ProviderCapture(state="succeeded", reference=str(answer.get("id") or intent))

    # --- subscriptions: off-session charges of a saved payment method ("cus_...:pm_...")

    def _saved_method(self, request: ChargeRequest) -> tuple[str, str]:
        if not self.secret_key:
            raise PermanentError("Stripe is not configured (OMS_STRIPE_SECRET_KEY).")
        customer, _, method = request.payment_reference.partition(":")
        if not customer.startswith("cus_") or not method.startswith("pm_"):
            raise PermanentError(
                "The subscription has no saved Stripe payment method (cus_...:pm_...)."
            )
        return customer, method

    def charge(self, request: ChargeRequest) -> ProviderCapture:
        customer, method = self._saved_method(request)
        params: Any = {
            "amount": to_minor(request.amount, request.currency),
            "currency": request.currency.lower(),
            "customer": customer,
            "payment_method": method,
            "off_session": True,
            "confirm": True,
            "description": request.description[:200],
            "metadata": {CHARGE_METADATA_KEY: request.key, "oms_order": request.order_number},
        }
        try:
            answer = self.client.v1.payment_intents.create(
                params=params, options={"idempotency_key": request.key}
            ).to_dict()
        except stripe.CardError as exc:  # a decline: the charge failed, dunning tries again
            return ProviderCapture(state="failed", message=f"Stripe: {exc.user_message or exc}")
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        return _charge_outcome(answer)

    def charge_lookup(self, request: ChargeRequest) -> ProviderCapture | None:
        """Stripe's search of PaymentIntents by our key in their metadata."""
        self._saved_method(request)
        params: Any = {"query": f"metadata['{CHARGE_METADATA_KEY}']:'{request.key}'"}
        try:
            page = self.client.v1.payment_intents.search(params=params).to_dict()
        except stripe.StripeError as exc:
            raise _mapped(exc) from exc
        found = page.get("data") or []
        return _charge_outcome(found[0]) if found else None


CHARGE_METADATA_KEY = "oms_charge_key"


def _charge_outcome(intent: dict[str, Any]) -> ProviderCapture:
    status = str(intent.get("status") or "")
    reference = str(intent.get("id") or "")
    if status == "succeeded":
        return ProviderCapture(state="succeeded", reference=reference)
    if status == "processing":
        raise TransientError("Stripe: the charge is processing.")
    return ProviderCapture(
        state="failed", reference=reference, message=f"Stripe: the charge is {status}."
    )


def _outcome(refund: dict[str, Any]) -> ProviderRefund:
    status = str(refund.get("status") or "")
    reference = str(refund.get("id") or "")
    if status == "succeeded":
        return ProviderRefund(state="succeeded", reference=reference)
    if status in ("failed", "canceled"):
        reason = str(refund.get("failure_reason") or status)
        return ProviderRefund(state="failed", reference=reference, message=f"Stripe: {reason}")
    return ProviderRefund(
        state="pending",
        reference=reference,
        waiting_for="provider",
        message=f"Stripe: the refund is {status or 'processing'}.",
    )


def _mapped(exc: stripe.StripeError) -> Exception:
    message = f"Stripe: {exc.user_message or exc}"[:500]
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return TransientError(message)
    if isinstance(exc, stripe.APIError) or (exc.http_status or 0) >= 500:
        return TransientError(message)
    return PermanentError(message)
