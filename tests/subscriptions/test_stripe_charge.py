"""Renewal charges through the Stripe provider (official library) against a local fake Stripe
(pytest-httpserver): an off-session PaymentIntent per key (a replay answers the first one), a
card decline is a failed charge (dunning tries again), 5xx is transient, and a charge whose
answer was lost is found again by Stripe's search on our key."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
from werkzeug import Request, Response

from oms.errors import PermanentError, TransientError
from returns.payments import ChargeRequest
from returns.payments.stripe_psp import StripeProvider


class FakeIntents:
    def __init__(self) -> None:
        self.intents: dict[str, dict] = {}
        self.mode = "success"
        self.posts: list[dict[str, str]] = []

    def create(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        self.posts.append(form)
        key = request.headers.get("Idempotency-Key", "")
        if self.mode == "500":
            return Response(json.dumps({"error": {"message": "boom"}}), 500)
        if self.mode == "decline":
            error = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
            }
            return Response(json.dumps({"error": error}), 402, content_type="application/json")
        intent = self.intents.setdefault(
            key,
            {
                "id": f"pi_{len(self.intents) + 1:06d}",
                "object": "payment_intent",
                "status": "succeeded",
                "amount": int(form["amount"]),
                "metadata": {"oms_charge_key": form["metadata[oms_charge_key]"]},
            },
        )
        return Response(json.dumps(intent), 200, content_type="application/json")

    def search(self, request: Request) -> Response:
        query = request.args.get("query", "")
        found = [i for i in self.intents.values() if i["metadata"]["oms_charge_key"] in query]
        body = {"object": "search_result", "data": found, "has_more": False, "url": "/v1/x"}
        return Response(json.dumps(body), 200, content_type="application/json")


@pytest.fixture
def stripe(httpserver):
    fake = FakeIntents()
    httpserver.expect_request("/v1/payment_intents", method="POST").respond_with_handler(
        fake.create
    )
    httpserver.expect_request("/v1/payment_intents/search", method="GET").respond_with_handler(
        fake.search
    )
    psp = StripeProvider(
        secret_key="sk_test_fake", api_base=httpserver.url_for("").rstrip("/"), timeout=5.0
    )
    return fake, psp


def request(key: str = "sub-1-renewal-1-attempt-1", reference: str = "cus_A:pm_B") -> ChargeRequest:
    return ChargeRequest(
        key=key,
        order_id=1,
        order_number="100001",
        payment_reference=reference,
        amount=Decimal("32.90"),
        currency="EUR",
        description="Subscription 5001, renewal 1",
    )


def test_a_charge_is_an_off_session_payment_intent_once_per_key(stripe):
    fake, psp = stripe
    first = psp.charge(request())
    again = psp.charge(request())
    assert (first.state, first.reference) == ("succeeded", "pi_000001")
    assert again.reference == first.reference
    form = fake.posts[0]
    assert form["amount"] == "3290"
    assert form["customer"] == "cus_A"
    assert form["payment_method"] == "pm_B"
    assert form["off_session"] == "true"
    assert form["confirm"] == "true"
    assert psp.charge_lookup(request()) == first
    assert psp.charge_lookup(request(key="other")) is None


def test_a_decline_is_a_failed_charge_and_5xx_is_transient(stripe):
    fake, psp = stripe
    fake.mode = "decline"
    declined = psp.charge(request())
    assert declined.state == "failed"
    assert "insufficient funds" in declined.message
    fake.mode = "500"
    with pytest.raises(TransientError):
        psp.charge(request(key="k2"))


def test_a_reference_that_is_not_a_saved_method_is_refused(stripe):
    _, psp = stripe
    with pytest.raises(PermanentError):
        psp.charge(request(reference="pi_123"))
