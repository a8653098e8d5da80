"""The order page's payments panel: paid, refunded and refundable, each payment and refund with
its status and provider reference; "Refund" by lines (the amount previewed) or by amount
through the refund service; "Mark as paid" for orders held for their payment."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.errors import Conflict, ValidationFailed
from oms.roles import CUSTOMER_CARE, WAREHOUSE
from orders.models import Order
from returns import services
from returns.models import Payment, Refund
from tests import staff
from tests.fulfilment.conftest import order, put
from tests.outbox import run_outbox


@pytest.fixture
def care(db):
    return staff.admin_client_of(staff.user_of(CUSTOMER_CARE))


@pytest.fixture
def uneven(network, reasons):
    """A paid order: 3 A at 10.00 less 0.01 (29.99: it does not split evenly) and 1 B at 10.00,
    shipping 4.95."""
    put(network, "BER", "A", 5)
    put(network, "BER", "B", 5)
    placed = order("HAMBURG", {"A": 3, "B": 1}, shipping_price="4.95")
    line = placed.lines.get(sku_code="A")
    line.discount = Decimal("0.01")
    line.save(update_fields=["discount"])
    Order.objects.filter(pk=placed.pk).update(total=Decimal("44.94"))
    placed.refresh_from_db()
    return placed, {ln.sku_code: ln for ln in placed.lines.all()}


def page_of(client, o) -> str:
    answer = client.get(f"/admin/orders/order/{o.pk}/change/")
    assert answer.status_code == 200
    return answer.content.decode()


def test_the_panel_shows_paid_refunded_refundable_and_each_record(uneven, care):
    o, _ = uneven
    services.payment_record(order=o, kind="capture", amount=o.total, reference="ch_PAID1")
    refund = services.refund_create(order=o, amount=Decimal("4.94"), reason="late")
    services.refund_execute(refund=refund)
    html = page_of(care, o)
    assert 'id="order-payments-heading">Payments<' in html
    assert '<dd data-amount="paid">44.94 EUR</dd>' in html
    assert '<dd data-amount="refunded">4.94 EUR</dd>' in html
    assert "<strong>40.00 EUR</strong>" in html
    assert "ch_PAID1" in html
    assert f"/admin/returns/refund/{refund.pk}/change/" in html
    assert refund.provider_reference in html
    assert f"/admin/returns/payment/order/{o.pk}/refund/" in html
    assert "Mark as paid" not in html  # not held for its payment

    warehouse = staff.admin_client_of(staff.user_of(WAREHOUSE))
    html = page_of(warehouse, o)
    assert "ch_PAID1" in html
    assert f"/admin/returns/payment/order/{o.pk}/refund/" not in html


def test_refund_a_line_previewed_then_refunded_through_the_service(uneven, care, fake_payments):
    o, lines = uneven
    url = f"/admin/returns/payment/order/{o.pk}/refund/"
    form = care.get(url)
    assert form.status_code == 200
    assert "Refundable units" in form.content.decode()
    field = f"line_{lines['A'].pk}"

    preview = care.post(url, {field: "1", "_preview": "1"})
    assert preview.status_code == 200
    assert "Suggested refund: <strong>10.00 EUR</strong>" in preview.content.decode()
    assert not Refund.objects.exists()  # a preview writes nothing

    done = care.post(url, {field: "1", "reason": "scratched", "_refund": "1"})
    assert done.status_code == 302
    assert done["Location"] == f"/admin/orders/order/{o.pk}/change/"
    refund = Refund.objects.get()
    assert (refund.amount, refund.reason) == (Decimal("10.00"), "scratched")
    assert refund.status == "pending"
    event = o.events.get(kind="refund_requested")
    assert event.data["lines"] == [{"line": lines["A"].pk, "quantity": 1}]
    run_outbox("returns.refund_execute")
    refund.refresh_from_db()
    assert refund.status == "succeeded"

    # The next units of the line follow on: the line gives back exactly its 29.99.
    care.post(url, {field: "2", "_refund": "1"})
    assert sorted(Refund.objects.values_list("amount", flat=True)) == [
        Decimal("10.00"),
        Decimal("19.99"),
    ]
    # Nothing of A is left to refund: its field is gone, a forged quantity is refused.
    again = care.post(url, {field: "1", "_refund": "1"})
    assert again.status_code == 200
    assert Refund.objects.count() == 2


def test_refund_by_amount_and_bad_inputs_change_nothing(uneven, care):
    o, lines = uneven
    url = f"/admin/returns/payment/order/{o.pk}/refund/"
    field = f"line_{lines['B'].pk}"
    for data, status, text in [
        ({"_refund": "1"}, 200, "Choose how many units"),
        ({field: "1", "amount": "5.00", "_refund": "1"}, 200, "either lines or an amount"),
        ({"amount": "5.001", "_refund": "1"}, 200, "At most 2 decimal places"),
        ({"amount": "-5", "_refund": "1"}, 200, "A refund is positive"),
        ({"amount": "abc", "_refund": "1"}, 200, "decimal string"),
        ({field: "2", "_refund": "1"}, 200, "less than or equal to 1"),
        ({"amount": "44.95", "_refund": "1"}, 409, "At most 44.94"),
    ]:
        answer = care.post(url, data)
        assert answer.status_code == status, (data, answer.status_code)
        assert text in answer.content.decode(), data
        assert "Nothing was refunded." in answer.content.decode()
    assert not Refund.objects.exists()

    preview = care.post(url, {"amount": "5.00", "_preview": "1"})
    assert "Suggested refund: <strong>5.00 EUR</strong>" in preview.content.decode()
    done = care.post(url, {"amount": "5.00", "reason": "goodwill", "_refund": "1"})
    assert done.status_code == 302
    assert Refund.objects.get().amount == Decimal("5.00")

    shipping = care.post(url, {"include_shipping": "on", "_preview": "1"})
    assert "Suggested refund: <strong>4.95 EUR</strong>" in shipping.content.decode()

    warehouse = staff.admin_client_of(staff.user_of(WAREHOUSE))
    assert warehouse.get(url).status_code == 403
    assert warehouse.post(url, {"amount": "1.00", "_refund": "1"}).status_code == 403
    assert care.get("/admin/returns/payment/order/999999/refund/").status_code == 404
    assert Refund.objects.count() == 1


def test_line_refunds_never_exceed_what_is_refundable(uneven):
    o, lines = uneven
    services.refund_create(order=o, amount=Decimal("40.00"))
    # 10.00 asked for, 4.94 left: the suggestion is capped at what is refundable.
    assert services.refund_lines_amount(order=o, lines=[(lines["B"].pk, 1)]) == Decimal("4.94")
    refund = services.refund_for_lines(order=o, lines=[(lines["B"].pk, 1)])
    assert refund.amount == Decimal("4.94")
    with pytest.raises(ValidationFailed):
        services.refund_for_lines(order=o, lines=[(lines["A"].pk, 1)])
    with pytest.raises(ValidationFailed) as caught:
        services.refund_lines_amount(order=o, lines=[(999999, 1)])
    assert "lines.0.line" in caught.value.errors


@pytest.fixture
def held(network, reasons):
    put(network, "BER", "A", 5)
    o = order("HAMBURG", {"A": 2}, payment_status="pending")
    assert o.holds.filter(reason="payment_pending", released_at__isnull=True).exists()
    return o


def test_mark_an_order_held_for_its_payment_as_paid(held, care):
    o = held
    url = f"/admin/returns/payment/order/{o.pk}/mark-paid/"
    assert url in page_of(care, o)
    warehouse = staff.admin_client_of(staff.user_of(WAREHOUSE))
    assert url not in page_of(warehouse, o)
    assert warehouse.post(url, {"reference": "SEPA-9"}).status_code == 403

    empty = care.post(url, {"reference": "  "})
    assert empty.status_code == 200
    assert "Nothing was changed" in empty.content.decode()
    assert not Payment.objects.exists()

    done = care.post(url, {"reference": "SEPA-9"})
    assert done.status_code == 302
    o.refresh_from_db()
    assert o.payment_status == "paid"
    assert not o.holds.filter(released_at__isnull=True).exists()
    payment = Payment.objects.get()
    assert (payment.kind, payment.provider, payment.amount, payment.reference) == (
        "capture",
        "manual",
        o.total,
        "SEPA-9",
    )
    assert payment.actor.startswith("Customer-care")
    html = page_of(care, o)
    assert url not in html
    assert '<dd data-amount="paid">20.00 EUR</dd>' in html
    # The same reference again is the same payment; another one is refused.
    assert services.order_mark_paid(order=o, reference="SEPA-9").pk == payment.pk
    refused = care.post(url, {"reference": "SEPA-10"})
    assert refused.status_code == 409
    assert "not held waiting for its payment" in refused.content.decode()
    assert Payment.objects.count() == 1


def test_mark_paid_through_the_api(held):
    from oms.roles import MANAGER

    url = f"/api/v1/orders/{held.pk}/mark-paid/"
    assert staff.api_client_of(staff.user_of(WAREHOUSE)).post(url, {}).status_code == 403
    manager = staff.api_client_of(staff.user_of(MANAGER))
    bad = manager.post(url, {"reference": ""}, format="json")
    assert bad.status_code == 400
    assert manager.post(url, {"reference": "X", "extra": 1}, format="json").status_code == 400
    missing = manager.post("/api/v1/orders/999999/mark-paid/", {"reference": "X"}, format="json")
    assert missing.status_code == 404
    done = manager.post(url, {"reference": "TILL-1"}, format="json")
    assert done.status_code == 201, done.content
    assert done.json()["reference"] == "TILL-1"
    held.refresh_from_db()
    assert held.payment_status == "paid"
    with pytest.raises(Conflict):
        services.order_mark_paid(order=held, reference="TILL-2")
