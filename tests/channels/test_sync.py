"""The sync engine, webhooks inbox and pushes, against an in-memory adapter.

The vendor adapters have their own offline suites (tests/channels/adapters); here the adapter is
a fake that records calls, so that the engine's rules are what is tested: exactly once, cursor
and overlap, failed records, channel-side changes, leases, pushes and their idempotency.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from channels.adapters.base import (
    FULFILLED_BY_CHANNEL,
    FULFILLED_BY_STORE,
    CanonicalOrder,
    OrderPage,
    PushResult,
    RecordFailure,
    SignatureInvalid,
    StockResult,
    WebhookDelivery,
)
from channels.models import (
    ChannelListing,
    ChannelPush,
    ChannelStockChange,
    ChannelSyncFailure,
    ChannelSyncRun,
)
from channels.services import channel_set_credentials, push, sync
from fulfilment.models import Shipment
from fulfilment.services import shipment_pack, shipment_pick, shipment_ship
from inventory.models import Channel, StockLevel, StockMovement
from oms.errors import PermanentError, TransientError
from oms.inbox import inbox_process, inbox_unprocessed
from oms.models import InboundWebhook
from orders.models import Order, OrderEvent
from orders.services import order_cancel
from tests.fulfilment.conftest import network, put
from tests.outbox import queued, run_outbox

__all__ = ["network"]

T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def record(external_id: str, minutes: int = 0, **changes) -> CanonicalOrder:
    data = {
        "external_id": external_id,
        "updated_at": T0 + dt.timedelta(minutes=minutes),
        "currency": "EUR",
        "external_number": f"#{external_id}",
        "lines": [
            {
                "sku": "A",
                "quantity": 1,
                "unit_price": "10.00",
                "external_line_id": f"{external_id}-1",
            }
        ],
        "customer": {"email": f"{external_id}@example.com"},
        "shipping_address": {
            "name": "Ada Shopper",
            "line1": "Mönckebergstraße 1",
            "postal_code": "20095",
            "city": "Hamburg",
            "country": "DE",
        },
        "payment_status": "paid",
    }
    data.update(changes)
    return CanonicalOrder(**data)


class FakeAdapter:
    """Serves pages of canonical orders; records stock, fulfilment and cancel pushes."""

    vendor = "fake"

    def __init__(self, pages=None, *, fail_on_page=None, secret="s3cret"):
        self.pages = pages or []
        self.fail_on_page = fail_on_page
        self.calls = []
        self.stock = []
        self.fulfilments = []
        self.cancels = []
        self.secret = secret
        self.refuse_skus = set()
        self.webhook_pages = {}

    def orders_page(self, *, since, page):
        index = int(page or 0)
        self.calls.append((since, page))
        if self.fail_on_page is not None and index == self.fail_on_page:
            raise self.fail_on_page_error
        current = self.pages[index] if index < len(self.pages) else OrderPage(orders=[])
        nxt = str(index + 1) if index + 1 < len(self.pages) else None
        return OrderPage(orders=current.orders, failures=current.failures, next_page=nxt)

    def webhook_verify(self, *, headers, body, url):
        given = headers.get("X-Signature", "")
        expected = base64.b64encode(
            hmac.new(self.secret.encode(), body, hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(given, expected):
            raise SignatureInvalid("bad signature")
        payload = json.loads(body)
        return WebhookDelivery(
            delivery_id=headers.get("X-Delivery", ""), topic="orders/create", payload=payload
        )

    def webhook_orders(self, delivery):
        return OrderPage(orders=[record(delivery.payload["id"], delivery.payload.get("m", 0))])

    def stock_push(self, items):
        self.stock.append([(i.sku, i.quantity) for i in items])
        return [
            StockResult(sku=i.sku, ok=i.sku not in self.refuse_skus, error="not listed")
            for i in items
        ]

    def fulfilment_push(self, p):
        self.fulfilments.append(p)
        return PushResult(external_id=f"F-{len(self.fulfilments)}")

    def cancel_push(self, p):
        self.cancels.append(p)
        return PushResult(external_id="C")

    def refund_push(self, p):
        return PushResult(external_id="R")


@pytest.fixture
def shop(network):
    channel = network["channel"]
    channel.kind = "shopify"
    channel.save(update_fields=["kind"])
    channel_set_credentials(channel=channel, credentials={"access_token": "t"})
    put(network, "BER", "A", 50)
    put(network, "BER", "B", 50)
    return channel


def test_a_sync_captures_new_orders_once_and_records_the_run(shop):
    adapter = FakeAdapter(
        [OrderPage(orders=[record("1"), record("2", 1)]), OrderPage(orders=[record("3", 2)])]
    )
    run = sync.channel_sync(channel=shop, adapter=adapter)
    assert (run.status, run.pages, run.created, run.failed) == ("succeeded", 2, 3, 0)
    assert run.finished_at is not None
    assert Order.objects.filter(channel=shop).count() == 3
    # Routed and reserved like any order.
    assert set(Order.objects.values_list("status", flat=True)) == {"allocated"}
    shop.refresh_from_db()
    assert shop.sync_cursor == T0 + dt.timedelta(minutes=2)
    assert shop.sync_lease_until is None
    assert shop.sync_next_at > timezone.now()

    again = sync.channel_sync(channel=shop, adapter=adapter)
    assert (again.created, again.unchanged, again.updated) == (0, 3, 0)
    assert Order.objects.filter(channel=shop).count() == 3


def test_each_run_starts_an_overlap_before_the_cursor(shop):
    shop.sync_cursor = T0
    shop.sync_overlap_minutes = 10
    shop.save()
    adapter = FakeAdapter([OrderPage(orders=[])])
    sync.channel_sync(channel=shop, adapter=adapter)
    assert adapter.calls[0][0] == T0 - dt.timedelta(minutes=10)


def test_a_malformed_record_is_a_failed_item_and_the_others_import(shop):
    bad = record("2", lines=[{"sku": "A", "quantity": -1}])
    page = OrderPage(
        orders=[record("1"), bad, record("3", 2)],
        failures=[RecordFailure(external_id="9", reason="no line items", raw={"id": 9})],
    )
    run = sync.channel_sync(channel=shop, adapter=FakeAdapter([page]))
    assert (run.status, run.created, run.failed) == ("partial", 2, 2)
    reasons = dict(ChannelSyncFailure.objects.values_list("external_id", "reason"))
    assert "quantity" in reasons["2"]
    assert reasons["9"] == "no line items"
    assert not Order.objects.filter(external_id="2").exists()
    # Fixed on the channel: the next run imports it and resolves the failure.
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[record("2", 3)])]))
    assert Order.objects.filter(external_id="2").exists()
    assert ChannelSyncFailure.objects.get(external_id="2").resolved


def test_a_failing_page_keeps_the_cursor_at_what_was_stored_and_retries(shop):
    adapter = FakeAdapter(
        [OrderPage(orders=[record("1", 5)]), OrderPage(orders=[record("2", 6)])], fail_on_page=1
    )
    adapter.fail_on_page_error = TransientError("HTTP 503")
    with pytest.raises(TransientError):
        sync.channel_sync(channel=shop, adapter=adapter)
    run = ChannelSyncRun.objects.get()
    assert run.status == "failed"
    assert "503" in run.error
    assert run.created == 1
    shop.refresh_from_db()
    assert shop.sync_cursor == T0 + dt.timedelta(minutes=5)
    assert shop.sync_lease_until is None  # the retry may run

    adapter.fail_on_page = None
    sync.channel_sync(channel=shop, adapter=adapter)
    assert set(Order.objects.values_list("external_id", flat=True)) == {"1", "2"}


def test_a_channel_answering_garbage_is_a_failed_run_without_raising(shop):
    adapter = FakeAdapter([OrderPage(orders=[])], fail_on_page=0)
    adapter.fail_on_page_error = PermanentError("the answer is not JSON")
    run = sync.channel_sync(channel=shop, adapter=adapter)
    assert run.status == "failed"
    assert "not JSON" in run.error
    assert not Order.objects.exists()


def test_a_channel_being_synced_is_skipped_by_a_second_worker(shop):
    shop.sync_lease_until = timezone.now() + dt.timedelta(minutes=5)
    shop.save()
    assert sync.channel_sync(channel=shop, adapter=FakeAdapter()) is None
    assert sync.channels_due() == []
    shop.sync_lease_until = timezone.now() - dt.timedelta(seconds=1)  # the worker died
    shop.save()
    assert sync.channels_due() == [shop.pk]


def test_due_channels_follow_their_interval(shop, network):
    sync.channel_sync(channel=shop, adapter=FakeAdapter())
    assert sync.channels_due() == []
    later = timezone.now() + dt.timedelta(minutes=shop.sync_interval_minutes, seconds=1)
    assert sync.channels_due(later) == [shop.pk]
    Channel.objects.filter(pk=shop.pk).update(sync_interval_minutes=0)
    assert sync.channels_due(later) == []
    Channel.objects.filter(pk=shop.pk).update(sync_interval_minutes=5, credentials_encrypted="")
    assert sync.channels_due(later) == []  # no credentials: not connected


@pytest.mark.parametrize(("interval", "run_seconds"), [(1, 2.5), (1, 0.2), (5, 40.0), (15, 3.0)])
def test_a_sync_interval_is_honoured_on_the_clock(shop, interval, run_seconds):
    """Beat ticks every 60 s (17 s past the minute here) and each run takes a while: a channel
    synced every N minutes syncs once per N minutes, not once per N + 1."""
    Channel.objects.filter(pk=shop.pk).update(sync_interval_minutes=interval)
    start = dt.datetime(2026, 12, 1, 9, 0, 17, tzinfo=dt.UTC)
    clock = {"now": start}

    class SlowAdapter(FakeAdapter):
        def orders_page(self, *, since, page=None):
            clock["now"] += dt.timedelta(seconds=run_seconds)  # the vendor takes its time
            return super().orders_page(since=since, page=page)

    runs = 0
    with mock.patch("django.utils.timezone.now", side_effect=lambda: clock["now"]):
        for tick in range(60):  # one hour of beat ticks
            clock["now"] = start + dt.timedelta(minutes=tick)
            if sync.channels_due() == [shop.pk]:
                assert sync.channel_sync(channel=shop, adapter=SlowAdapter()) is not None
                runs += 1
    assert runs == 60 // interval


def test_the_next_sync_is_on_the_next_boundary_of_the_interval():
    at = dt.datetime(2026, 12, 1, 9, 7, 42, tzinfo=dt.UTC)
    assert sync.next_sync_at(at, 1) == dt.datetime(2026, 12, 1, 9, 8, tzinfo=dt.UTC)
    assert sync.next_sync_at(at, 15) == dt.datetime(2026, 12, 1, 9, 15, tzinfo=dt.UTC)
    assert sync.next_sync_at(at, 60) == dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    on_the_dot = dt.datetime(2026, 12, 1, 9, 15, tzinfo=dt.UTC)
    assert sync.next_sync_at(on_the_dot, 15) == dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)


def test_a_channel_cancellation_cancels_an_unshipped_order_without_echo(
    shop, django_capture_on_commit_callbacks
):
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[record("1")])]))
    with django_capture_on_commit_callbacks() as callbacks:
        run = sync.channel_sync(
            channel=shop,
            adapter=FakeAdapter(
                [OrderPage(orders=[record("1", 3, cancelled=True, cancel_reason="customer")])]
            ),
        )
    assert run.updated == 1
    order = Order.objects.get(external_id="1")
    assert order.status == "cancelled"
    assert StockLevel.objects.get(sku__code="A", location__code="BER").reserved == 0
    # Not pushed back to the channel that asked for it.
    assert not [c for c in callbacks if "cancel_push" in repr(c)]
    assert not ChannelPush.objects.filter(kind="cancel").exists()


def test_a_channel_cancellation_of_a_paid_order_records_the_channels_refund_never_ours(shop):
    """The channel refunded the cancellation it made: no refund of ours, none pushed back."""
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[record("1")])]))
    cancelled = record("1", 3, cancelled=True, cancel_reason="customer", payment_status="refunded")
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[cancelled])]))
    order = Order.objects.get(external_id="1")
    assert (order.status, order.payment_status) == ("cancelled", "refunded")
    assert queued("returns.refund_for_cancellation", "channels.refund_push") == []
    assert not order.refunds.exists()
    # A new order first seen cancelled is no different.
    gone = record("2", 3, cancelled=True, payment_status="refunded")
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[gone])]))
    assert Order.objects.get(external_id="2").status == "cancelled"
    assert queued("returns.refund_for_cancellation", "channels.refund_push") == []


def _ship(order):
    for shipment in Shipment.objects.filter(order=order):
        shipment_pick(
            shipment=shipment,
            lines=[(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()],
        )
        shipment_pack(shipment=shipment, parcels=[{"weight_grams": 500}])
        shipment_ship(
            shipment=shipment,
            carrier="dhl",
            tracking_number=f"TRK{shipment.pk}",
            tracking_url="https://t.example/1",
        )
    return Shipment.objects.filter(order=order).first()


def test_a_cancellation_after_shipping_holds_the_order_for_customer_care(shop):
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[record("1")])]))
    order = Order.objects.get(external_id="1")
    _ship(order)
    sync.channel_sync(
        channel=shop, adapter=FakeAdapter([OrderPage(orders=[record("1", 4, cancelled=True)])])
    )
    order.refresh_from_db()
    assert order.status == "shipped"
    assert order.is_on_hold
    assert order.holds.filter(reason="customer_care").exists()


def test_an_address_change_before_picking_reroutes(shop, network):
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[record("1")])]))
    put(network, "MUC", "A", 5)
    munich = {
        "name": "Ada",
        "line1": "Marienplatz 1",
        "postal_code": "80331",
        "city": "München",
        "country": "DE",
    }
    run = sync.channel_sync(
        channel=shop,
        adapter=FakeAdapter([OrderPage(orders=[record("1", 5, shipping_address=munich)])]),
    )
    assert run.updated == 1
    order = Order.objects.get(external_id="1")
    assert order.shipping_address["city"] == "München"
    assert order.events.filter(kind="address_changed").exists()


def test_payment_status_only_moves_forward(shop):
    sync.channel_sync(
        channel=shop,
        adapter=FakeAdapter([OrderPage(orders=[record("1", payment_status="pending")])]),
    )
    order = Order.objects.get(external_id="1")
    assert order.is_on_hold
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[record("1", 1)])]))
    order.refresh_from_db()
    assert order.payment_status == "paid"
    assert not order.is_on_hold
    # An old version seen again through the overlap changes nothing.
    run = sync.channel_sync(
        channel=shop,
        adapter=FakeAdapter([OrderPage(orders=[record("1", 0, payment_status="pending")])]),
    )
    order.refresh_from_db()
    assert run.unchanged == 1
    assert order.payment_status == "paid"


def test_a_store_sale_is_recorded_complete_and_takes_the_store_stock(network):
    store = network["locations"]["MUC"]
    pos = Channel.objects.create(
        code="pos", name="Store", kind="pos", currency="EUR", location_map={"SQ-LOC": "MUC"}
    )
    pos.locations.set([store])
    put(network, "MUC", "A", 3)
    sale = record(
        "S1",
        lines=[{"sku": "A", "quantity": 2, "unit_price": "10.00"}],
        fulfilled_by=FULFILLED_BY_STORE,
        store_location="SQ-LOC",
        shipping_address={},
    )
    short = record(
        "S2",
        lines=[{"sku": "A", "quantity": 2, "unit_price": "10.00"}],
        fulfilled_by=FULFILLED_BY_STORE,
        store_location="SQ-LOC",
        shipping_address={},
    )
    run = sync.channel_sync(channel=pos, adapter=FakeAdapter([OrderPage(orders=[sale, short])]))
    assert run.created == 2
    level = StockLevel.objects.get(sku__code="A", location=store)
    assert level.on_hand == 0
    assert level.needs_count
    order = Order.objects.get(external_id="S1")
    assert order.status == "completed"
    assert not Shipment.objects.filter(order=order).exists()
    assert StockMovement.objects.filter(
        order_id=order.pk, kind="shipment", on_hand_delta=-2
    ).exists()
    assert (
        Order.objects.get(external_id="S2")
        .events.filter(kind="sold_in_store", data__not_in_ledger={"A": 1})
        .exists()
    )


def test_an_order_the_channel_fulfilled_moves_none_of_our_stock(shop):
    fba = record("FBA1", fulfilled_by=FULFILLED_BY_CHANNEL)
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[fba])]))
    order = Order.objects.get(external_id="FBA1")
    assert order.status == "completed"
    assert not StockMovement.objects.filter(order_id=order.pk).exists()
    assert StockLevel.objects.get(sku__code="A", location__code="BER").reserved == 0


# --- webhooks -----------------------------------------------------------------------------------


@pytest.fixture
def fake_adapter(monkeypatch, shop):
    adapter = FakeAdapter()
    monkeypatch.setattr(sync, "channel_adapter", lambda channel, **_: adapter)
    from channels.services import webhooks

    monkeypatch.setattr(webhooks, "channel_adapter", lambda channel, **_: adapter)
    monkeypatch.setattr(push, "channel_adapter", lambda channel, **_: adapter)
    return adapter


def _signed(body: bytes, secret: str = "s3cret") -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_a_webhook_is_stored_once_and_processed_in_a_task(
    client, shop, fake_adapter, django_capture_on_commit_callbacks
):
    body = json.dumps({"id": "W1"}).encode()
    headers = {"HTTP_X_SIGNATURE": _signed(body), "HTTP_X_DELIVERY": "d-1"}
    with django_capture_on_commit_callbacks() as callbacks:
        first = client.post(
            "/webhooks/channels/web/", body, content_type="application/json", **headers
        )
    assert first.status_code == 200
    assert first.json()["status"] == "accepted"
    assert len(callbacks) == 1
    again = client.post("/webhooks/channels/web/", body, content_type="application/json", **headers)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert InboundWebhook.objects.count() == 1
    delivery = InboundWebhook.objects.get()
    assert (delivery.kind, delivery.source, delivery.channel_id) == ("channel", "web", shop.pk)
    inbox_process(inbox_id=delivery.pk)
    inbox_process(inbox_id=delivery.pk)  # a redelivered task changes nothing
    assert Order.objects.filter(external_id="W1").count() == 1
    delivery.refresh_from_db()
    assert delivery.status == "processed"
    assert delivery.attempts == 1


def test_a_webhook_with_a_bad_signature_is_401_and_stores_nothing(client, fake_adapter):
    body = json.dumps({"id": "W2"}).encode()
    response = client.post(
        "/webhooks/channels/web/",
        body,
        content_type="application/json",
        HTTP_X_SIGNATURE=_signed(body, "wrong"),
        HTTP_X_DELIVERY="d-2",
    )
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert not InboundWebhook.objects.exists()
    assert (
        client.post("/webhooks/channels/nope/", body, content_type="application/json").status_code
        == 404
    )
    assert client.get("/webhooks/channels/web/").status_code == 404
    assert client.put("/webhooks/channels/web/").status_code == 405


def test_ebay_endpoint_validation_is_answered(client, network):
    from channels.adapters.ebay import challenge_response
    from channels.services import channel_set_credentials

    channel = network["channel"]
    channel.kind = "ebay"
    channel.save()
    channel_set_credentials(
        channel=channel,
        credentials={"verification_token": "t" * 40, "endpoint_url": "https://oms.example/hook"},
    )
    response = client.get("/webhooks/channels/web/?challenge_code=abc")
    assert response.json() == {
        "challengeResponse": challenge_response("abc", "t" * 40, "https://oms.example/hook")
    }


# --- pushes ------------------------------------------------------------------------------------


def test_stock_changes_are_pushed_in_batches_after_the_buffer_and_acknowledged(
    fake_adapter, shop, network
):
    ChannelStockChange.objects.all().delete()
    shop.stock_buffer = 5
    shop.save()
    put(network, "MUC", "A", 2)
    put(network, "BER", "C", 3)  # 3 - buffer 5: never negative
    pushes = push.channel_stock_push(channel=shop)
    assert [p.status for p in pushes] == ["succeeded"]
    assert sorted(fake_adapter.stock[0]) == [("A", 47), ("C", 0)]
    assert not ChannelStockChange.objects.filter(channel=shop).exists()
    assert ChannelListing.objects.get(channel=shop, sku__code="A").last_quantity == 47
    assert push.channel_stock_push(channel=shop) == []  # nothing pending
    assert push.channels_with_pending_stock() == []
    put(network, "BER", "A", 1)
    assert push.channels_with_pending_stock() == [shop.pk]
    channel_set_credentials(channel=shop, credentials={})
    assert push.channels_with_pending_stock() == []  # not connected: nothing to push to


def test_a_failed_stock_push_keeps_the_changes_pending(fake_adapter, shop, network):
    def broken(items):
        raise TransientError("HTTP 502")

    fake_adapter.stock_push = broken
    with pytest.raises(TransientError):
        push.channel_stock_push(channel=shop)
    assert ChannelStockChange.objects.filter(channel=shop).count() == 2
    assert ChannelPush.objects.get(kind="stock").status == "failed"


def test_a_sku_the_channel_refuses_is_logged_on_its_listing(fake_adapter, shop):
    fake_adapter.refuse_skus = {"B"}
    [batch] = push.channel_stock_push(channel=shop)
    assert batch.status == "partial"
    assert batch.failed_items == 1
    assert ChannelListing.objects.get(sku__code="B").last_error == "not listed"


def test_reconciliation_marks_every_sku(fake_adapter, shop):
    ChannelStockChange.objects.all().delete()
    assert push.channel_stock_reconcile(channel=shop) == 3
    push.channel_stock_push(channel=shop)
    assert sorted(fake_adapter.stock[0]) == [("A", 50), ("B", 50), ("C", 0)]


def test_a_shipment_reaches_its_channel_once_and_shows_in_the_timeline(fake_adapter, shop):
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[record("1")])]))
    order = Order.objects.get(external_id="1")
    shipment = _ship(order)
    assert run_outbox("channels.shipment_push") == 1
    assert len(fake_adapter.fulfilments) == 1
    sent = fake_adapter.fulfilments[0]
    assert (sent.order_external_id, sent.tracking_number) == ("1", f"TRK{shipment.pk}")
    assert [(ln.external_line_id, ln.quantity) for ln in sent.lines] == [("1-1", 1)]
    push.shipment_push(shipment_id=shipment.pk)  # a retried task
    assert len(fake_adapter.fulfilments) == 1
    assert order.events.filter(kind="channel_fulfilment_pushed").count() == 1


def test_our_cancellation_is_pushed_to_the_channel(fake_adapter, shop):
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[record("1")])]))
    order = Order.objects.get(external_id="1")
    order_cancel(order=order, reason="out of stock", actor="staff")
    assert run_outbox("channels.cancel_push") == 1
    assert [c.order_external_id for c in fake_adapter.cancels] == ["1"]
    assert ChannelPush.objects.get(kind="cancel").status == "succeeded"


def test_a_refund_push_is_sent_once(fake_adapter, shop):
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[record("1")])]))
    order = Order.objects.get(external_id="1")
    first = push.refund_push(
        order_id=order.pk, reference="rk-1", amount="5.00", currency="EUR", reason=""
    )
    second = push.refund_push(
        order_id=order.pk, reference="rk-1", amount="5.00", currency="EUR", reason=""
    )
    assert first.pk == second.pk
    assert first.status == "succeeded"
    assert ChannelPush.objects.filter(kind="refund").count() == 1
    assert Decimal("5.00") == Decimal(first.detail["amount"])


def test_a_refund_that_succeeded_is_pushed_to_the_channel(fake_adapter, shop):
    from returns.services import refund_create, refund_execute

    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[record("1")])]))
    order = Order.objects.get(external_id="1")
    refund = refund_create(order=order, amount=Decimal("4.00"), reason="scratched box")
    assert queued("channels.refund_push") == []  # not before the money went back
    refund_execute(refund=refund.pk)
    assert queued("channels.refund_push") == [
        (
            "channels.refund_push",
            {
                "order_id": order.pk,
                "reference": refund.idempotency_key,
                "amount": "4.0000",
                "currency": "EUR",
                "reason": "scratched box",
            },
        )
    ]
    assert run_outbox("channels.refund_push") == 1
    assert ChannelPush.objects.get(kind="refund").status == "succeeded"
    assert order.events.filter(kind="channel_refund_pushed").exists()


# --- what a review found: races, leases, stuck inboxes ------------------------------------------


def test_a_record_the_columns_cannot_hold_is_a_failed_item(shop):
    long_sku = record("2", lines=[{"sku": "X" * 80, "quantity": 1, "unit_price": "1.00"}])
    run = sync.channel_sync(
        channel=shop,
        adapter=FakeAdapter([OrderPage(orders=[record("1"), long_sku, record("3", 2)])]),
    )
    assert run.status in {"succeeded", "partial"}  # PostgreSQL refuses the SKU, SQLite holds it
    assert set(Order.objects.values_list("external_id", flat=True)) >= {"1", "3"}


def test_a_capture_lost_to_a_race_still_applies_the_channels_change(shop, monkeypatch):
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[record("1")])]))

    class Unseen:  # the look-up ran before the webhook's capture committed
        class objects:
            @staticmethod
            def filter(**_):
                return type("Q", (), {"first": staticmethod(lambda: None)})()

    monkeypatch.setattr(sync, "Order", Unseen)
    outcome = sync.channel_order_upsert(channel=shop, record=record("1", 4, cancelled=True))
    monkeypatch.undo()
    assert outcome == "updated"
    assert Order.objects.get(external_id="1").status == "cancelled"


def test_a_store_sale_from_an_unmapped_store_is_refused(network):
    pos = Channel.objects.create(code="pos", name="Store", kind="pos", currency="EUR")
    pos.locations.set([network["locations"]["MUC"], network["locations"]["BER"]])
    sale = record(
        "S9", fulfilled_by=FULFILLED_BY_STORE, store_location="UNKNOWN", shipping_address={}
    )
    run = sync.channel_sync(channel=pos, adapter=FakeAdapter([OrderPage(orders=[sale])]))
    assert run.failed == 1
    assert "not mapped" in ChannelSyncFailure.objects.get().reason
    assert not Order.objects.filter(external_id="S9").exists()


def test_a_deep_sync_rereads_the_last_day_without_moving_the_cursor_back(shop):
    from channels import tasks

    shop.sync_cursor = T0
    shop.save()
    adapter = FakeAdapter([OrderPage(orders=[record("1", -600)])])
    monkey_since = []
    original = adapter.orders_page
    adapter.orders_page = lambda **kw: monkey_since.append(kw["since"]) or original(**kw)
    sync.channel_sync(
        channel=shop, adapter=adapter, trigger="deep", since=T0 - dt.timedelta(days=1)
    )
    shop.refresh_from_db()
    assert monkey_since[0] == T0 - dt.timedelta(days=1)
    assert shop.sync_cursor == T0
    assert shop.sync_next_at is None
    assert Order.objects.filter(external_id="1").exists()
    assert tasks.sync_deep_all_task.name == "channels.sync_deep_all"


def test_one_stock_push_per_channel_at_a_time(fake_adapter, shop):
    from channels.services.push import _push_claim

    held = _push_claim(shop.pk)
    assert held is not None
    assert push.channel_stock_push(channel=shop) == []  # another worker holds the channel
    Channel.objects.filter(pk=shop.pk).update(stock_push_lease_until=None)
    assert push.channel_stock_push(channel=shop)
    shop.refresh_from_db()
    assert shop.stock_push_lease_until is None  # released by its holder


def test_a_batch_the_channel_refuses_whole_does_not_block_the_next(fake_adapter, shop):
    def refused(items):
        raise PermanentError("HTTP 400: bad request")

    fake_adapter.stock_push = refused
    [batch] = push.channel_stock_push(channel=shop)
    assert batch.status == "failed"
    assert batch.failed_items == 2
    assert not ChannelStockChange.objects.filter(channel=shop).exists()
    assert ChannelListing.objects.get(sku__code="A").last_error == "HTTP 400: bad request"


def test_a_push_being_sent_by_another_worker_is_not_sent_again(fake_adapter, shop):
    sync.channel_sync(channel=shop, adapter=FakeAdapter([OrderPage(orders=[record("1")])]))
    order = Order.objects.get(external_id="1")
    ChannelPush.objects.create(
        channel=shop,
        kind="refund",
        reference="rk-2",
        order=order,
        claimed_until=timezone.now() + dt.timedelta(minutes=1),
    )
    with pytest.raises(TransientError):
        push.refund_push(
            order_id=order.pk, reference="rk-2", amount="1.00", currency="EUR", reason=""
        )
    assert ChannelPush.objects.get(reference="rk-2").status == "pending"


def test_a_delivery_never_processed_is_swept_and_nul_characters_are_dropped(client, fake_adapter):
    body = json.dumps({"id": "W3", "note": "a\u0000b"}).encode()
    response = client.post(
        "/webhooks/channels/web/",
        body,
        content_type="application/json",
        HTTP_X_SIGNATURE=_signed(body),
        HTTP_X_DELIVERY="d-3",
    )
    assert response.status_code == 200
    delivery = InboundWebhook.objects.get()
    assert delivery.payload["note"] == "ab"
    assert inbox_unprocessed() == []  # too recent: its task is on the way
    InboundWebhook.objects.filter(pk=delivery.pk).update(
        received_at=timezone.now() - dt.timedelta(hours=1)
    )
    assert inbox_unprocessed() == [delivery.pk]
    inbox_process(inbox_id=delivery.pk)
    assert inbox_unprocessed() == []


def test_credentials_typed_in_the_admin_as_text_are_read_as_meant():
    from channels.adapters.base import credential_flag, credential_list

    assert [credential_flag(v) for v in (True, "true", "Yes", "1", "on")] == [True] * 5
    assert [credential_flag(v) for v in (False, "false", "No", "0", "off")] == [False] * 5
    assert credential_flag("") is None
    assert credential_flag("maybe") is None
    assert credential_list("L1, L2,") == ["L1", "L2"]
    assert credential_list(["L1", " L2 "]) == ["L1", "L2"]
    assert credential_list(None) == []


def test_a_new_version_with_nothing_to_apply_says_what_the_channel_changed(shop):
    sync.channel_order_upsert(channel=shop, record=record("1"))
    changed = record(
        "1",
        5,
        notes="Please ring twice.",
        lines=[{"sku": "A", "quantity": 2, "unit_price": "10.00", "external_line_id": "1-1"}],
    )
    assert sync.channel_order_upsert(channel=shop, record=changed) == "unchanged"
    event = OrderEvent.objects.filter(kind="channel_updated").get()
    # Nothing is applied (only a cancellation, a better payment status and an address are),
    # and the timeline says what the channel changed.
    assert event.data == {"not_applied": ["lines", "notes"]}
    again = record("1", 9)
    assert sync.channel_order_upsert(channel=shop, record=again) == "unchanged"
    last = OrderEvent.objects.filter(kind="channel_updated").order_by("-pk").first()
    assert last.data == {"not_applied": []}  # back as the OMS keeps it: nothing differs
