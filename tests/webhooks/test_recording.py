"""The changing transaction notes each event as an outbox message (nothing else of the webhooks
app); the worker records it: numbered per object by the message's id, with the object's API
representation and what changed; stock events are coalesced within a second."""

from __future__ import annotations

import pytest
from django.db import transaction

from oms.models import OutboxMessage
from oms.outbox import OUTBOX_KWARG, task_by_name
from orders.services import order_cancel, order_hold, order_release
from tests.fulfilment import conftest as fulfilment
from tests.webhooks.conftest import RECORD, order, put, recorded
from webhooks.models import Event, WebhookDelivery
from webhooks.services import endpoint_create


def types_of(object_type: str, object_id: int) -> list[tuple[int, str]]:
    return list(
        Event.objects.filter(object_type=object_type, object_id=object_id)
        .order_by("sequence")
        .values_list("sequence", "type")
    )


def messages() -> list[tuple[int, dict]]:
    return list(
        OutboxMessage.objects.filter(task=RECORD).order_by("pk").values_list("pk", "kwargs")
    )


@pytest.mark.django_db
def test_an_order_s_life_is_recorded_in_sequence(network):
    put(network, "BER", "A", 5)
    o = order(lines={"A": 2})
    order_hold(order=o, reason="manual", note="check")
    order_release(order=o, route=False)
    order_cancel(order=o, reason="changed mind")
    assert recorded() > 0
    seen = types_of("order", o.pk)
    numbers = [s for s, _ in seen]
    assert numbers == sorted(set(numbers))  # increasing (the outbox messages' ids)
    noted = [m for m, kw in messages() if kw["object_type"] == "order" and kw["object_id"] == o.pk]
    assert numbers == noted
    kinds = [t for _, t in seen]
    assert kinds[0] == "order.created"
    assert [k for k in kinds if k in ("order.held", "order.released", "order.cancelled")] == [
        "order.held",
        "order.released",
        "order.cancelled",
    ]
    changes = {e.type: e.change for e in Event.objects.filter(object_type="order", object_id=o.pk)}
    assert changes["order.held"] == {"reason": "manual"}
    assert changes["order.released"] == {"reasons": ["manual"]}
    assert changes["order.cancelled"] == {"full": True, "reason": "changed mind"}
    statuses = [
        e.change
        for e in Event.objects.filter(type="order.status_changed", object_id=o.pk).order_by(
            "sequence"
        )
    ]
    assert statuses[0] == {"from": "pending", "to": "allocated"}
    assert statuses[-1]["to"] == "cancelled"
    last = Event.objects.filter(object_type="order", object_id=o.pk).order_by("sequence").last()
    assert last.data["status"] == "cancelled"
    assert last.data["number"] == o.number
    shipment_events = Event.objects.filter(type="shipment.created").values_list("data", flat=True)
    assert [d["order"] for d in shipment_events] == [o.pk]


@pytest.mark.django_db
def test_the_change_writes_only_its_outbox_messages_and_the_worker_records_them(network):
    fulfilment.put(network, "BER", "A", 5)
    fulfilment.order(lines={"A": 1})
    assert not Event.objects.exists()
    noted = messages()
    assert {kw["event_type"] for _, kw in noted} >= {
        "order.created",
        "order.status_changed",
        "shipment.created",
        "stock.changed",
    }
    assert recorded() == len(noted)
    assert Event.objects.count() >= 3  # the stock events of one level fold into one
    # A message run again (its worker died before it was marked done) records nothing more.
    before = Event.objects.count()
    task = task_by_name(RECORD)
    for message_id, kwargs in noted:
        OutboxMessage.objects.filter(pk=message_id).update(state="pending")
        task(**kwargs, **{OUTBOX_KWARG: message_id})
    assert Event.objects.count() == before


@pytest.mark.django_db
def test_a_change_rolled_back_leaves_no_event(network):
    put(network, "BER", "A", 5)
    before = Event.objects.count()
    noted = len(messages())

    def capture_then_fail() -> None:
        with transaction.atomic():
            fulfilment.order(lines={"A": 1})
            assert len(messages()) > noted
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        capture_then_fail()
    assert len(messages()) == noted
    recorded()
    assert Event.objects.count() == before


@pytest.mark.django_db
def test_run_out_of_order_an_object_s_events_keep_their_sequence(network):
    put(network, "BER", "A", 5)
    o = order(lines={"A": 1})
    order_hold(order=o, reason="manual")
    order_release(order=o, route=False)
    task = task_by_name(RECORD)
    for message_id, kwargs in reversed(messages()):  # newest first, as busy workers might
        if OutboxMessage.objects.filter(pk=message_id, state="pending").exists():
            task(**kwargs, **{OUTBOX_KWARG: message_id})
    kinds = [t for _, t in types_of("order", o.pk)]
    assert kinds[-2:] == ["order.held", "order.released"]


@pytest.mark.django_db
def test_stock_changes_within_a_second_are_one_event(network):
    fulfilment.put(network, "BER", "A", 5)
    fulfilment.put(network, "BER", "A", 3)
    fulfilment.put(network, "MUC", "A", 1)
    noted = messages()
    recorded()
    stock = list(Event.objects.filter(type="stock.changed").order_by("id"))
    assert len(stock) == 2  # one per level: BER's second receipt folded into its first
    ber = next(e for e in stock if e.data["location"] == "BER")
    assert ber.data["on_hand"] == 8
    assert ber.sequence == noted[1][0]  # the later change's number


@pytest.mark.django_db
def test_a_stock_change_recorded_after_a_later_one_is_not_recorded_again(network):
    fulfilment.put(network, "BER", "A", 5)
    fulfilment.put(network, "BER", "A", 3)
    (first, first_kwargs), (second, second_kwargs) = messages()
    task = task_by_name(RECORD)
    task(**second_kwargs, **{OUTBOX_KWARG: second})
    Event.objects.update(sealed=True)
    task(**first_kwargs, **{OUTBOX_KWARG: first})
    assert [(e.sequence, e.data["on_hand"]) for e in Event.objects.all()] == [(second, 8)]


@pytest.mark.django_db
def test_a_sealed_stock_event_is_not_changed(network):
    put(network, "BER", "A", 5)
    Event.objects.filter(type="stock.changed").update(sealed=True)
    put(network, "BER", "A", 3)
    stock = list(Event.objects.filter(type="stock.changed").order_by("sequence"))
    assert [e.data["on_hand"] for e in stock] == [5, 8]
    assert stock[0].sequence < stock[1].sequence


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
