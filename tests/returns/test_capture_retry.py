"""A failed or stuck capture on shipment: visible on the order, retried by staff (admin button,
list action, API), settled by a look-up before any new capture, never captured twice."""

from __future__ import annotations

import pytest

from fulfilment.models import Shipment
from oms.errors import Conflict, InvalidTransition, PermanentError, TransientError
from oms.roles import CUSTOMER_CARE, MANAGER, WAREHOUSE
from returns import services
from returns.models import Payment
from tests import staff
from tests.outbox import queued, run_outbox
from tests.returns.test_capture_on_shipment import psp, ship, split_order

__all__ = ["psp"]


@pytest.fixture
def first_shipped(network, psp):
    placed = split_order(network)
    first, _ = Shipment.objects.filter(order=placed).order_by("pk")
    ship(first)
    return placed, first


def test_a_failed_capture_is_retried_under_a_new_key_after_a_look_up(first_shipped, psp):
    placed, first = first_shipped
    psp.fail_next = PermanentError("Stripe: the card was declined")
    failed = services.payment_capture_shipment(shipment_id=first.pk)
    assert failed.status == "failed"
    # The automatic task does not try a refused capture again by itself.
    assert services.payment_capture_shipment(shipment_id=first.pk).pk == failed.pk
    assert psp.captures == {}

    again = services.payment_capture_retry(payment=failed, actor="care")
    assert (again.status, again.key) == ("pending", f"capture-shipment-{first.pk}-r1")
    assert again.amount == failed.amount
    assert queued("returns.payment_capture") == [
        ("returns.payment_capture", {"shipment_id": first.pk})
    ]
    assert placed.events.filter(kind="payment_capture_retried", actor="care").count() == 1
    run_outbox("returns.payment_capture")
    again.refresh_from_db()
    assert again.status == "succeeded"
    assert list(psp.captures) == [again.key]
    placed.refresh_from_db()
    assert placed.payment_status == "partially_paid"
    # Retried once: the failed record cannot be retried again, nor can the succeeded one.
    with pytest.raises(InvalidTransition):
        services.payment_capture_retry(payment=failed)
    with pytest.raises(InvalidTransition):
        services.payment_capture_retry(payment=again)


def test_a_capture_that_happened_behind_a_lost_answer_is_found_not_captured_again(
    first_shipped, psp
):
    placed, first = first_shipped
    psp.lose_next_answer = True  # the provider captures, the answer never comes back
    with pytest.raises(TransientError):
        services.payment_capture_shipment(shipment_id=first.pk)
    # The task's retries were spent: it gives up; the capture stays pending, flagged.
    services.payment_capture_gave_up(shipment_id=first.pk, reason="timeout")
    stuck = Payment.objects.get(order=placed, kind="capture")
    assert stuck.status == "pending"
    assert services.capture_is_stuck(stuck)
    assert placed.events.filter(kind="payment_capture_stuck").count() == 1

    again = services.payment_capture_retry(payment=stuck)
    assert again.pk == stuck.pk
    assert not services.capture_is_stuck(again)
    run_outbox("returns.payment_capture")
    stuck.refresh_from_db()
    assert stuck.status == "succeeded"
    assert len(psp.captures) == 1  # looked up: captured once
    assert sum(psp.received.values()) == stuck.amount


def test_a_retry_waits_for_a_capture_in_flight(first_shipped, psp):
    placed, first = first_shipped
    psp.fail_next = PermanentError("declined")
    failed = services.payment_capture_shipment(shipment_id=first.pk)
    Payment.objects.create(
        order=placed,
        provider="stripe",
        kind="capture",
        status="pending",
        amount=1,
        currency="EUR",
        key="capture-shipment-999999",
    )
    with pytest.raises(Conflict) as caught:
        services.payment_capture_retry(payment=failed)
    assert caught.value.code == "capture_in_flight"
    assert Payment.objects.filter(order=placed, status="pending").count() == 1


def test_staff_see_and_retry_a_failed_capture_from_the_order_page(first_shipped, psp):
    placed, first = first_shipped
    psp.fail_next = PermanentError("Stripe: the authorisation expired")
    failed = services.payment_capture_shipment(shipment_id=first.pk)
    retry_url = f"/admin/returns/payment/{failed.pk}/retry/"

    warehouse = staff.admin_client_of(staff.user_of(WAREHOUSE))
    page = warehouse.get(f"/admin/orders/order/{placed.pk}/change/").content.decode()
    assert "Stripe: the authorisation expired" in page
    assert retry_url not in page
    assert warehouse.post(retry_url, {"next": "order"}).status_code == 403
    assert Payment.objects.filter(order=placed).count() == 2  # the authorisation, the failure

    care = staff.admin_client_of(staff.user_of(CUSTOMER_CARE))
    page = care.get(f"/admin/orders/order/{placed.pk}/change/").content.decode()
    assert retry_url in page
    assert care.get(retry_url).status_code == 405
    done = care.post(retry_url, {"next": "order"})
    assert done.status_code == 302
    assert done["Location"] == f"/admin/orders/order/{placed.pk}/change/"
    run_outbox("returns.payment_capture")
    assert Payment.objects.get(key=f"capture-shipment-{first.pk}-r1").status == "succeeded"
    # Asked again: nothing to retry (a message, nothing written).
    again = care.post(retry_url, {"next": "order"}, follow=True)
    assert "was retried already" in again.content.decode()
    assert Payment.objects.filter(order=placed, kind="capture").count() == 2
    # The payment's own page and the list action.
    page = care.get(f"/admin/returns/payment/{failed.pk}/change/")
    assert page.status_code == 200
    assert retry_url not in page.content.decode()


def test_the_api_retries_a_capture(first_shipped, psp):
    _, first = first_shipped
    psp.fail_next = PermanentError("declined")
    failed = services.payment_capture_shipment(shipment_id=first.pk)
    url = f"/api/v1/payments/{failed.pk}/retry/"
    assert staff.api_client_of(staff.user_of(WAREHOUSE)).post(url).status_code == 403
    manager = staff.api_client_of(staff.user_of(MANAGER))
    assert manager.post("/api/v1/payments/abc/retry/").status_code == 404
    assert manager.post("/api/v1/payments/999999/retry/").status_code == 404
    answer = manager.post(url)
    assert answer.status_code == 202, answer.content
    assert answer.json()["status"] == "pending"
    again = manager.post(url)
    assert again.status_code == 409
    assert again["Content-Type"].startswith("application/problem+json")
    run_outbox("returns.payment_capture")
    assert Payment.objects.get(pk=answer.json()["id"]).status == "succeeded"
