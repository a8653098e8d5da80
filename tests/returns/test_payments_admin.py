"""The back office: an order's payments and refunds on its page, and staff confirming a refund
they paid back by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inventory.models import Channel
from oms.roles import CUSTOMER_CARE, WAREHOUSE
from returns import services
from returns.models import Refund
from returns.states import RefundStatus
from tests import staff


@pytest.fixture
def waiting(shipped, real_payments):
    o, _ = shipped
    Channel.objects.filter(pk=o.channel_id).update(payment_provider="manual")
    services.payment_record(order=o, kind="capture", amount=o.total, reference="BANK-IN-1")
    refund = services.refund_create(order=o, amount=Decimal("7.00"), reason="late")
    return o, services.refund_execute(refund=refund)


def test_the_order_page_shows_payments_and_refunds(waiting):
    o, refund = waiting
    page = staff.admin_client_of(staff.user_of(CUSTOMER_CARE)).get(
        f"/admin/orders/order/{o.pk}/change/"
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert "Authorisation, captures and voids" in html
    assert "BANK-IN-1" in html
    assert f"/admin/returns/refund/{refund.pk}/change/" in html


def test_staff_confirm_a_manual_refund_with_its_reference(waiting):
    _, refund = waiting
    care = staff.admin_client_of(staff.user_of(CUSTOMER_CARE))
    page = care.get(f"/admin/returns/refund/{refund.pk}/change/")
    confirm = f"/admin/returns/refund/{refund.pk}/confirm/"
    assert confirm in page.content.decode()
    empty = care.post(confirm, {"reference": ""})
    assert empty.status_code == 200
    assert "Nothing was changed" in empty.content.decode()
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.PENDING

    warehouse = staff.admin_client_of(staff.user_of(WAREHOUSE))
    assert warehouse.post(confirm, {"reference": "SEPA-1"}).status_code == 403
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.PENDING

    done = care.post(confirm, {"reference": "SEPA-1"})
    assert done.status_code == 302
    refund.refresh_from_db()
    assert (refund.status, refund.provider_reference) == (RefundStatus.SUCCEEDED, "SEPA-1")
    again = care.post(confirm, {"reference": "SEPA-2"})
    assert again.status_code == 409
    assert "not waiting for staff" in again.content.decode()
    assert confirm not in care.get(f"/admin/returns/refund/{refund.pk}/change/").content.decode()
