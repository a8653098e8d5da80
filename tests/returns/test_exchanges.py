"""Exchanges: a linked replacement order, captured on the same channel ("<number>-X") when the
return is received or at once, free or charging the difference; shown in the admin and API."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.models import Order
from returns import services
from returns.models import ReturnRequest
from returns.states import ReturnSource
from tests.fulfilment.conftest import put


def _exchange(o, lines, **line):
    return services.return_create(
        order=o,
        lines=[{"order_line": lines["A"].pk, "quantity": 1, "reason": "damaged", **line}],
        authorise=True,
    )


def _receive(ret, lines, quantity=1):
    return services.return_receive(
        return_request=ret,
        location="BER",
        lines=[{"order_line": lines["A"].pk, "quantity": quantity, "condition": "sellable"}],
    )


def test_a_same_sku_exchange_is_sent_free_when_the_return_is_received(
    shipped, network, eager, django_capture_on_commit_callbacks
):
    o, lines = shipped
    put(network, "BER", "A", 3)
    with django_capture_on_commit_callbacks(execute=True):
        ret = _exchange(o, lines, exchange=True)
    ret.refresh_from_db()
    assert ret.exchange_order is None  # the channel sends it on receipt
    line = ret.lines.get()
    assert (line.exchange_sku.code, line.exchange_quantity) == ("A", 1)
    assert line.exchange_unit_price == Decimal("10")
    with django_capture_on_commit_callbacks(execute=True):
        _receive(ret, lines)
    ret.refresh_from_db()
    replacement = ret.exchange_order
    assert replacement is not None
    assert replacement.external_id == f"{ret.number}-X"
    assert replacement.channel_id == o.channel_id
    assert replacement.payment_status == "paid"
    assert replacement.total == Decimal("0")
    assert [(ln.sku_code, ln.quantity, ln.unit_price) for ln in replacement.lines.all()] == [
        ("A", 1, Decimal("0"))
    ]
    assert replacement.status == "allocated"  # routed like any order
    assert replacement.shipments.exists()
    assert o.events.filter(kind="exchange_order_created").count() == 1
    # Idempotent: asking again returns the same order.
    again = services.return_exchange_order_create(return_request=ret)
    assert again.pk == replacement.pk
    assert Order.objects.filter(external_id=f"{ret.number}-X").count() == 1
    # The exchanged line is settled by the replacement: nothing to refund.
    assert services.refund_suggested_amount(return_request=ret) == Decimal("0.00")


def test_an_immediate_channel_sends_the_replacement_at_authorisation(
    shipped, network, eager, django_capture_on_commit_callbacks
):
    o, lines = shipped
    put(network, "BER", "A", 3)
    channel = o.channel
    channel.exchange_timing = "immediate"
    channel.save(update_fields=["exchange_timing"])
    with django_capture_on_commit_callbacks(execute=True):
        ret = services.return_create(
            order=o,
            lines=[{"order_line": lines["A"].pk, "quantity": 1, "reason": "wrong_size"}],
            source=ReturnSource.SHOPPER,
            exchange=True,
        )
    ret.refresh_from_db()
    assert ret.status == "authorised"
    assert ret.exchange_order is not None
    assert ret.exchange_order.payment_status == "paid"


def test_a_dearer_replacement_charges_the_difference(shipped, network):
    o, lines = shipped
    put(network, "BER", "C", 3)
    ret = _exchange(o, lines, exchange_sku="C", exchange_unit_price="25.00")
    _receive(ret, lines)
    replacement = services.return_exchange_order_create(return_request=ret, actor="care")
    assert replacement.payment_status == "pending"
    assert replacement.total == Decimal("15.00")  # 25.00 less the 10.00 paid for A
    line = replacement.lines.get()
    assert (line.sku_code, line.unit_price, line.discount) == ("C", Decimal("25"), Decimal("10"))
    assert replacement.is_on_hold  # waits for the difference to be paid
    note = replacement.events.get(kind="note")
    assert "15.00 EUR" in note.data["text"]
    assert ret.number in note.data["text"]


def test_a_cheaper_replacement_refunds_the_rest(shipped, network):
    o, lines = shipped
    put(network, "BER", "C", 3)
    ret = _exchange(o, lines, exchange_sku="C", exchange_unit_price="4.00")
    _receive(ret, lines)
    assert services.refund_suggested_amount(return_request=ret) == Decimal("0.00")
    replacement = services.return_exchange_order_create(return_request=ret)
    assert replacement.total == Decimal("0")
    assert services.refund_suggested_amount(return_request=ret) == Decimal("6.00")


def test_another_sku_without_a_price_needs_one(shipped):
    from oms.errors import ValidationFailed

    o, lines = shipped
    with pytest.raises(ValidationFailed) as err:
        _exchange(o, lines, exchange_sku="C")
    assert "lines.0.exchange_unit_price" in err.value.errors
    with pytest.raises(ValidationFailed) as err:
        _exchange(o, lines, exchange_sku="NOPE")
    assert "lines.0.exchange_sku" in err.value.errors
    assert not ReturnRequest.objects.exists()


def test_the_api_shows_and_creates_the_exchange_order(care_api, shipped, network):
    o, lines = shipped
    put(network, "BER", "B", 3)
    created = care_api.post(
        "/api/v1/returns/",
        {
            "order": o.pk,
            "lines": [{"order_line": lines["B"].pk, "quantity": 1, "reason": "damaged"}],
            "exchange": True,
            "authorise": True,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["lines"][0]["exchange_sku"] == "B"
    assert body["lines"][0]["exchange_quantity"] == 1
    assert body["exchange_order"] is None
    response = care_api.post(f"/api/v1/returns/{body['id']}/exchange-order/")
    assert response.status_code == 200, response.json()
    exchange_order = response.json()["exchange_order"]
    assert exchange_order == Order.objects.get(external_id=f"{body['number']}-X").pk
    assert care_api.get(f"/api/v1/returns/{body['id']}/").json()["exchange_order"] == exchange_order


def test_the_admin_shows_the_exchange_order(admin_client, shipped, network):
    o, lines = shipped
    put(network, "BER", "A", 3)
    ret = _exchange(o, lines, exchange=True)
    _receive(ret, lines)
    replacement = services.return_exchange_order_create(return_request=ret)
    page = admin_client.get(f"/admin/returns/returnrequest/{ret.pk}/change/").content.decode()
    assert f"/admin/orders/order/{replacement.pk}/change/" in page
    listing = admin_client.get("/admin/returns/returnrequest/").content.decode()
    assert str(replacement.number) in listing
