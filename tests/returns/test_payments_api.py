"""Manual refunds confirmed by staff, and an order's payments through the API."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inventory.models import Channel
from oms.errors import Conflict, ValidationFailed
from returns import services
from returns.models import Payment, Refund
from returns.states import RefundStatus


@pytest.fixture
def manual(shipped, real_payments):
    o, _ = shipped
    Channel.objects.filter(pk=o.channel_id).update(payment_provider="manual")
    return o


def test_a_manual_refund_waits_for_staff_and_succeeds_with_their_reference(manual):
    refund = services.refund_create(order=manual, amount=Decimal("12.00"))
    waiting = services.refund_execute(refund=refund)
    assert (waiting.status, waiting.waiting_for, waiting.provider) == (
        RefundStatus.PENDING,
        "staff",
        "manual",
    )
    assert "bank transfer" in waiting.attention_message
    manual.refresh_from_db()
    assert manual.payment_status == "paid"  # nothing went back yet

    done = services.refund_confirm(refund=refund, reference="SEPA-2026-12-07-1", actor="care")
    assert (done.status, done.provider_reference, done.waiting_for) == (
        RefundStatus.SUCCEEDED,
        "SEPA-2026-12-07-1",
        "",
    )
    manual.refresh_from_db()
    assert manual.payment_status == "partially_refunded"
    # The same confirmation again is a replay; another one is a conflict.
    assert services.refund_confirm(refund=refund, reference="SEPA-2026-12-07-1").pk == refund.pk
    with pytest.raises(Conflict) as err:
        services.refund_confirm(refund=refund, reference="OTHER")
    assert err.value.code == "refund_not_awaiting_confirmation"
    assert manual.events.filter(kind="refund_succeeded").count() == 1


def test_only_a_refund_waiting_for_staff_can_be_confirmed(shipped):
    o, _ = shipped
    refund = services.refund_create(order=o, amount=Decimal("2.00"))  # not executed yet
    with pytest.raises(Conflict):
        services.refund_confirm(refund=refund, reference="X")
    with pytest.raises(ValidationFailed):
        services.refund_confirm(refund=refund, reference="   ")
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.PENDING


def test_confirm_through_the_api(manual, care_api, warehouse_api):
    refund = services.refund_create(order=manual, amount=Decimal("3.00"))
    services.refund_execute(refund=refund)
    path = f"/api/v1/refunds/{refund.pk}/confirm/"
    assert warehouse_api.post(path, {"reference": "R"}, format="json").status_code == 403
    bad = care_api.post(path, {}, format="json")
    assert bad.status_code == 400
    assert bad["Content-Type"] == "application/problem+json"
    assert "reference" in bad.json()["errors"]
    assert care_api.post(path, {"reference": "x" * 129}, format="json").status_code == 400
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.PENDING
    ok = care_api.post(path, {"reference": "CASH-17"}, format="json")
    assert ok.status_code == 200
    assert ok.json()["status"] == "succeeded"
    again = care_api.post(path, {"reference": "CASH-18"}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "refund_not_awaiting_confirmation")
    assert care_api.post("/api/v1/refunds/999999/confirm/", {"reference": "R"}).status_code == 404


def test_a_failed_refund_is_retried_through_the_api_unless_the_money_was_given_back_since(
    shipped, care_api
):
    o, _ = shipped
    failed = services.refund_create(order=o, amount=Decimal("20.00"))
    Refund.objects.filter(pk=failed.pk).update(status="failed", failure_reason="declined")
    services.refund_execute(refund=services.refund_create(order=o, amount=Decimal("15.00")))
    response = care_api.post(f"/api/v1/refunds/{failed.pk}/retry/", {}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "refund_exceeds_paid")
    assert Refund.objects.get(pk=failed.pk).status == RefundStatus.FAILED

    Refund.objects.filter(pk=failed.pk).update(amount=Decimal("10.00"))
    response = care_api.post(f"/api/v1/refunds/{failed.pk}/retry/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "pending"


def test_an_order_s_payments_through_the_api(
    shipped, care_api, integrator_api, django_assert_num_queries
):
    o, _ = shipped
    path = f"/api/v1/orders/{o.pk}/payments/"
    created = integrator_api.post(
        path, {"kind": "authorization", "amount": "30.00", "reference": "pi_1"}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["provider"] == "channel"
    replay = integrator_api.post(
        path, {"kind": "authorization", "amount": "30.00", "reference": "pi_1"}, format="json"
    )
    assert replay.json()["id"] == created.json()["id"]
    over = integrator_api.post(
        path, {"kind": "capture", "amount": "30.01", "reference": "ch_1"}, format="json"
    )
    assert (over.status_code, over.json()["code"]) == (409, "payment_exceeds_authorized")
    for body in (
        {"kind": "void", "amount": "1.00", "reference": "x"},
        {"kind": "capture", "amount": "1.001", "reference": "x"},
        {"kind": "capture", "amount": 1, "reference": "x"},
        {"kind": "capture", "amount": "1.00"},
    ):
        bad = integrator_api.post(path, body, format="json")
        assert bad.status_code == 400, body
        assert bad["Content-Type"] == "application/problem+json"
    assert Payment.objects.count() == 1
    integrator_api.post(
        path, {"kind": "capture", "amount": "30.00", "reference": "ch_1"}, format="json"
    )
    services.refund_execute(refund=services.refund_create(order=o, amount=Decimal("4.50")))

    # The token, the groups and two permission reads (4), then the order, payments, refunds.
    with django_assert_num_queries(4 + 3):
        response = care_api.get(path)
    assert response.status_code == 200
    body = response.json()
    assert {
        k: body[k] for k in ("authorized", "captured", "voided", "refunded", "refund_pending")
    } == {
        "authorized": "30.00",
        "captured": "30.00",
        "voided": "0.00",
        "refunded": "4.50",
        "refund_pending": "0.00",
    }
    assert [p["kind"] for p in body["payments"]] == ["authorization", "capture"]
    assert body["refunds"][0]["provider_reference"].startswith("fake-")
    assert care_api.get("/api/v1/orders/999999/payments/").status_code == 404
    assert care_api.get("/api/v1/orders/abc/payments/").status_code == 404
