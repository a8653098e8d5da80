"""Stock services: every change writes its movement; checks refuse overselling; all-or-nothing."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from inventory import services
from inventory.events import StockChanged
from inventory.models import MovementKind, Reservation, StockLevel, StockMovement
from inventory.selectors import ledger_drift, stock_levels_at
from inventory.services import ConsumeRequest, ReleaseRequest, ReservationRequest
from oms import events
from oms.errors import Conflict, InsufficientStock, InvalidTransition, ValidationFailed
from tests.factories import LocationFactory, SkuFactory


def level(sku, location) -> StockLevel:
    return StockLevel.objects.get(sku=sku, location=location)


def receive(sku, location, quantity):
    return services.stock_adjust(sku=sku, location=location, kind="receipt", quantity=quantity)


def reserve(sku, location, quantity, line=1, order=1):
    return services.stock_reserve(
        requests=[ReservationRequest(order, line, sku.pk, location.pk, quantity)]
    )


@pytest.fixture
def sku(db):
    return SkuFactory()


@pytest.fixture
def wh(db):
    return LocationFactory(code="WH")


@pytest.fixture
def store(db):
    return LocationFactory(code="STORE")


def test_a_receipt_creates_the_level_and_its_movement(sku, wh):
    movement = receive(sku, wh, 10)
    assert (level(sku, wh).on_hand, level(sku, wh).reserved) == (10, 0)
    assert movement.kind == MovementKind.RECEIPT
    assert movement.on_hand_delta == 10
    assert ledger_drift() == []


@pytest.mark.parametrize(
    ("kind", "quantity"),
    [("receipt", -1), ("damage", 2), ("correction", 0), ("shipment", 1), ("count", 3)],
)
def test_bad_adjustments_are_refused_and_write_nothing(sku, wh, kind, quantity):
    with pytest.raises(ValidationFailed):
        services.stock_adjust(sku=sku, location=wh, kind=kind, quantity=quantity)
    assert not StockMovement.objects.exists()


def test_an_adjustment_cannot_take_on_hand_below_zero_or_reserved(sku, wh):
    receive(sku, wh, 5)
    reserve(sku, wh, 3)
    with pytest.raises(InsufficientStock):
        services.stock_adjust(sku=sku, location=wh, kind="damage", quantity=-3)
    services.stock_adjust(sku=sku, location=wh, kind="damage", quantity=-2)
    assert (level(sku, wh).on_hand, level(sku, wh).reserved) == (3, 3)
    assert ledger_drift() == []


def test_untracked_skus_refuse_counts(wh):
    service = SkuFactory(track_inventory=False)
    with pytest.raises(ValidationFailed) as err:
        services.stock_count(sku=service, location=wh, counted=4)
    assert err.value.code == "not_tracked"


def test_a_count_sets_on_hand_and_records_the_difference(sku, wh):
    receive(sku, wh, 10)
    movement = services.stock_count(sku=sku, location=wh, counted=7)
    assert movement.on_hand_delta == -3
    assert level(sku, wh).on_hand == 7
    confirm = services.stock_count(sku=sku, location=wh, counted=7)
    assert confirm.on_hand_delta == 0  # a confirmed figure is still a fact of the ledger
    reserve(sku, wh, 5)
    with pytest.raises(InsufficientStock):
        services.stock_count(sku=sku, location=wh, counted=4)
    assert ledger_drift() == []


def test_reserve_is_all_or_nothing(wh, store):
    a, b = SkuFactory(), SkuFactory()
    receive(a, wh, 5)
    receive(b, store, 1)
    with pytest.raises(InsufficientStock) as err:
        services.stock_reserve(
            requests=[
                ReservationRequest(1, 10, a.pk, wh.pk, 5),
                ReservationRequest(1, 11, b.pk, store.pk, 2),
            ]
        )
    assert "STORE" in str(err.value)
    assert level(a, wh).reserved == 0
    assert not Reservation.objects.exists()
    assert not StockMovement.objects.filter(kind="reservation").exists()


def test_two_lines_of_one_sku_at_one_location_are_checked_together(sku, wh):
    receive(sku, wh, 3)
    with pytest.raises(InsufficientStock):
        services.stock_reserve(
            requests=[
                ReservationRequest(1, 10, sku.pk, wh.pk, 2),
                ReservationRequest(1, 11, sku.pk, wh.pk, 2),
            ]
        )
    assert level(sku, wh).reserved == 0


def test_backorderable_skus_reserve_beyond_on_hand(wh):
    sku = SkuFactory(allow_backorder=True)
    reserve(sku, wh, 4)
    assert (level(sku, wh).on_hand, level(sku, wh).reserved) == (0, 4)
    from inventory.services import sku_update

    with pytest.raises(Conflict):
        sku_update(sku=sku, data={"allow_backorder": False})


def test_reserve_release_and_consume_keep_the_reservation_and_ledger_right(sku, wh):
    receive(sku, wh, 10)
    [reservation] = reserve(sku, wh, 4, line=7)
    reserve(sku, wh, 2, line=7)  # more for the same line at the same place
    reservation.refresh_from_db()
    assert reservation.quantity == 6
    services.stock_release(order_line_id=7, quantity=1, reason="line edited")
    services.stock_consume(order_line_id=7, location_id=wh.pk, quantity=3, shipment_id=99)
    lvl = level(sku, wh)
    assert (lvl.on_hand, lvl.reserved) == (7, 2)
    reservation.refresh_from_db()
    assert reservation.quantity == 2
    with pytest.raises(Conflict):
        services.stock_consume(order_line_id=7, location_id=wh.pk, quantity=3)
    services.stock_release(order_line_id=7)
    services.stock_release(order_line_id=7)  # replay: nothing held, nothing done
    assert level(sku, wh).reserved == 0
    kinds = list(StockMovement.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["receipt", "reservation", "reservation", "release", "shipment", "release"]
    assert StockMovement.objects.get(kind="shipment").shipment_id == 99
    assert ledger_drift() == []


def test_returns_and_quarantine(sku, wh):
    receive(sku, wh, 2)
    services.stock_restock_return(sku=sku, location=wh, quantity=1, return_id=5)
    services.stock_quarantine(sku=sku, location=wh, quantity=2, return_id=6)
    services.stock_quarantine(sku=sku, location=wh, quantity=1, from_on_hand=True)
    lvl = level(sku, wh)
    assert (lvl.on_hand, lvl.quarantined, lvl.available) == (2, 3, 2)
    services.stock_write_off_quarantine(sku=sku, location=wh, quantity=3)
    with pytest.raises(InsufficientStock):
        services.stock_write_off_quarantine(sku=sku, location=wh, quantity=1)
    assert level(sku, wh).quarantined == 0
    assert ledger_drift() == []


def test_available_subtracts_reserved_and_safety_stock_never_below_zero(sku, wh):
    receive(sku, wh, 10)
    reserve(sku, wh, 4)
    services.stock_level_set_thresholds(sku=sku, location=wh, safety_stock=5, reorder_point=8)
    assert level(sku, wh).available == 1
    services.stock_level_set_thresholds(sku=sku, location=wh, safety_stock=50)
    assert level(sku, wh).available == 0


def test_transfer_is_at_neither_location_in_transit(sku, wh, store):
    receive(sku, wh, 10)
    transfer = services.transfer_create(from_location=wh, to_location=store, lines=[(sku, 4)])
    services.transfer_ship(transfer=transfer)
    services.transfer_ship(transfer=transfer)  # replay
    assert level(sku, wh).on_hand == 6
    assert not StockLevel.objects.filter(sku=sku, location=store, on_hand__gt=0).exists()
    services.transfer_receive(transfer=transfer)
    assert level(sku, store).on_hand == 4
    with pytest.raises(InvalidTransition):
        services.transfer_cancel(transfer=transfer)
    assert ledger_drift() == []


def test_a_transfer_cannot_ship_reserved_stock_and_cancel_brings_it_back(sku, wh, store):
    receive(sku, wh, 5)
    reserve(sku, wh, 3)
    too_many = services.transfer_create(from_location=wh, to_location=store, lines=[(sku, 3)])
    with pytest.raises(InsufficientStock):
        services.transfer_ship(transfer=too_many)
    ok = services.transfer_create(from_location=wh, to_location=store, lines=[(sku, 2)])
    services.transfer_ship(transfer=ok)
    services.transfer_cancel(transfer=ok)
    assert level(sku, wh).on_hand == 5
    with pytest.raises(ValidationFailed):
        services.transfer_create(from_location=wh, to_location=wh, lines=[(sku, 1)])
    assert ledger_drift() == []


def test_history_comes_from_the_ledger(sku, wh):
    now = timezone.now()
    services.stock_history_load(
        sku=sku,
        location=wh,
        entries=[
            (now - timedelta(days=10), "receipt", 20),
            (now - timedelta(days=5), "shipment", -6),
            (now - timedelta(days=2), "shipment", -4),
        ],
    )
    receive(sku, wh, 1)
    at = {d: stock_levels_at(at=now - timedelta(days=d), sku_ids=[sku.pk]) for d in (11, 6, 3, 0)}
    assert at[11] == []
    assert [x.on_hand for x in at[6]] == [20]
    assert [x.on_hand for x in at[3]] == [14]
    assert level(sku, wh).on_hand == 11
    with pytest.raises(Conflict):
        services.stock_history_load(sku=sku, location=wh, entries=[])


def test_inventory_audit_passes_and_fails_on_drift(sku, wh, capsys):
    receive(sku, wh, 3)
    call_command("inventory_audit")
    assert "no drift" in capsys.readouterr().out
    StockLevel.objects.filter(sku=sku).update(on_hand=5)  # corrupt a level behind the ledger
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="1 drifting"):
        call_command("inventory_audit")
    assert "on_hand: level 5, ledger 3" in capsys.readouterr().out


def test_the_database_refuses_to_change_a_movement(sku, wh):
    from django.db import DatabaseError, connection, transaction

    movement = receive(sku, wh, 3)
    with pytest.raises(DatabaseError), transaction.atomic():
        StockMovement.objects.filter(pk=movement.pk).update(on_hand_delta=300)
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic():
            StockMovement.objects.filter(pk=movement.pk).delete()
    assert StockMovement.objects.get(pk=movement.pk).on_hand_delta == 3


# --- set-based consume and release: every item or none, one locked statement per table ---------


@pytest.fixture
def stock_events():
    """The StockChanged events published during the test."""
    seen: list[StockChanged] = []
    events.subscribe(StockChanged, seen.append)
    yield seen
    events.unsubscribe(StockChanged, seen.append)


def state() -> tuple[dict, dict, list]:
    """Levels, reservations and ledger as they stand: to prove a refused call changed nothing."""
    levels = {
        (lv.sku_id, lv.location_id): (lv.on_hand, lv.reserved) for lv in StockLevel.objects.all()
    }
    held = {(r.order_line_id, r.location_id): r.quantity for r in Reservation.objects.all()}
    return levels, held, list(StockMovement.objects.order_by("id").values_list("id", flat=True))


def test_consume_many_ships_every_item_and_publishes_once(wh, store, stock_events):
    a, b = SkuFactory(), SkuFactory()
    for sku in (a, b):
        for location in (wh, store):
            receive(sku, location, 10)
    services.stock_reserve(
        requests=[
            ReservationRequest(1, 10, a.pk, wh.pk, 3),
            ReservationRequest(1, 10, a.pk, store.pk, 2),
            ReservationRequest(1, 11, b.pk, wh.pk, 4),
            ReservationRequest(1, 12, a.pk, wh.pk, 1),  # a second line of `a` at WH: one level
        ]
    )
    stock_events.clear()
    movements = services.stock_consume_many(
        items=[
            ConsumeRequest(10, wh.pk, 2),
            ConsumeRequest(10, wh.pk, 1),  # the same line and location again: added up
            ConsumeRequest(10, store.pk, 1),
            ConsumeRequest(11, wh.pk, 4),
            ConsumeRequest(12, wh.pk, 1),
        ],
        shipment_id=99,
    )
    assert sorted((m.order_line_id, m.location_id, m.on_hand_delta) for m in movements) == sorted(
        [(10, wh.pk, -3), (10, store.pk, -1), (11, wh.pk, -4), (12, wh.pk, -1)]
    )
    assert {(m.kind, m.shipment_id) for m in movements} == {("shipment", 99)}
    assert (level(a, wh).on_hand, level(a, wh).reserved) == (6, 0)
    assert (level(a, store).on_hand, level(a, store).reserved) == (9, 1)
    assert (level(b, wh).on_hand, level(b, wh).reserved) == (6, 0)
    assert (level(b, store).on_hand, level(b, store).reserved) == (10, 0)
    held = {(r.order_line_id, r.location_id): r.quantity for r in Reservation.objects.all()}
    assert held == {(10, wh.pk): 0, (10, store.pk): 1, (11, wh.pk): 0, (12, wh.pk): 0}
    assert [(e.pairs, e.freed) for e in stock_events] == [
        (frozenset({(a.pk, wh.pk), (a.pk, store.pk), (b.pk, wh.pk)}), False)
    ]
    assert ledger_drift() == []


def test_consume_many_is_all_or_nothing_when_a_level_is_short(wh):
    a = SkuFactory()
    receive(a, wh, 5)  # `a`'s level comes first in primary-key order: it changes, then rolls back
    short = SkuFactory(allow_backorder=True)
    receive(short, wh, 1)
    services.stock_reserve(
        requests=[
            ReservationRequest(1, 10, a.pk, wh.pk, 2),
            ReservationRequest(1, 11, short.pk, wh.pk, 3),  # backordered: 3 held, 1 on hand
        ]
    )
    before = state()
    with pytest.raises(InsufficientStock) as err:
        services.stock_consume_many(
            items=[ConsumeRequest(10, wh.pk, 2), ConsumeRequest(11, wh.pk, 3)]
        )
    assert f"3 of {short.code} at WH: 1 on hand" in str(err.value)
    assert state() == before
    assert ledger_drift() == []


def test_consume_many_refuses_more_than_a_line_holds_there(wh, store):
    a, b = SkuFactory(), SkuFactory()
    receive(a, wh, 5)
    receive(b, wh, 5)
    services.stock_reserve(
        requests=[
            ReservationRequest(1, 10, a.pk, wh.pk, 2),
            ReservationRequest(1, 11, b.pk, wh.pk, 1),
        ]
    )
    before = state()
    for items in (
        [ConsumeRequest(11, wh.pk, 1), ConsumeRequest(10, wh.pk, 3)],
        [ConsumeRequest(10, wh.pk, 2), ConsumeRequest(10, wh.pk, 1)],  # together more than held
        [ConsumeRequest(11, wh.pk, 1), ConsumeRequest(10, store.pk, 1)],  # nothing held there
    ):
        with pytest.raises(Conflict) as err:
            services.stock_consume_many(items=items)
        assert err.value.code == "not_reserved"
        assert state() == before
    with pytest.raises(ValidationFailed):
        services.stock_consume_many(items=[ConsumeRequest(10, wh.pk, 0)])
    assert services.stock_consume_many(items=[]) == []


def test_release_many_gives_back_at_a_location_or_everywhere(wh, store, stock_events):
    a, b = SkuFactory(), SkuFactory()
    for sku in (a, b):
        for location in (wh, store):
            receive(sku, location, 10)
    services.stock_reserve(
        requests=[
            ReservationRequest(1, 10, a.pk, wh.pk, 3),
            ReservationRequest(1, 10, a.pk, store.pk, 2),
            ReservationRequest(1, 11, b.pk, wh.pk, 4),
            ReservationRequest(1, 12, b.pk, store.pk, 1),
        ]
    )
    stock_events.clear()
    movements = services.stock_release_many(
        items=[
            ReleaseRequest(10, quantity=4),  # everywhere, by location: 3 at WH, then 1 at STORE
            ReleaseRequest(11, wh.pk, 1),
            ReleaseRequest(12),  # all of it
        ],
        reason="cancelled",
    )
    assert sorted((m.order_line_id, m.location_id, m.reserved_delta) for m in movements) == sorted(
        [(10, wh.pk, -3), (10, store.pk, -1), (11, wh.pk, -1), (12, store.pk, -1)]
    )
    assert {(m.kind, m.reason) for m in movements} == {("release", "cancelled")}
    held = {(r.order_line_id, r.location_id): r.quantity for r in Reservation.objects.all()}
    assert held == {(10, wh.pk): 0, (10, store.pk): 1, (11, wh.pk): 3, (12, store.pk): 0}
    assert [level(a, wh).reserved, level(a, store).reserved] == [0, 1]
    assert [level(b, wh).reserved, level(b, store).reserved] == [3, 0]
    assert [(e.pairs, e.freed) for e in stock_events] == [
        (frozenset({(a.pk, wh.pk), (a.pk, store.pk), (b.pk, wh.pk), (b.pk, store.pk)}), True)
    ]
    stock_events.clear()
    assert services.stock_release_many(items=[ReleaseRequest(12)]) == []  # replay: a no-op
    assert stock_events == []
    assert ledger_drift() == []


def test_release_many_is_all_or_nothing(wh):
    a, b = SkuFactory(), SkuFactory()
    receive(a, wh, 5)
    receive(b, wh, 5)
    services.stock_reserve(
        requests=[
            ReservationRequest(1, 10, a.pk, wh.pk, 2),
            ReservationRequest(1, 11, b.pk, wh.pk, 1),
        ]
    )
    before = state()
    for items in (
        [ReleaseRequest(10, quantity=2), ReleaseRequest(11, quantity=2)],
        [ReleaseRequest(10, wh.pk, 2), ReleaseRequest(10, quantity=1)],  # together more than held
    ):
        with pytest.raises(Conflict) as err:
            services.stock_release_many(items=items)
        assert err.value.code == "not_reserved"
        assert state() == before
    with pytest.raises(ValidationFailed):
        services.stock_release_many(items=[ReleaseRequest(10, quantity=-1)])


@pytest.mark.parametrize("call", ["release", "consume"])
def test_a_reservation_that_changed_meanwhile_is_a_concurrent_change(wh, monkeypatch, call):
    """The plan is read before the levels are locked; the guarded UPDATEs catch what moved."""
    from inventory.services import stock as stock_module

    a, b = SkuFactory(), SkuFactory()
    receive(a, wh, 10)
    receive(b, wh, 10)
    services.stock_reserve(
        requests=[
            ReservationRequest(1, 10, a.pk, wh.pk, 3),
            ReservationRequest(1, 11, b.pk, wh.pk, 2),
            ReservationRequest(2, 20, a.pk, wh.pk, 5),  # another order keeps `a`'s level reserved
        ]
    )
    runs = {
        "release": lambda: services.stock_release_many(
            items=[ReleaseRequest(11), ReleaseRequest(10)]
        ),
        "consume": lambda: services.stock_consume_many(
            items=[ConsumeRequest(11, wh.pk, 2), ConsumeRequest(10, wh.pk, 3)]
        ),
    }
    run = runs[call]
    stale = stock_module._held([10, 11])
    services.stock_release(order_line_id=10, quantity=2)  # what another transaction did meanwhile
    monkeypatch.setattr(stock_module, "_held", lambda line_ids: stale)
    before = state()
    with pytest.raises(Conflict) as err:
        run()
    assert err.value.code == "concurrent_change"
    assert state() == before
    assert ledger_drift() == []


def test_the_audit_agrees_after_consuming_and_releasing_many(wh, store, capsys):
    a, b = SkuFactory(), SkuFactory()
    for sku in (a, b):
        receive(sku, wh, 4)
        receive(sku, store, 4)
    services.stock_reserve(
        requests=[
            ReservationRequest(1, 10, a.pk, wh.pk, 2),
            ReservationRequest(1, 10, a.pk, store.pk, 2),
            ReservationRequest(1, 11, b.pk, store.pk, 3),
        ]
    )
    services.stock_consume_many(
        items=[ConsumeRequest(10, store.pk, 1), ConsumeRequest(11, store.pk, 3)]
    )
    services.stock_release_many(items=[ReleaseRequest(10)])
    call_command("inventory_audit")
    assert "no drift" in capsys.readouterr().out
