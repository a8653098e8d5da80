"""Capture: idempotent, totals computed, business problems held, never rejected."""

from decimal import Decimal

import pytest

from oms.errors import ValidationFailed
from oms.models import OutboxMessage
from orders.models import Customer, Order, OrderEvent, OrderLine
from orders.services import order_capture
from tests.factories import ChannelFactory


def capture(payload):
    data = dict(payload)
    return order_capture(channel=data.pop("channel"), **data)


def holds(order):
    return sorted(order.holds.filter(released_at__isnull=True).values_list("reason", flat=True))


def test_capture_computes_totals_and_records_the_timeline(catalogue, payload):
    result = capture(payload)
    order = result.order
    assert result.created
    assert order.number == str(100000 + order.pk)
    assert order.subtotal == Decimal("49.80")
    assert order.discount_total == Decimal("1.00")
    assert order.total == Decimal("53.75")
    assert order.status == "pending"
    assert holds(order) == []
    assert [ln.line_total for ln in order.lines.order_by("line_number")] == [
        Decimal("39.90"),
        Decimal("8.90"),
    ]
    assert order.customer.email == "anna.schmidt@example.com"
    # In the base currency: converted at capture (rate 1), no conversion task queued.
    assert list(order.events.values_list("kind", flat=True)) == ["captured", "converted"]
    assert order.base_currency == "EUR"
    assert (order.total_base, order.fx_rate, order.fx_source) == (
        Decimal("53.75"),
        Decimal(1),
        "same currency",
    )
    assert not OutboxMessage.objects.filter(task="orders.order_convert_total").exists()


def test_the_same_order_twice_is_one_order(catalogue, payload):
    first = capture(payload)
    second = capture(payload)
    assert not second.created
    assert second.order.pk == first.order.pk
    assert Order.objects.count() == 1
    assert Customer.objects.count() == 1


def test_the_same_external_id_on_another_channel_is_another_order(catalogue, payload):
    ChannelFactory(code="amazon", currency="EUR")
    capture(payload)
    capture({**payload, "channel": "amazon"})
    assert Order.objects.count() == 2
    assert Customer.objects.count() == 1  # one customer across channels


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"payment_status": "pending"}, "payment_pending"),
        (
            {"shipping_address": {"name": "A", "city": "Berlin", "country": "DE"}},
            "address_incomplete",
        ),
        ({"shipping_address": {}}, "address_incomplete"),
        ({"total": "99.00"}, "totals_mismatch"),
    ],
)
def test_business_problems_are_held_not_rejected(catalogue, payload, change, reason):
    order = capture({**payload, **change}).order
    assert reason in holds(order)
    assert order.is_on_hold
    assert OrderEvent.objects.filter(order=order, kind="hold_placed", data__reason=reason).exists()


def test_an_unknown_sku_is_kept_as_text_and_held(catalogue, payload):
    payload["lines"][1]["sku"] = "NOT-IN-CATALOGUE"
    order = capture(payload).order
    assert holds(order) == ["unknown_sku"]
    line = order.lines.get(line_number=2)
    assert line.sku is None
    assert line.sku_code == "NOT-IN-CATALOGUE"


def test_matching_channel_total_is_not_held(catalogue, payload):
    order = capture({**payload, "total": "53.75"}).order
    assert holds(order) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "nope"}, "channel"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "ZZZ"}, "currency"),
        ({"lines": []}, "lines"),
        ({"payment_status": "maybe"}, "payment_status"),
        ({"shipping_price": "-1"}, "shipping_price"),
    ],
)
def test_unreadable_orders_are_refused_and_write_nothing(catalogue, payload, change, field):
    with pytest.raises(ValidationFailed) as err:
        capture({**payload, **change})
    assert field in err.value.errors
    assert not Order.objects.exists()
    assert not OrderLine.objects.exists()


def test_more_decimals_than_the_currency_allows_is_refused(catalogue, payload):
    payload["lines"][0]["unit_price"] = "19.955"
    with pytest.raises(ValidationFailed) as err:
        capture(payload)
    assert "lines.0.unit_price" in err.value.errors


def test_yen_has_no_minor_units(catalogue, payload):
    ChannelFactory(code="jp", currency="JPY")
    payload = {**payload, "channel": "jp", "currency": "JPY", "shipping_price": "500"}
    payload["lines"] = [{"sku": "TEE-1", "quantity": 1, "unit_price": "1980"}]
    order = capture(payload).order
    assert order.total == Decimal("2480")
    payload["external_id"] = "1002"
    payload["lines"][0]["unit_price"] = "1980.5"
    with pytest.raises(ValidationFailed):
        capture(payload)


def test_fraud_rules_hold_for_review(catalogue, payload):
    from orders.models import FraudRule

    FraudRule.objects.create(channel=catalogue["channel"], kind="value_over", threshold=50)
    FraudRule.objects.create(
        channel=catalogue["channel"], kind="first_order_abroad", home_country="FR"
    )
    order = capture(payload).order
    assert holds(order) == ["fraud_review"]
    note = order.holds.get().note
    assert "over 50" in note
    assert "first order" in note


def test_point_of_sale_orders_need_no_address(catalogue, payload):
    ChannelFactory(code="pos", kind="pos", currency="EUR")
    order = capture({**payload, "channel": "pos", "shipping_address": {}}).order
    assert holds(order) == []


def test_the_api_gives_the_public_tracking_url(catalogue, payload, manager_api):
    order = capture(payload).order
    body = manager_api.get(f"/api/v1/orders/{order.pk}/").json()
    assert body["tracking_url"] == f"http://testserver/track/{order.tracking_token}/"
