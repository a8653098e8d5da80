"""Events are recorded in the transaction of the change that raised them, numbered per object,
with the object's API representation; stock events are coalesced within a second."""

from __future__ import annotations

import pytest
from django.db import transaction

from oms.models import OutboxMessage
from orders.services import order_cancel, order_hold, order_release
from tests.webhooks.conftest import order, put
from webhooks.models import Event, WebhookDelivery
from webhooks.services import endpoint_create


def types_of(object_type: str, object_id: int) -> list[tuple[int, str]]:
    return list(
        Event.objects.filter(object_type=object_type, object_id=object_id)
        .order_by("sequence")
        .values_list("sequence", "type")
    )


@pytest.mark.django_db
def test_an_order_s_life_is_recorded_in_sequence(network):
    put(network, "BER", "A", 5)
    o = order(lines={"A": 2})
    order_hold(order=o, reason="manual", note="check")
    order_release(order=o, route=False)
    order_cancel(order=o, reason="changed mind")
    seen = types_of("order", o.pk)
    assert [s for s, _ in seen] == list(range(1, len(seen) + 1))  # gap-free from 1
    kinds = [t for _, t in seen]
    assert kinds[0] in ("order.created", "order.status_changed")
    for expected in ("order.created", "order.held", "order.released", "order.cancelled"):
        assert expected in kinds
    assert kinds.count("order.status_changed") >= 2  # allocated, then cancelled
    last = Event.objects.filter(object_type="order", object_id=o.pk).order_by("sequence").last()
    assert last.data["status"] == "cancelled"
    assert last.data["number"] == o.number
    shipment_events = Event.objects.filter(type="shipment.created").values_list("data", flat=True)
    assert [d["order"] for d in shipment_events] == [o.pk]


@pytest.mark.django_db
def test_a_change_rolled_back_leaves_no_event(network):
    put(network, "BER", "A", 5)
    before = Event.objects.count()

    def capture_then_fail() -> None:
        with transaction.atomic():
            order(lines={"A": 1})
            assert Event.objects.count() > before
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        capture_then_fail()
    assert Event.objects.count() == before


@pytest.mark.django_db
def test_stock_changes_within_a_second_are_one_event(network):
    put(network, "BER", "A", 5)
    put(network, "BER", "A", 3)
    put(network, "MUC", "A", 1)
    stock = list(Event.objects.filter(type="stock.changed").order_by("id"))
    assert len(stock) == 2  # one per level: BER's second receipt folded into its first
    ber = next(e for e in stock if e.data["location"] == "BER")
    assert ber.data["on_hand"] == 8
    assert ber.sequence == 1


@pytest.mark.django_db
def test_a_sealed_stock_event_is_not_changed(network):
    put(network, "BER", "A", 5)
    Event.objects.filter(type="stock.changed").update(sealed=True)
    put(network, "BER", "A", 3)
    stock = list(Event.objects.filter(type="stock.changed").order_by("sequence"))
    assert [(e.sequence, e.data["on_hand"]) for e in stock] == [(1, 5), (2, 8)]


@pytest.mark.django_db
def test_each_subscribed_endpoint_gets_a_delivery_through_the_outbox(network):
    everything, _ = endpoint_create(url="https://127.0.0.1/all")
    orders_only, _ = endpoint_create(url="https://127.0.0.1/orders", events=["order.created"])
    put(network, "BER", "A", 5)
    o = order(lines={"A": 1})
    created = Event.objects.get(type="order.created", object_id=o.pk)
    assert set(created.deliveries.values_list("endpoint_id", flat=True)) == {
        everything.pk,
        orders_only.pk,
    }
    total = Event.objects.count()
    assert WebhookDelivery.objects.filter(endpoint=everything).count() == total
    assert WebhookDelivery.objects.filter(endpoint=orders_only).count() == 1
    messages = OutboxMessage.objects.filter(task="webhooks.deliver")
    assert sorted(m.kwargs["delivery_id"] for m in messages) == sorted(
        WebhookDelivery.objects.values_list("pk", flat=True)
    )
