"""The Stripe provider through the official library, against a local fake Stripe (pytest-httpserver)
answering with Stripe's documented payloads: a refund that succeeds, a decline, 429, a timeout
settled by looking the refund up by its key, and Stripe's idempotent replay."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
from werkzeug import Request, Response

from inventory.models import Channel
from oms.errors import TransientError
from returns import services
from returns.models import Refund
from returns.payments.stripe_psp import StripeProvider
from returns.states import RefundStatus

PI = "pi_3OkAbcDEF123"


class FakeStripe:
    """Stripe's /v1/refunds: one refund per Idempotency-Key (a replay answers the first
    response with `Idempotent-Replayed: true`), listed by payment_intent."""

    def __init__(self) -> None:
        self.refunds: list[dict] = []
        self.answers: dict[str, tuple[int, str]] = {}
        self.posts = 0
        self.mode = "success"
        self.slow_seconds = 0.0
        self.lock = threading.Lock()
        self.answered = threading.Event()

    def create(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        key = request.headers.get("Idempotency-Key", "")
        with self.lock:
            self.posts += 1
            if key in self.answers:
                status, body = self.answers[key]
                return Response(
                    body, status, {"Idempotent-Replayed": "true"}, content_type="application/json"
                )
            status, body = self._new(form)
            if status != 429:  # Stripe does not store the answer of a rate-limited request
                self.answers[key] = (status, body)
        if self.slow_seconds:
            time.sleep(self.slow_seconds)  # the refund exists; the answer comes too late
        self.answered.set()
        return Response(body, status, content_type="application/json")

    def _new(self, form: dict[str, str]) -> tuple[int, str]:
        if self.mode == "429":
            error = {
                "code": "rate_limit",
                "message": "Too many requests hit the API too quickly.",
                "type": "invalid_request_error",
            }
            return 429, json.dumps({"error": error})
        if self.mode == "decline":
            error = {
                "code": "charge_already_refunded",
                "message": f"Charge for {form['payment_intent']} has already been refunded.",
                "type": "invalid_request_error",
            }
            return 400, json.dumps({"error": error})
        refund = {
            "id": f"re_{len(self.refunds) + 1:06d}",
            "object": "refund",
            "amount": int(form["amount"]),
            "currency": "eur",
            "payment_intent": form["payment_intent"],
            "charge": "ch_3OkAbc",
            "created": 1765000000,
            "metadata": {
                k[len("metadata[") : -1]: v for k, v in form.items() if k.startswith("metadata[")
            },
            "reason": None,
            "status": "failed" if self.mode == "failed" else "succeeded",
            "failure_reason": "expired_or_canceled_card" if self.mode == "failed" else None,
        }
        self.refunds.append(refund)
        return 200, json.dumps(refund)

    def list(self, request: Request) -> Response:
        wanted = request.args.get("payment_intent")
        data = [r for r in self.refunds if wanted is None or r["payment_intent"] == wanted]
        body = {"object": "list", "data": data, "has_more": False, "url": "/v1/refunds"}
        return Response(json.dumps(body), 200, content_type="application/json")


@pytest.fixture
def stripe_fake(httpserver):
    fake = FakeStripe()
    httpserver.expect_request("/v1/refunds", method="POST").respond_with_handler(fake.create)
    httpserver.expect_request("/v1/refunds", method="GET").respond_with_handler(fake.list)
    return fake


@pytest.fixture
def stripe_order(shipped, settings, httpserver, real_payments):
    settings.OMS_STRIPE_SECRET_KEY = "sk_test_fake"
    settings.OMS_STRIPE_API_BASE = httpserver.url_for("").rstrip("/")
    settings.OMS_STRIPE_TIMEOUT_SECONDS = 5
    o, _ = shipped
    Channel.objects.filter(pk=o.channel_id).update(payment_provider="stripe")
    services.payment_record(order=o, kind="capture", amount=o.total, reference=PI)
    return o


def provider(httpserver, timeout: float = 5.0) -> StripeProvider:
    return StripeProvider(
        secret_key="sk_test_fake", api_base=httpserver.url_for("").rstrip("/"), timeout=timeout
    )


def test_a_refund_succeeds_when_stripe_says_it_did(stripe_order, stripe_fake):
    refund = services.refund_create(order=stripe_order, amount=Decimal("12.34"), reason="late")
    done = services.refund_execute(refund=refund)
    assert (done.status, done.provider, done.provider_reference) == (
        RefundStatus.SUCCEEDED,
        "stripe",
        "re_000001",
    )
    [sent] = stripe_fake.refunds
    assert sent["amount"] == 1234  # minor units
    assert sent["metadata"]["oms_refund_key"] == refund.idempotency_key
    stripe_order.refresh_from_db()
    assert stripe_order.payment_status == "partially_refunded"


def test_a_decline_fails_the_refund_with_stripe_s_message_and_a_retry_uses_a_new_key(
    stripe_order, stripe_fake
):
    stripe_fake.mode = "decline"
    refund = services.refund_create(order=stripe_order, amount=Decimal("5.00"))
    failed = services.refund_execute(refund=refund)
    assert failed.status == RefundStatus.FAILED
    assert "has already been refunded" in failed.failure_reason
    assert stripe_order.events.filter(kind="refund_failed").count() == 1

    stripe_fake.mode = "success"
    again = services.refund_retry(refund=refund, actor="care")
    assert again.status == RefundStatus.PENDING
    assert again.provider_key == f"{refund.idempotency_key}-retry1"
    done = services.refund_execute(refund=refund)
    assert done.status == RefundStatus.SUCCEEDED
    assert len(stripe_fake.refunds) == 1
    assert stripe_fake.refunds[0]["metadata"]["oms_refund_key"] == again.provider_key


def test_a_refund_stripe_reports_failed_is_failed(stripe_order, stripe_fake):
    stripe_fake.mode = "failed"
    refund = services.refund_create(order=stripe_order, amount=Decimal("5.00"))
    failed = services.refund_execute(refund=refund)
    assert failed.status == RefundStatus.FAILED
    assert failed.failure_reason == "Stripe: expired_or_canceled_card"


def test_429_leaves_the_refund_pending_for_a_later_attempt(stripe_order, stripe_fake):
    stripe_fake.mode = "429"
    refund = services.refund_create(order=stripe_order, amount=Decimal("5.00"))
    with pytest.raises(TransientError, match="Too many requests"):
        services.refund_execute(refund=refund)
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.PENDING
    stripe_fake.mode = "success"
    assert services.refund_execute(refund=refund).status == RefundStatus.SUCCEEDED
    assert len(stripe_fake.refunds) == 1


def test_a_timeout_is_settled_by_looking_the_refund_up_and_never_pays_twice(
    stripe_order, stripe_fake, settings
):
    settings.OMS_STRIPE_TIMEOUT_SECONDS = 1
    stripe_fake.slow_seconds = 2.5  # Stripe refunds, its answer is lost
    refund = services.refund_create(order=stripe_order, amount=Decimal("7.00"))
    with pytest.raises(TransientError, match="Stripe"):
        services.refund_execute(refund=refund)
    pending = Refund.objects.get(pk=refund.pk)
    assert (pending.status, pending.attempts) == (RefundStatus.PENDING, 1)
    assert len(stripe_fake.refunds) == 1  # the money left

    assert stripe_fake.answered.wait(10)  # the fake serves one request at a time
    stripe_fake.slow_seconds = 0
    posts = stripe_fake.posts
    done = services.refund_execute(refund=refund)
    assert (done.status, done.provider_reference) == (RefundStatus.SUCCEEDED, "re_000001")
    assert stripe_fake.posts == posts  # found by its key: not asked again
    assert len(stripe_fake.refunds) == 1


def test_stripe_replays_a_repeated_key_and_the_provider_reads_the_same_refund(
    stripe_order, stripe_fake, httpserver
):
    refund = services.refund_create(order=stripe_order, amount=Decimal("3.00"))
    request = services.refunds.refund_request(Refund.objects.get(pk=refund.pk))
    psp = provider(httpserver)
    first = psp.refund(request)
    second = psp.refund(request)
    assert first == second
    assert first.reference == "re_000001"
    assert (stripe_fake.posts, len(stripe_fake.refunds)) == (2, 1)


def test_an_order_without_a_stripe_payment_fails_with_a_clear_message(
    shipped, settings, real_payments
):
    settings.OMS_STRIPE_SECRET_KEY = "sk_test_fake"
    o, _ = shipped
    Channel.objects.filter(pk=o.channel_id).update(payment_provider="stripe")
    refund = services.refund_create(order=o, amount=Decimal("3.00"))
    failed = services.refund_execute(refund=refund)
    assert failed.status == RefundStatus.FAILED
    assert "has no Stripe payment" in failed.failure_reason


# --- capture on shipment: PaymentIntents with multicapture -------------------------------------


class FakeIntent:
    """One PaymentIntent authorised for `amount` minor units (capture_method=manual,
    multicapture): captures add to amount_received, one per Idempotency-Key."""

    def __init__(self, amount: int) -> None:
        self.amount = amount
        self.received = 0
        self.status = "requires_capture"
        self.answers: dict[str, str] = {}
        self.captures: list[dict[str, str]] = []
        self.slow_seconds = 0.0
        self.answered = threading.Event()

    def body(self) -> str:
        return json.dumps(
            {
                "id": PI,
                "object": "payment_intent",
                "amount": self.amount,
                "amount_capturable": 0
                if self.status != "requires_capture"
                else self.amount - self.received,
                "amount_received": self.received,
                "currency": "eur",
                "capture_method": "manual",
                "latest_charge": "ch_3OkAbc",
                "status": self.status,
            }
        )

    def capture(self, request: Request) -> Response:
        key = request.headers.get("Idempotency-Key", "")
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        if key not in self.answers:
            self.captures.append(form)
            self.received += int(form["amount_to_capture"])
            if form.get("final_capture") == "true" or self.received >= self.amount:
                self.status = "succeeded"
            self.answers[key] = self.body()
        if self.slow_seconds:
            time.sleep(self.slow_seconds)
        self.answered.set()
        return Response(self.answers[key], 200, content_type="application/json")

    def cancel(self, request: Request) -> Response:
        self.status = "canceled"
        return Response(self.body(), 200, content_type="application/json")

    def retrieve(self, request: Request) -> Response:
        return Response(self.body(), 200, content_type="application/json")


@pytest.fixture
def intent(httpserver):
    fake = FakeIntent(5101)
    base = f"/v1/payment_intents/{PI}"
    httpserver.expect_request(f"{base}/capture", method="POST").respond_with_handler(fake.capture)
    httpserver.expect_request(f"{base}/cancel", method="POST").respond_with_handler(fake.cancel)
    httpserver.expect_request(base, method="GET").respond_with_handler(fake.retrieve)
    return fake


def _capture(amount: str, key: str, *, before: str = "0", final: bool = False):
    from returns.payments import CaptureRequest

    return CaptureRequest(
        key=key,
        order_id=1,
        order_number="100001",
        payment_reference=PI,
        amount=Decimal(amount),
        currency="EUR",
        captured_before=Decimal(before),
        final=final,
    )


def test_stripe_captures_in_parts_and_a_lost_answer_is_found_by_amount_received(httpserver, intent):
    psp = provider(httpserver, timeout=1.0)
    first = psp.capture(_capture("29.96", "capture-shipment-1"))
    assert first.state == "succeeded"
    assert intent.captures[0] == {
        "amount_to_capture": "2996",
        "final_capture": "false",
        "metadata[oms_last_capture_key]": "capture-shipment-1",
    }
    intent.slow_seconds = 2.5  # Stripe captures, the answer is lost
    intent.answered.clear()
    second = _capture("21.05", "capture-shipment-2", before="29.96", final=True)
    with pytest.raises(TransientError):
        psp.capture(second)
    assert intent.answered.wait(10)
    intent.slow_seconds = 0
    assert psp.capture_lookup(second) is not None  # amount_received covers it
    assert psp.capture_lookup(_capture("1.00", "capture-shipment-3", before="51.01")) is None
    assert len(intent.captures) == 2
    assert intent.received == 5101
    assert intent.status == "succeeded"


def test_stripe_voids_what_is_left(httpserver, intent):
    psp = provider(httpserver)
    done = psp.void(_capture("51.01", "void-order-1", final=True))
    assert (done.state, intent.status) == ("succeeded", "canceled")


# --- reconciliation ------------------------------------------------------------------------------


def test_the_reconciliation_report_flags_every_difference(stripe_order, stripe_fake, care_api):
    import datetime as dt

    today = dt.datetime.now(dt.UTC).date()
    agreed = services.refund_execute(
        refund=services.refund_create(order=stripe_order, amount=Decimal("1.00"))
    )
    lost = services.refund_execute(
        refund=services.refund_create(order=stripe_order, amount=Decimal("2.00"))
    )
    changed = services.refund_execute(
        refund=services.refund_create(order=stripe_order, amount=Decimal("3.00"))
    )
    stripe_fake.refunds = [r for r in stripe_fake.refunds if r["amount"] != 200]
    next(r for r in stripe_fake.refunds if r["amount"] == 300)["amount"] = 350
    # Stripe paid a refund the OMS still shows pending (its answer was lost).
    pending = services.refund_create(order=stripe_order, amount=Decimal("4.00"))
    Refund.objects.filter(pk=pending.pk).update(provider="stripe")
    stripe_fake.refunds.append(
        {
            "id": "re_pending",
            "object": "refund",
            "amount": 400,
            "currency": "eur",
            "payment_intent": PI,
            "metadata": {"oms_refund_key": pending.idempotency_key},
            "status": "succeeded",
        }
    )
    # A refund made in Stripe's dashboard, outside the OMS.
    stripe_fake.refunds.append(
        {
            "id": "re_dashboard",
            "object": "refund",
            "amount": 500,
            "currency": "eur",
            "payment_intent": PI,
            "metadata": {},
            "status": "succeeded",
        }
    )
    report = services.payments_reconcile(provider="stripe", day=today)
    problems = {(line["refund"], line["reference"]): line["problem"] for line in report["lines"]}
    assert problems == {
        (agreed.pk, agreed.provider_reference): "",
        (lost.pk, lost.provider_reference): "missing_at_provider",
        (changed.pk, changed.provider_reference): "amount_differs",
        (pending.pk, "re_pending"): "status_differs",
        (None, "re_dashboard"): "unknown_to_oms",
    }
    assert report["differences"] == 4

    response = care_api.get(f"/api/v1/payments/reconciliation/?provider=stripe&date={today}")
    assert response.status_code == 200
    assert response.json()["differences"] == 4
    bad = care_api.get("/api/v1/payments/reconciliation/?provider=stripe&date=yesterday")
    assert bad.status_code == 400
    # The manual provider's side: staff's confirmations (test_reconciliation_pages.py).
    manual = care_api.get(f"/api/v1/payments/reconciliation/?provider=manual&date={today}")
    assert manual.status_code == 200
