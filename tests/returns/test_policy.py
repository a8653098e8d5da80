"""The channel's return policy: the window (from delivery), auto-authorisation, the staff
override, the refund basis; through services and the API."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from fulfilment.models import Shipment
from oms.errors import ValidationFailed
from returns import selectors, services
from returns.models import ReturnRequest
from returns.states import ReturnSource, ReturnStatus
from tests.returns.conftest import delivered_days_ago


def _line(lines, sku="A", quantity=1, reason="changed_mind"):
    return [{"order_line": lines[sku].pk, "quantity": quantity, "reason": reason}]


def test_the_window_opens_at_delivery_and_lasts_the_channels_days(shipped):
    o, _ = shipped
    window = selectors.return_window(o)
    assert window.days == 30
    assert window.is_open()
    delivered_days_ago(o, 31)
    assert not selectors.return_window(o).is_open()
    channel = o.channel
    channel.return_window_days = 45
    channel.save(update_fields=["return_window_days"])
    o.refresh_from_db()
    assert selectors.return_window(o).is_open()


def test_without_a_delivery_scan_the_window_counts_from_shipping(shipped):
    o, _ = shipped
    shipped_at = timezone.now() - timedelta(days=40)
    Shipment.objects.filter(order=o).update(shipped_at=shipped_at, delivered_at=None)
    window = selectors.return_window(o)
    assert window.opened_at == shipped_at
    assert not window.is_open()


def test_a_shopper_is_refused_outside_the_window_and_nothing_is_written(shipped):
    o, lines = shipped
    delivered_days_ago(o, 31)
    with pytest.raises(ValidationFailed) as err:
        services.return_create(
            order=o, lines=_line(lines), source=ReturnSource.SHOPPER, override_reason="please"
        )
    assert err.value.code == "return_window_closed"
    assert "closed on" in err.value.detail
    assert "30 days" in err.value.detail
    assert not ReturnRequest.objects.exists()
    assert not o.events.filter(kind="return_requested").exists()


def test_staff_need_an_override_reason_outside_the_window(shipped):
    o, lines = shipped
    delivered_days_ago(o, 31)
    with pytest.raises(ValidationFailed) as err:
        services.return_create(order=o, lines=_line(lines))
    assert "override_reason" in err.value.errors
    ret = services.return_create(
        order=o, lines=_line(lines), override_reason="loyal customer, parcel lost for weeks"
    )
    assert ret.override_reason == "loyal customer, parcel lost for weeks"
    event = o.events.get(kind="return_requested")
    assert event.data["override_reason"] == "loyal customer, parcel lost for weeks"
    assert event.data["outside_window"] is True


def test_a_shoppers_return_within_the_window_is_authorised_when_the_channel_says_so(shipped):
    o, lines = shipped
    ret = services.return_create(order=o, lines=_line(lines), source=ReturnSource.SHOPPER)
    assert ret.status == ReturnStatus.AUTHORISED
    assert o.events.get(kind="return_authorised").data["automatic"] is True
    channel = o.channel
    channel.returns_auto_authorise = False
    channel.save(update_fields=["returns_auto_authorise"])
    second = services.return_create(
        order=o.pk, lines=_line(lines, "B", reason="damaged"), source=ReturnSource.SHOPPER
    )
    assert second.status == ReturnStatus.REQUESTED


def test_staff_returns_wait_for_review_unless_authorised_at_once(shipped):
    o, lines = shipped
    assert services.return_create(order=o, lines=_line(lines)).status == "requested"
    ret = services.return_create(order=o, lines=_line(lines, "B"), authorise=True)
    assert ret.status == ReturnStatus.AUTHORISED


def test_refund_basis_authorised_counts_authorised_units_before_receipt(shipped):
    o, lines = shipped
    ret = services.return_create(order=o, lines=_line(lines, "A", 2), authorise=True)
    assert services.refund_suggested_amount(return_request=ret) == Decimal("0.00")
    channel = o.channel
    channel.refund_basis = "authorised"
    channel.save(update_fields=["refund_basis"])
    # 2 x 10.00 less the 10 % restocking fee of changed_mind.
    assert services.refund_suggested_amount(return_request=ret) == Decimal("18.00")
    refund = services.return_refund(return_request=ret)
    assert refund.amount == Decimal("18.00")
    # What was refunded for the return is not suggested again.
    assert services.refund_suggested_amount(return_request=ret) == Decimal("0.00")


def test_the_suggested_amount_uses_the_discount_and_tax_shares(network, reasons):
    from tests.fulfilment.conftest import put
    from tests.returns.conftest import ship_all

    put(network, "BER", "A", 5)
    from orders.services import order_capture

    o = order_capture(
        channel="web",
        external_id="TAX-1",
        currency="EUR",
        lines=[
            {"sku": "A", "quantity": 4, "unit_price": "25.00", "discount": "10.00", "tax": "18.00"}
        ],
        customer={"email": "tax@example.com"},
        shipping_address={
            "name": "T",
            "line1": "Street 1",
            "postal_code": "20095",
            "city": "Hamburg",
            "country": "DE",
        },
        shipping_price="4.90",
        payment_status="paid",
    ).order
    o = ship_all(o)
    line = o.lines.get()
    ret = services.return_create(
        order=o,
        lines=[{"order_line": line.pk, "quantity": 2, "reason": "damaged"}],
        authorise=True,
    )
    services.return_receive(
        return_request=ret,
        location="BER",
        lines=[{"order_line": line.pk, "quantity": 2, "condition": "damaged"}],
    )
    # Per unit 25.00 - 10.00/4 + 18.00/4 = 27.00; damaged has no restocking fee.
    assert services.refund_suggested_amount(return_request=ret) == Decimal("54.00")
    assert services.refund_suggested_amount(return_request=ret, include_shipping=True) == Decimal(
        "58.90"
    )


# --- API -----------------------------------------------------------------------------------------


def test_api_honours_the_override_outside_the_window(care_api, shipped):
    o, lines = shipped
    delivered_days_ago(o, 40)
    body = {"order": o.pk, "lines": _line(lines)}
    refused = care_api.post("/api/v1/returns/", body, format="json")
    assert refused.status_code == 400, refused.json()
    assert refused.json()["code"] == "return_window_closed"
    assert "override_reason" in refused.json()["errors"]
    accepted = care_api.post(
        "/api/v1/returns/",
        {**body, "override_reason": "goodwill", "authorise": True},
        format="json",
    )
    assert accepted.status_code == 201, accepted.json()
    assert accepted.json()["override_reason"] == "goodwill"
    assert accepted.json()["status"] == "authorised"
    assert accepted.json()["exchange_order"] is None


def test_api_suggested_refund(care_api, shipped):
    o, lines = shipped
    ret = services.return_create(order=o, lines=_line(lines, "A", 2), authorise=True)
    services.return_receive(
        return_request=ret,
        location="BER",
        lines=[{"order_line": lines["A"].pk, "quantity": 2, "condition": "sellable"}],
    )
    response = care_api.get(f"/api/v1/returns/{ret.pk}/suggested-refund/")
    assert response.status_code == 200
    assert response.json() == {"amount": "18.00", "currency": "EUR", "include_shipping": False}
