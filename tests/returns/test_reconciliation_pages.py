"""The reconciliation of the `manual` provider (OMS records against staff's confirmations) and
the back office's reconciliation page (a provider and a day, differences flagged)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import Channel
from oms.roles import CUSTOMER_CARE, WAREHOUSE
from orders.models import OrderEvent
from returns import services
from tests import staff


@pytest.fixture
def manual(shipped, real_payments):
    o, _ = shipped
    Channel.objects.filter(pk=o.channel_id).update(payment_provider="manual")
    refunds = []
    for amount in ("1.00", "2.00", "3.00"):
        refund = services.refund_create(order=o, amount=Decimal(amount))
        refunds.append(services.refund_execute(refund=refund))
    return o, refunds


def test_manual_refunds_reconcile_against_staff_confirmations(manual):
    _, (first, second, waiting) = manual
    services.refund_confirm(refund=first, reference="SEPA-1", actor="care")
    services.refund_confirm(refund=second, reference="SEPA-1", actor="care")  # the same
    today = timezone.now().date()
    report = services.payments_reconcile(provider="manual", day=today)
    problems = {line["refund"]: line["problem"] for line in report["lines"]}
    assert problems == {
        first.pk: "reference_reused",
        second.pk: "reference_reused",
        waiting.pk: "awaiting_confirmation",
    }
    assert report["provider_refunds"] == 2

    # A confirmation whose amount is not the refund's (a record changed behind the OMS's back).
    event = OrderEvent.objects.get(kind="refund_succeeded", data__refund_id=first.pk)
    event.data = {**event.data, "amount": "1.50", "reference": "SEPA-9"}
    event.save(update_fields=["data"])
    report = services.payments_reconcile(provider="manual", day=today)
    problems = {line["refund"]: line["problem"] for line in report["lines"]}
    assert problems[first.pk] == "amount_differs"
    assert problems[second.pk] == ""
    # A refund the OMS says succeeded with no confirmation behind it.
    event.delete()
    report = services.payments_reconcile(provider="manual", day=today)
    problems = {line["refund"]: line["problem"] for line in report["lines"]}
    assert problems[first.pk] == "missing_at_provider"


def test_the_reconciliation_page(manual):
    _, (first, _, _) = manual
    services.refund_confirm(refund=first, reference="SEPA-1", actor="care")
    care = staff.admin_client_of(staff.user_of(CUSTOMER_CARE))
    listing = care.get("/admin/returns/payment/")
    assert listing.status_code == 200
    url = "/admin/returns/payment/reconciliation/"
    assert url in listing.content.decode()
    empty = care.get(url)
    assert empty.status_code == 200
    today = timezone.now().date()
    page = care.get(url, {"provider": "manual", "date": today.isoformat()})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Manual, " in html
    assert "Waiting for staff to pay it and confirm it" in html
    assert 'class="difference"' in html
    assert "SEPA-1" in html
    bad = care.get(url, {"provider": "manual", "date": "yesterday"})
    assert bad.status_code == 400
    assert care.get(url, {"provider": "paypal", "date": today.isoformat()}).status_code == 400
    warehouse = staff.admin_client_of(staff.user_of(WAREHOUSE))
    assert warehouse.get(url).status_code == 403
    assert url not in warehouse.get("/admin/returns/payment/").content.decode()
