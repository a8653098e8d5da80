"""Property: after any sequence of stock operations through the real services (receipts,
adjustments, counts, reservations, releases, shipments, store sales, quarantine, write-offs,
returns, transfers), the ledger sums to the levels, every level is what a plain model of the
rules says, a refused operation changed nothing, and the reservations add up to `reserved`.

A hypothesis state machine: two SKUs, two locations, two order lines (a line is one SKU), some
stock to start from, then up to 12 operations, mostly at the edge of what is allowed (all that
is free, or one more) so that both outcomes are tried. Each example runs in a transaction that
its teardown rolls back (the services' own transactions are savepoints inside it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pytest
from django.db import transaction
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from inventory import services
from inventory.models import Reservation, StockLevel
from inventory.selectors import ledger_drift
from inventory.services import ReleaseRequest, ReservationRequest
from oms.errors import DomainError
from tests.factories import LocationFactory, SkuFactory
from tests.properties import bounded

SKUS, LOCATIONS = 2, 2
LINES = 2  # order line k is SKU k % SKUS of order 1
ORDER_ID = 1

quantities = st.integers(min_value=1, max_value=4)
skus = st.integers(min_value=0, max_value=SKUS - 1)
locations = st.integers(min_value=0, max_value=LOCATIONS - 1)
lines = st.integers(min_value=0, max_value=LINES - 1)


# --- the operations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Receive:
    sku: int
    location: int
    quantity: int


@dataclass(frozen=True)
class Adjust:
    sku: int
    location: int
    kind: str  # damage (-) or correction (+/-)
    quantity: int


@dataclass(frozen=True)
class Count:
    sku: int
    location: int
    counted: int


@dataclass(frozen=True)
class Reserve:
    items: tuple[tuple[int, int, int], ...]  # (line, location, quantity): all or none


@dataclass(frozen=True)
class Release:
    line: int
    location: int | None  # None: wherever the line holds stock
    quantity: int | None  # None: all of it


@dataclass(frozen=True)
class Consume:
    line: int
    location: int | None  # None: the first location where the line holds stock
    quantity: int


@dataclass(frozen=True)
class SellInStore:
    sku: int
    location: int
    quantity: int


@dataclass(frozen=True)
class Quarantine:
    sku: int
    location: int
    quantity: int
    from_on_hand: bool


@dataclass(frozen=True)
class WriteOff:
    sku: int
    location: int
    quantity: int


@dataclass(frozen=True)
class Restock:
    sku: int
    location: int
    quantity: int


@dataclass(frozen=True)
class Transfer:
    sku: int
    source: int
    destination: int
    quantity: int
    outcome: str  # draft_cancelled, in_transit, received, cancelled_in_transit


# --- a plain model of the rules ------------------------------------------------------------------


class Model:
    """What the levels and reservations should be; `apply` says whether the operation is allowed
    and changes the model only when it is."""

    def __init__(self) -> None:
        # (sku, location) -> [on_hand, reserved, quarantined]
        self.levels: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
        self.held: dict[tuple[int, int], int] = defaultdict(int)  # (line, location) -> units

    def resolved(self, op: object) -> object:
        """The operation with "wherever the line holds stock" made concrete."""
        if isinstance(op, Consume) and op.location is None:
            held = [loc for loc in range(LOCATIONS) if self.held[(op.line, loc)]]
            return Consume(op.line, held[0] if held else 0, op.quantity)
        return op

    def level(self, sku: int, location: int) -> list[int]:
        return self.levels[(sku, location)]

    def free(self, sku: int, location: int) -> int:
        on_hand, reserved, _ = self.level(sku, location)
        return on_hand - reserved

    def apply(self, op: object) -> bool:
        match op:
            case Receive(sku, location, q) | Restock(sku, location, q):
                self.level(sku, location)[0] += q
            case Adjust(sku, location, _, q):
                if q < 0 and self.free(sku, location) < -q:
                    return False
                self.level(sku, location)[0] += q
            case Count(sku, location, counted):
                if counted < self.level(sku, location)[1]:
                    return False
                self.level(sku, location)[0] = counted
            case Reserve(items):
                return self.reserve(items)
            case Release(line, location, q):
                return self.release(line, location, q)
            case Consume(line, location, q):
                return self.consume(line, location, q)
            case SellInStore(sku, location, q):
                self.level(sku, location)[0] -= min(q, max(0, self.free(sku, location)))
            case Quarantine(sku, location, q, from_on_hand):
                if from_on_hand and self.free(sku, location) < q:
                    return False
                level = self.level(sku, location)
                level[0] -= q if from_on_hand else 0
                level[2] += q
            case WriteOff(sku, location, q):
                if self.level(sku, location)[2] < q:
                    return False
                self.level(sku, location)[2] -= q
            case Transfer():
                return self.transfer(op)
            case _:
                raise AssertionError(f"unknown operation {op!r}")
        return True

    def reserve(self, items: tuple[tuple[int, int, int], ...]) -> bool:
        wanted: dict[tuple[int, int], int] = defaultdict(int)
        for line, location, q in items:
            wanted[(line % SKUS, location)] += q
        if any(self.free(*pair) < q for pair, q in wanted.items()):
            return False
        for line, location, q in items:
            self.level(line % SKUS, location)[1] += q
            self.held[(line, location)] += q
        return True

    def release(self, line: int, location: int | None, q: int | None) -> bool:
        mine = sorted(
            loc
            for (ln, loc), n in self.held.items()
            if ln == line and n and location in (None, loc)
        )
        total = sum(self.held[(line, loc)] for loc in mine)
        if q is not None and q > total:
            return False
        left = total if q is None else q
        for loc in mine:
            take = min(left, self.held[(line, loc)])
            self.held[(line, loc)] -= take
            self.level(line % SKUS, loc)[1] -= take
            left -= take
        return True

    def consume(self, line: int, location: int, q: int) -> bool:
        if self.held[(line, location)] < q:
            return False
        self.held[(line, location)] -= q
        level = self.level(line % SKUS, location)
        level[0] -= q
        level[1] -= q
        return True

    def transfer(self, op: Transfer) -> bool:
        if op.outcome == "draft_cancelled":
            return True
        if self.free(op.sku, op.source) < op.quantity:
            return False
        if op.outcome != "cancelled_in_transit":
            self.level(op.sku, op.source)[0] -= op.quantity
        if op.outcome == "received":
            self.level(op.sku, op.destination)[0] += op.quantity
        return True


# --- running an operation through the services ----------------------------------------------------


def run(op: object, sku: list, loc: list, line_ids: list[int]) -> None:
    match op:
        case Receive(s, location, q):
            services.stock_adjust(sku=sku[s], location=loc[location], kind="receipt", quantity=q)
        case Adjust(s, location, kind, q):
            services.stock_adjust(sku=sku[s], location=loc[location], kind=kind, quantity=q)
        case Count(s, location, counted):
            services.stock_count(sku=sku[s], location=loc[location], counted=counted)
        case Reserve(items):
            services.stock_reserve(
                requests=[
                    ReservationRequest(
                        ORDER_ID, line_ids[line], sku[line % SKUS].pk, loc[location].pk, q
                    )
                    for line, location, q in items
                ]
            )
        case Release(line, location, q):
            services.stock_release_many(
                items=[
                    ReleaseRequest(
                        line_ids[line], None if location is None else loc[location].pk, q
                    )
                ]
            )
        case Consume(line, location, q):
            services.stock_consume(
                order_line_id=line_ids[line], location_id=loc[location].pk, quantity=q
            )
        case SellInStore(s, location, q):
            services.stock_sell_in_store(
                location=loc[location], sales=[(sku[s], q, 999)], order_id=ORDER_ID + 1
            )
        case Quarantine(s, location, q, from_on_hand):
            services.stock_quarantine(
                sku=sku[s], location=loc[location], quantity=q, from_on_hand=from_on_hand
            )
        case WriteOff(s, location, q):
            services.stock_write_off_quarantine(sku=sku[s], location=loc[location], quantity=q)
        case Restock(s, location, q):
            services.stock_restock_return(sku=sku[s], location=loc[location], quantity=q)
        case Transfer(s, source, destination, q, outcome):
            transfer = services.transfer_create(
                from_location=loc[source], to_location=loc[destination], lines=[(sku[s], q)]
            )
            if outcome == "draft_cancelled":
                services.transfer_cancel(transfer=transfer)
                return
            services.transfer_ship(transfer=transfer)
            if outcome == "received":
                services.transfer_receive(transfer=transfer)
            elif outcome == "cancelled_in_transit":
                services.transfer_cancel(transfer=transfer)


def levels_now(sku: list, loc: list) -> dict[tuple[int, int], list[int]]:
    index = {(s.pk, x.pk): (i, j) for i, s in enumerate(sku) for j, x in enumerate(loc)}
    return {
        index[(s, x)]: [on_hand, reserved, quarantined]
        for s, x, on_hand, reserved, quarantined in StockLevel.objects.values_list(
            "sku_id", "location_id", "on_hand", "reserved", "quarantined"
        )
        if [on_hand, reserved, quarantined] != [0, 0, 0]
    }


@pytest.fixture
def world(db):
    return (
        [SkuFactory() for _ in range(SKUS)],
        [LocationFactory() for _ in range(LOCATIONS)],
        [1000 + k for k in range(LINES)],
    )


class StockOperations(RuleBasedStateMachine):
    """Each rule draws one operation (those on reservations from what the lines hold, sometimes
    a little more than that), runs it through the services and checks it against the model;
    the invariants hold after every step."""

    def __init__(self, world: tuple[list, list, list[int]]) -> None:
        super().__init__()
        self.sku, self.loc, self.line_ids = world
        self.model = Model()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def step(self, op: object) -> None:
        allowed = self.model.apply(op)
        try:
            run(op, self.sku, self.loc, self.line_ids)
            refused = ""
        except DomainError as exc:
            refused = str(exc)
        assert allowed == (not refused), f"{op}: the model says allowed={allowed}, {refused=}"
        event(f"{type(op).__name__} {'done' if allowed else 'refused'}")

    @initialize(
        amounts=st.lists(
            st.integers(min_value=0, max_value=12),
            min_size=SKUS * LOCATIONS,
            max_size=SKUS * LOCATIONS,
        ),
        data=st.data(),
    )
    def stock_to_start_from(self, amounts: list[int], data: st.DataObject) -> None:
        """Some stock everywhere, and some of it reserved by each line."""
        for n, quantity in enumerate(amounts):
            if quantity:
                self.step(Receive(n // LOCATIONS, n % LOCATIONS, quantity))
        for line in range(LINES):
            location = data.draw(locations)
            free = self.model.free(line % SKUS, location)
            if free > 0:
                self.step(Reserve(((line, location, data.draw(st.integers(1, free))),)))

    def holdings(self) -> list[tuple[int, int]]:
        return sorted(key for key, units in self.model.held.items() if units)

    def around(self, data: st.DataObject, limit: int) -> int:
        """Mostly a quantity at the edge of what may be taken (`limit`, or one more), else any."""
        if limit > 0 and not data.draw(st.booleans()):
            return data.draw(st.sampled_from([limit, limit + 1]))
        return data.draw(quantities)

    @rule(sku=skus, location=locations, quantity=st.integers(min_value=1, max_value=12))
    def receive(self, sku: int, location: int, quantity: int) -> None:
        self.step(Receive(sku, location, quantity))

    @rule(
        sku=skus,
        location=locations,
        kind=st.sampled_from(["damage", "correction"]),
        up=st.booleans(),
        data=st.data(),
    )
    def adjust(self, sku: int, location: int, kind: str, up: bool, data: st.DataObject) -> None:
        if kind == "correction" and up:
            self.step(Adjust(sku, location, kind, data.draw(quantities)))
        else:
            self.step(
                Adjust(sku, location, kind, -self.around(data, self.model.free(sku, location)))
            )

    @rule(sku=skus, location=locations, data=st.data())
    def count(self, sku: int, location: int, data: st.DataObject) -> None:
        reserved = self.model.level(sku, location)[1]
        edge = st.sampled_from([reserved, max(reserved - 1, 0)])
        self.step(Count(sku, location, data.draw(edge | st.integers(min_value=0, max_value=12))))

    @rule(data=st.data())
    def reserve(self, data: st.DataObject) -> None:
        """One to three lines (all or none), each at the edge of what is free or anything."""
        items = []
        for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
            line, location = data.draw(lines), data.draw(locations)
            quantity = self.around(data, self.model.free(line % SKUS, location))
            items.append((line, location, quantity))
        self.step(Reserve(tuple(items)))

    @precondition(lambda self: self.holdings())
    @rule(data=st.data())
    def release_held(self, data: st.DataObject) -> None:
        """What a line holds (all or some, there or everywhere), sometimes one more."""
        line, location = data.draw(st.sampled_from(self.holdings()))
        most = self.model.held[(line, location)] + 1
        where = data.draw(st.sampled_from([location, None]))
        quantity = data.draw(st.none() | st.integers(min_value=1, max_value=most))
        self.step(Release(line, where, quantity))

    @precondition(lambda self: self.holdings())
    @rule(data=st.data())
    def consume_held(self, data: st.DataObject) -> None:
        """Ship what a line holds at a location, sometimes one more."""
        line, location = data.draw(st.sampled_from(self.holdings()))
        most = self.model.held[(line, location)] + 1
        self.step(Consume(line, location, data.draw(st.integers(min_value=1, max_value=most))))

    @rule(line=lines, location=st.none() | locations, quantity=st.none() | quantities)
    def release_anything(self, line: int, location: int | None, quantity: int | None) -> None:
        self.step(Release(line, location, quantity))

    @rule(sku=skus, location=locations, data=st.data())
    def sell_in_store(self, sku: int, location: int, data: st.DataObject) -> None:
        self.step(SellInStore(sku, location, self.around(data, self.model.free(sku, location))))

    @rule(sku=skus, location=locations, from_on_hand=st.booleans(), data=st.data())
    def quarantine(self, sku: int, location: int, from_on_hand: bool, data: st.DataObject) -> None:
        free = self.model.free(sku, location) if from_on_hand else 0
        self.step(Quarantine(sku, location, self.around(data, free), from_on_hand))

    @rule(sku=skus, location=locations, data=st.data())
    def write_off(self, sku: int, location: int, data: st.DataObject) -> None:
        quarantined = self.model.level(sku, location)[2]
        self.step(WriteOff(sku, location, self.around(data, quarantined)))

    @rule(sku=skus, location=locations, quantity=quantities)
    def restock_return(self, sku: int, location: int, quantity: int) -> None:
        self.step(Restock(sku, location, quantity))

    @rule(
        sku=skus,
        source=locations,
        outcome=st.sampled_from(
            ["draft_cancelled", "in_transit", "received", "cancelled_in_transit"]
        ),
        data=st.data(),
    )
    def transfer(self, sku: int, source: int, outcome: str, data: st.DataObject) -> None:
        quantity = self.around(data, self.model.free(sku, source))
        self.step(Transfer(sku, source, (source + 1) % LOCATIONS, quantity, outcome))

    @invariant()
    def the_ledger_sums_to_the_levels(self) -> None:
        assert ledger_drift() == []

    @invariant()
    def the_levels_are_what_the_rules_say(self) -> None:
        expected = {k: v for k, v in self.model.levels.items() if v != [0, 0, 0]}
        assert levels_now(self.sku, self.loc) == expected

    @invariant()
    def the_reservations_are_what_the_lines_hold_and_add_up_to_reserved(self) -> None:
        reserved = {
            (sku_id, location_id): units
            for sku_id, location_id, units in StockLevel.objects.values_list(
                "sku_id", "location_id", "reserved"
            )
        }
        held = dict.fromkeys(reserved, 0)
        lines_hold = {}
        for line_id, sku_id, location_id, units in Reservation.objects.values_list(
            "order_line_id", "sku_id", "location_id", "quantity"
        ):
            held[(sku_id, location_id)] += units
            if units:
                lines_hold[(line_id, location_id)] = units
        assert held == reserved
        assert lines_hold == {
            (self.line_ids[line], self.loc[location].pk): units
            for (line, location), units in self.model.held.items()
            if units
        }


def test_the_ledger_equals_the_levels_after_any_sequence_of_stock_operations(world):
    run_state_machine_as_test(
        lambda: StockOperations(world), settings=bounded(25, stateful_steps=12)
    )
