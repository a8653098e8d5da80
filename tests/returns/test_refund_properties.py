"""Property: whatever refunds are asked for, in any order, through the real refund services
(appeasements of any amount, returns refunded at their suggested amount or at an amount given,
with or without shipping, refunds of cancelled quantities, executions that succeed or fail),
the refunds of an order that have not failed never add up to more than was paid; a request
for more than is left is refused and writes nothing; every refund is a positive amount on the
currency's grid; the payment status says refunded exactly when the succeeded refunds reach
the total.

A hypothesis state machine over one paid, shipped order with discounts, tax on top and
shipping (cents that do not divide evenly), in EUR and in JPY; each example runs in a
transaction its teardown rolls back.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from oms.errors import DomainError, PermanentError
from oms.money import money_on_grid, money_quantum
from orders.models import Order
from orders.services import order_capture
from returns import services
from returns.models import Refund
from returns.payments import ProviderRefund, RefundRequest
from returns.selectors import returnable_lines
from returns.states import RefundStatus
from tests.fulfilment.conftest import CITIES, put
from tests.properties import bounded
from tests.returns.conftest import ship_all
from tests.returns.fakes import FakePaymentAdapter

PRICES = {
    # currency: (unit price, line discount, line tax, shipping) of lines A x3 and B x2
    "EUR": (("19.99", "1.00", "3.80"), ("7.35", "0.01", "1.40"), "4.95"),
    "JPY": (("1999", "100", "380"), ("735", "1", "140"), "495"),
}


class FailingAdapter(FakePaymentAdapter):
    def refund(self, request: RefundRequest) -> ProviderRefund:
        raise PermanentError("card expired")


@pytest.fixture(params=sorted(PRICES))
def paid(request, network, reasons):
    currency = request.param
    (a_price, a_discount, a_tax), (b_price, b_discount, b_tax), shipping = PRICES[currency]
    network["channel"].currency = currency
    network["channel"].save(update_fields=["currency"])
    put(network, "BER", "A", 10)
    put(network, "BER", "B", 10)
    country, postal, city, lat, lon = CITIES["HAMBURG"]
    result = order_capture(
        channel="web",
        external_id=f"P-{currency}",
        currency=currency,
        lines=[
            {
                "sku": "A",
                "quantity": 3,
                "unit_price": a_price,
                "discount": a_discount,
                "tax": a_tax,
            },
            {
                "sku": "B",
                "quantity": 2,
                "unit_price": b_price,
                "discount": b_discount,
                "tax": b_tax,
            },
        ],
        shipping_price=shipping,
        customer={"email": "refunds@example.com"},
        shipping_address={
            "name": "Test Person",
            "line1": "Street 1",
            "postal_code": postal,
            "city": city,
            "country": country,
            "latitude": lat,
            "longitude": lon,
        },
        payment_status="paid",
    )
    order = ship_all(result.order)
    assert order.status == "shipped"
    return order


class Refunds(RuleBasedStateMachine):
    def __init__(self, order: Order) -> None:
        super().__init__()
        self.order = order
        self.quantum = money_quantum(order.currency)
        self.atomic = transaction.atomic()
        self.atomic.__enter__()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def left(self) -> Decimal:
        """What may still be refunded: paid less the refunds that have not failed."""
        taken = (
            Refund.objects.filter(order=self.order)
            .exclude(status=RefundStatus.FAILED)
            .aggregate(total=Sum("amount"))["total"]
        )
        return self.order.total - (taken or Decimal(0))

    def amount_around(self, data: st.DataObject, edge: Decimal) -> Decimal:
        """Mostly an amount at the edge (all that is left, a unit more or less), else any."""
        q = self.quantum
        if edge > 0 and not data.draw(st.booleans()):
            return data.draw(st.sampled_from([edge, edge + q, edge - q]))
        units = data.draw(st.integers(min_value=1, max_value=int(self.order.total / q) + 10))
        return units * q

    def attempt(self, what: str, call) -> object | None:
        count = Refund.objects.count()
        try:
            result = call()
        except DomainError as exc:
            refused = exc
        else:
            event(f"{what} done")
            return result
        assert Refund.objects.count() == count, f"{what} refused ({refused}) but wrote a refund"
        event(f"{what} refused: {refused.code}")
        return None

    @rule(data=st.data())
    def appeasement(self, data: st.DataObject) -> None:
        left = self.left()
        amount = self.amount_around(data, left)
        refund = self.attempt(
            "appeasement", lambda: services.refund_create(order=self.order, amount=amount)
        )
        assert (refund is not None) == (Decimal(0) < amount <= left)

    @precondition(lambda self: any(line.returnable for line in returnable_lines(self.order.pk)))
    @rule(data=st.data())
    def return_refunded(self, data: st.DataObject) -> None:
        """Return some units (received in any condition, or only authorised), then refund the
        return: its suggested amount (with shipping or not) or an amount given."""
        lines = [line for line in returnable_lines(self.order.pk) if line.returnable]
        line = data.draw(st.sampled_from(lines))
        quantity = data.draw(st.integers(min_value=1, max_value=line.returnable))
        reason = data.draw(st.sampled_from(["changed_mind", "damaged"]))
        ret = services.return_create(
            order=self.order,
            lines=[{"order_line": line.pk, "quantity": quantity, "reason": reason}],
            authorise=True,
        )
        if data.draw(st.booleans()):
            services.return_receive(
                return_request=ret,
                location="BER",
                lines=[
                    {
                        "order_line": line.pk,
                        "quantity": quantity,
                        "condition": data.draw(st.sampled_from(["sellable", "damaged"])),
                    }
                ],
            )
        given = None
        if data.draw(st.booleans()):
            given = self.amount_around(data, self.left())
        shipping = data.draw(st.booleans())
        self.attempt(
            "return refund",
            lambda: services.return_refund(
                return_request=ret, amount=given, include_shipping=shipping
            ),
        )

    @rule(data=st.data())
    def cancellation_refund(self, data: st.DataObject) -> None:
        """The refund a cancellation of some quantities asks for (capped at what is left)."""
        lines = list(self.order.lines.order_by("pk"))
        line = data.draw(st.sampled_from(lines))
        quantity = data.draw(st.integers(min_value=1, max_value=line.quantity))
        key = f"cancel-{self.order.pk}-{data.draw(st.integers(min_value=0, max_value=3))}"
        full = data.draw(st.booleans())
        self.attempt(
            "cancellation refund",
            lambda: services.refund_for_cancellation(
                order_id=self.order.pk,
                line_quantities=[(line.pk, quantity)],
                full=full,
                idempotency_key=key,
            ),
        )

    @precondition(
        lambda self: Refund.objects.filter(order=self.order, status=RefundStatus.PENDING).exists()
    )
    @rule(data=st.data(), succeeds=st.booleans())
    def execute(self, data: st.DataObject, succeeds: bool) -> None:
        pending = list(
            Refund.objects.filter(order=self.order, status=RefundStatus.PENDING).order_by("pk")
        )
        refund = data.draw(st.sampled_from(pending))
        adapter = FakePaymentAdapter() if succeeds else FailingAdapter()
        services.refund_execute(refund=refund, adapter=adapter)
        event(f"execution {'succeeded' if succeeds else 'failed'}")

    @invariant()
    def never_more_than_paid(self) -> None:
        assert self.left() >= 0

    @invariant()
    def every_refund_is_a_positive_amount_of_the_currency(self) -> None:
        for amount, currency in Refund.objects.filter(order=self.order).values_list(
            "amount", "currency"
        ):
            assert amount > 0
            assert currency == self.order.currency
            assert money_on_grid(amount, currency)

    @invariant()
    def the_payment_status_follows_the_succeeded_refunds(self) -> None:
        order = Order.objects.get(pk=self.order.pk)
        succeeded = Refund.objects.filter(order=order, status=RefundStatus.SUCCEEDED).aggregate(
            total=Sum("amount")
        )["total"] or Decimal(0)
        if not succeeded:
            assert order.payment_status == "paid"
        elif succeeded >= order.total:
            assert order.payment_status == "refunded"
        else:
            assert order.payment_status == "partially_refunded"


def test_refunds_never_exceed_what_was_paid(paid):
    run_state_machine_as_test(lambda: Refunds(paid), settings=bounded(15, stateful_steps=10))
