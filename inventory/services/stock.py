"""Stock quantities: adjustments, counts, reservations, releases, shipments, returns, quarantine.

Invariants this module guards:
- every change of a quantity writes its StockMovement in the same transaction, so the ledger
  always sums to the levels (`inventory_audit` proves it);
- a reservation or decrement is one conditional UPDATE guarded in SQL (`on_hand - reserved >= q`),
  so no interleaving of transactions can oversell, on PostgreSQL or SQLite; the CHECK
  constraints of StockLevel are the last line;
- the level rows of one operation are locked in primary-key order, so concurrent operations
  never deadlock: guarded UPDATEs one level at a time in that order, or (shipping, releasing)
  one SELECT ... FOR UPDATE of all of them ordered by pk, then one set-based guarded UPDATE;
  nothing slow (I/O, external calls) happens inside these transactions;
- a failed check raises and rolls back everything the call did (all-or-nothing);
- StockChanged is published inside the transaction for the apps above (channel stock push).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from inventory.events import StockChanged
from inventory.models import (
    Location,
    MovementKind,
    Reservation,
    Sku,
    StockLevel,
    StockMovement,
)
from inventory.stock_marks import stock_mark_writers
from oms import events
from oms.errors import Conflict, InsufficientStock, ValidationFailed
from oms.limits import integer_range
from oms.sql import values_sql

#: On hand and quarantined are integer columns: nothing adds past their maximum.
QUANTITY_MAX = integer_range(StockLevel, "on_hand")[1]
THRESHOLD_MAX = integer_range(StockLevel, "reorder_point")[1]

ADJUSTMENT_KINDS = (
    MovementKind.RECEIPT,
    MovementKind.DAMAGE,
    MovementKind.CORRECTION,
)


@dataclass(frozen=True)
class ReservationRequest:
    order_id: int
    order_line_id: int
    sku_id: int
    location_id: int
    quantity: int


@dataclass(frozen=True)
class ReleaseRequest:
    """What an order line gives back: at one location or everywhere (None); `quantity` or all."""

    order_line_id: int
    location_id: int | None = None
    quantity: int | None = None


@dataclass(frozen=True)
class ConsumeRequest:
    """Reserved units of an order line that leave one location."""

    order_line_id: int
    location_id: int
    quantity: int


# --- helpers ---------------------------------------------------------------------------------


def _tracked(sku: Sku) -> None:
    if not sku.track_inventory:
        raise ValidationFailed(
            f"SKU {sku.code} does not track inventory.",
            code="not_tracked",
            errors={"sku": ["This SKU does not track inventory."]},
        )


def _positive(quantity: int, field: str = "quantity") -> None:
    if not isinstance(quantity, int) or quantity <= 0:
        raise ValidationFailed(
            "Quantity must be a positive integer.", errors={field: ["Must be at least 1."]}
        )


def _level_ids(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """Ids of the StockLevel rows of `pairs`, creating the missing rows (no lock taken)."""
    wanted = set(pairs)
    if not wanted:
        return {}
    match = Q()
    for sku_id, location_id in wanted:
        match |= Q(sku_id=sku_id, location_id=location_id)
    found = dict(
        ((s, loc), pk)
        for pk, s, loc in StockLevel.objects.filter(match).values_list(
            "pk", "sku_id", "location_id"
        )
    )
    missing = wanted - set(found)
    if missing:
        backorder = dict(
            Sku.objects.filter(pk__in={s for s, _ in missing}).values_list("pk", "allow_backorder")
        )
        StockLevel.objects.bulk_create(
            [
                StockLevel(sku_id=s, location_id=loc, allow_backorder=backorder[s])
                for s, loc in missing
            ],
            ignore_conflicts=True,  # a concurrent transaction may have created it: fine
        )
        found.update(
            ((s, loc), pk)
            for pk, s, loc in StockLevel.objects.filter(match).values_list(
                "pk", "sku_id", "location_id"
            )
        )
    return found


def _tracked_ids(sku_ids: set[int]) -> set[int]:
    return set(
        Sku.objects.filter(pk__in=sku_ids, track_inventory=True).values_list("pk", flat=True)
    )


def _reservations_upsert(
    requests: Sequence[ReservationRequest], movements: Sequence[StockMovement] = ()
) -> list[Reservation]:
    """Add the requests to their (order line, location) reservations in one statement, and
    write `movements` (their ledger rows): on PostgreSQL in the same statement (a
    data-modifying CTE, the hot path's INSERT less), elsewhere in one INSERT before it."""
    ctes: list[tuple[str, list[Any]]] = []
    if movements and connection.vendor == "postgresql":
        ctes.append(_movements_insert(movements))
    elif movements:
        StockMovement.objects.bulk_create(movements)
    sql, params = _reservations_sql(requests, ctes)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _reservations_from(cursor.fetchall())


def _reservations_sql(
    requests: Sequence[ReservationRequest], ctes: Sequence[tuple[str, list[Any]]] = ()
) -> tuple[str, list[Any]]:
    """The upsert of `requests` into their (order line, location) reservations, RETURNING the
    rows, preceded by `ctes` (statements and parameters, PostgreSQL only) run in the same
    statement as `WITH w1 AS (...), w2 AS (...)`."""
    merged: dict[tuple[int, int], ReservationRequest] = {}
    for r in requests:
        key = (r.order_line_id, r.location_id)
        if key in merged:
            r = ReservationRequest(
                r.order_id,
                r.order_line_id,
                r.sku_id,
                r.location_id,
                merged[key].quantity + r.quantity,
            )
        merged[key] = r
    rows = sorted(merged.values(), key=lambda r: (r.order_line_id, r.location_id))
    now = timezone.now()
    stamp = Reservation._meta.get_field("created_at").get_db_prep_value(now, connection)
    table = connection.ops.quote_name(Reservation._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    params: list[Any] = []
    prefix = ""
    if ctes:
        prefix = "WITH " + ", ".join(f"w{i} AS ({sql})" for i, (sql, _) in enumerate(ctes)) + " "
        params = [p for _, cte_params in ctes for p in cte_params]
    for r in rows:
        params += [r.order_id, r.order_line_id, r.sku_id, r.location_id, r.quantity, stamp, stamp]
    sql = (
        f"{prefix}INSERT INTO {table} (order_id, order_line_id, sku_id, location_id, quantity, "
        f"created_at, updated_at) VALUES {values} "
        f"ON CONFLICT (order_line_id, location_id) DO UPDATE SET "
        f"quantity = {table}.quantity + excluded.quantity, updated_at = excluded.updated_at "
        f"RETURNING id, order_id, order_line_id, sku_id, location_id, quantity"
    )
    return sql, params


def _reservations_from(returned: Iterable[Sequence[Any]]) -> list[Reservation]:
    return [
        Reservation(pk=pk, order_id=o, order_line_id=ln, sku_id=s, location_id=loc, quantity=q)
        for pk, o, ln, s, loc, q in returned
    ]


def _movements_insert(movements: Sequence[StockMovement]) -> tuple[str, list[Any]]:
    """An INSERT of `movements` (new ledger rows) and its parameters, as bulk_create writes
    them (nothing is returned: no caller needs their ids)."""
    fields = [f for f in StockMovement._meta.local_concrete_fields if not f.primary_key]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    quote = connection.ops.quote_name
    params = [
        f.get_db_prep_save(f.pre_save(m, True), connection) for m in movements for f in fields
    ]
    sql = (
        f"INSERT INTO {quote(StockMovement._meta.db_table)} "
        f"({', '.join(quote(str(f.column)) for f in fields)}) "
        f"VALUES {', '.join([row] * len(movements))}"
    )
    return sql, params


def _stock_changed(
    pairs: Iterable[tuple[int, int]], *, freed: bool = False, written: bool = False
) -> None:
    events.publish(StockChanged(pairs=frozenset(pairs), freed=freed, written=written))


def _insufficient(level_id: int, quantity: int, verb: str) -> InsufficientStock:
    level = StockLevel.objects.select_related("sku", "location").get(pk=level_id)
    free = level.on_hand - level.reserved
    return InsufficientStock(
        f"Cannot {verb} {quantity} of {level.sku.code} at {level.location.code}: "
        f"{level.on_hand} on hand, {level.reserved} reserved.",
        errors={"quantity": [f"Only {max(free, 0)} can be {verb}d at {level.location.code}."]},
    )


def _too_many(level_id: int, on_hand: int, quarantined: int) -> ValidationFailed | None:
    """The error when adding would take a figure past its column's maximum (else None)."""
    level = StockLevel.objects.get(pk=level_id)
    for name, delta, current in (
        ("on hand", on_hand, level.on_hand),
        ("quarantined", quarantined, level.quarantined),
    ):
        if delta > 0 and current > QUANTITY_MAX - delta:
            return ValidationFailed(
                f"{name.capitalize()} would exceed {QUANTITY_MAX}.",
                errors={"quantity": [f"At most {max(QUANTITY_MAX - current, 0)} can be added."]},
            )
    return None


def _movement(
    *,
    sku_id: int,
    location_id: int,
    kind: str,
    on_hand: int = 0,
    reserved: int = 0,
    quarantined: int = 0,
    actor: str,
    reason: str = "",
    **refs: Any,
) -> StockMovement:
    return StockMovement(
        sku_id=sku_id,
        location_id=location_id,
        kind=kind,
        on_hand_delta=on_hand,
        reserved_delta=reserved,
        quarantined_delta=quarantined,
        actor=actor,
        reason=reason[:255],
        created_at=timezone.now(),  # the clock of the moment (a loaded history sets its own)
        **refs,
    )


def _apply(
    *,
    sku: Sku,
    location: Location,
    kind: str,
    on_hand: int = 0,
    quarantined: int = 0,
    actor: str,
    reason: str,
    **refs: Any,
) -> StockMovement:
    """One guarded change of on_hand and/or quarantined at one level, with its movement."""
    level_id = _level_ids([(sku.pk, location.pk)])[(sku.pk, location.pk)]
    guard = Q(on_hand__gte=-on_hand) & Q(quarantined__gte=-quarantined)
    # Adding may not take a figure past its column (PostgreSQL's integer).
    guard &= Q(on_hand__lte=QUANTITY_MAX - max(on_hand, 0))
    guard &= Q(quarantined__lte=QUANTITY_MAX - max(quarantined, 0))
    if on_hand < 0:
        # Taking stock away may not touch what orders hold (unless backorders are allowed).
        guard &= Q(allow_backorder=True) | Q(on_hand__gte=F("reserved") - on_hand)
    updated = (
        StockLevel.objects.filter(pk=level_id)
        .filter(guard)
        .update(on_hand=F("on_hand") + on_hand, quarantined=F("quarantined") + quarantined)
    )
    if not updated:
        raise _too_many(level_id, on_hand, quarantined) or _insufficient(
            level_id, -(on_hand or quarantined), "remove"
        )
    return _record_at(
        sku=sku,
        location=location,
        kind=kind,
        on_hand=on_hand,
        quarantined=quarantined,
        actor=actor,
        reason=reason,
        **refs,
    )


def _record_at(
    *,
    sku: Sku,
    location: Location,
    kind: str,
    on_hand: int,
    quarantined: int = 0,
    actor: str,
    reason: str,
    **refs: Any,
) -> StockMovement:
    """Save the movement of a change already made at one level; a change of on hand is told."""
    movement = _movement(
        sku_id=sku.pk,
        location_id=location.pk,
        kind=kind,
        on_hand=on_hand,
        quarantined=quarantined,
        actor=actor,
        reason=reason,
        **refs,
    )
    movement.save(force_insert=True)
    if on_hand:
        _stock_changed([(sku.pk, location.pk)], freed=on_hand > 0)
    return movement


# --- adjustments and counts ------------------------------------------------------------------


@transaction.atomic
def stock_adjust(
    *,
    sku: Sku,
    location: Location,
    kind: str,
    quantity: int,
    reason: str = "",
    actor: str = "system",
) -> StockMovement:
    """Change on hand by a signed delta: a receipt (+), damage (-) or correction (+/-).

    Raises ValidationFailed (untracked SKU, zero or wrong-signed quantity, bad kind),
    InsufficientStock (on hand would go below zero or below what is reserved).
    """
    _tracked(sku)
    if kind not in ADJUSTMENT_KINDS:
        raise ValidationFailed(
            f"{kind!r} is not an adjustment kind.",
            errors={"kind": [f"Use one of {', '.join(ADJUSTMENT_KINDS)} (or a count)."]},
        )
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity == 0:
        raise ValidationFailed("The quantity must not be zero.", errors={"quantity": ["Not 0."]})
    if abs(quantity) > QUANTITY_MAX:
        raise ValidationFailed(
            f"At most {QUANTITY_MAX} units at once.",
            errors={"quantity": [f"Between -{QUANTITY_MAX} and {QUANTITY_MAX}."]},
        )
    if kind == MovementKind.RECEIPT and quantity < 0:
        raise ValidationFailed(
            "A receipt adds stock.", errors={"quantity": ["A receipt must be positive."]}
        )
    if kind == MovementKind.DAMAGE and quantity > 0:
        raise ValidationFailed(
            "Damage takes stock away.", errors={"quantity": ["Damage must be negative."]}
        )
    return _apply(
        sku=sku, location=location, kind=kind, on_hand=quantity, actor=actor, reason=reason
    )


@transaction.atomic
def stock_count(
    *, sku: Sku, location: Location, counted: int, reason: str = "", actor: str = "system"
) -> StockMovement:
    """Record a cycle count: on hand becomes `counted`; the difference is the movement.

    Raises ValidationFailed (untracked SKU, negative figure), InsufficientStock (the figure is
    below what orders hold: release or re-route them first).
    """
    _tracked(sku)
    if isinstance(counted, bool) or not isinstance(counted, int) or counted < 0:
        raise ValidationFailed("A count is 0 or more.", errors={"quantity": ["Must be >= 0."]})
    if counted > QUANTITY_MAX:
        raise ValidationFailed(
            f"A count is at most {QUANTITY_MAX}.", errors={"quantity": [f"At most {QUANTITY_MAX}."]}
        )
    level_id = _level_ids([(sku.pk, location.pk)])[(sku.pk, location.pk)]
    level = StockLevel.objects.select_for_update().get(pk=level_id)
    if counted < level.reserved and not level.allow_backorder:
        raise InsufficientStock(
            f"Counted {counted} of {sku.code} at {location.code}, but {level.reserved} are "
            "reserved for orders.",
            errors={"quantity": [f"{level.reserved} are reserved here."]},
        )
    delta = counted - level.on_hand
    StockLevel.objects.filter(pk=level_id).update(on_hand=counted, needs_count=False)
    return _record_at(
        sku=sku,
        location=location,
        kind=MovementKind.COUNT,
        on_hand=delta,
        actor=actor,
        reason=reason or f"counted {counted}",
    )


@transaction.atomic
def stock_level_set_thresholds(
    *,
    sku: Sku,
    location: Location,
    safety_stock: int | None = None,
    reorder_point: int | None = None,
) -> StockLevel:
    """Set the safety stock and/or reorder point of a level. Raises ValidationFailed."""
    changes: dict[str, int] = {}
    for name, value in (("safety_stock", safety_stock), ("reorder_point", reorder_point)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationFailed(f"{name} is 0 or more.", errors={name: ["Must be >= 0."]})
        if value > THRESHOLD_MAX:
            raise ValidationFailed(
                f"{name} is at most {THRESHOLD_MAX}.", errors={name: [f"At most {THRESHOLD_MAX}."]}
            )
        changes[name] = value
    level_id = _level_ids([(sku.pk, location.pk)])[(sku.pk, location.pk)]
    if changes:
        StockLevel.objects.filter(pk=level_id).update(**changes)
        if "safety_stock" in changes:
            _stock_changed([(sku.pk, location.pk)])
    return StockLevel.objects.get(pk=level_id)


@dataclass(frozen=True)
class LevelHistory:
    """Past on-hand movements (time, kind, signed delta) of one level, and its thresholds."""

    sku: Sku
    location: Location
    entries: Sequence[tuple[datetime, str, int]]
    safety_stock: int = 0
    reorder_point: int = 0
    bin: str = ""


IMPORTABLE_KINDS = frozenset(MovementKind.values) - {MovementKind.RESERVATION, MovementKind.RELEASE}


def stock_history_load(
    *,
    sku: Sku,
    location: Location,
    entries: Sequence[tuple[datetime, str, int]],
    actor: str = "import",
) -> StockLevel:
    """Load the history of one level (see stock_history_load_many); returns the level."""
    stock_history_load_many(
        histories=[LevelHistory(sku=sku, location=location, entries=entries)], actor=actor
    )
    return StockLevel.objects.get(sku=sku, location=location)


@transaction.atomic
def stock_level_set_bin(*, sku: Sku, location: Location, bin: str) -> StockLevel:
    """Record where the SKU sits at the location. Raises ValidationFailed (too long)."""
    if len(bin) > 32:
        raise ValidationFailed("A bin code has at most 32 characters.", errors={"bin": [bin]})
    level_id = _level_ids([(sku.pk, location.pk)])[(sku.pk, location.pk)]
    StockLevel.objects.filter(pk=level_id).update(bin=bin.strip().upper())
    return StockLevel.objects.get(pk=level_id)


@transaction.atomic
def stock_history_load_many(*, histories: Sequence[LevelHistory], actor: str = "import") -> int:
    """Load the history of levels that have no ledger yet, in bulk; returns movements written.

    Used to import history from a previous system (and by the demo). Each level's running total
    must never go below zero; its on hand becomes the total. Raises Conflict (a level already
    has a ledger), ValidationFailed (untracked SKU, bad kind, negative running total).
    """
    pairs = [(h.sku.pk, h.location.pk) for h in histories]
    if len(set(pairs)) != len(pairs):
        raise ValidationFailed("One history per level.", errors={"histories": ["Duplicate."]})
    ids = _level_ids(pairs)
    locked = list(StockLevel.objects.select_for_update().filter(pk__in=ids.values()).order_by("pk"))
    started = Q()
    for sku_id, location_id in pairs:
        started |= Q(sku_id=sku_id, location_id=location_id)
    if pairs and StockMovement.objects.filter(started).exists():
        raise Conflict("History can only be loaded before the first movement.", code="has_ledger")
    rows: list[StockMovement] = []
    by_pk = {level.pk: level for level in locked}
    for history in histories:
        _tracked(history.sku)
        running = 0
        for at, kind, delta in sorted(history.entries, key=lambda e: e[0]):
            if kind not in IMPORTABLE_KINDS or not delta:
                raise ValidationFailed(
                    f"{kind!r} {delta} cannot be imported.", errors={"kind": [kind]}
                )
            running += delta
            if running < 0:
                raise ValidationFailed(
                    f"History of {history.sku.code} at {history.location.code} goes below zero.",
                    errors={"entries": [at.isoformat()]},
                )
            row = _movement(
                sku_id=history.sku.pk,
                location_id=history.location.pk,
                kind=kind,
                on_hand=delta,
                actor=actor,
                reason="imported history",
            )
            row.created_at = at
            rows.append(row)
        level = by_pk[ids[(history.sku.pk, history.location.pk)]]
        level.on_hand = running
        level.safety_stock = history.safety_stock or level.safety_stock
        level.reorder_point = history.reorder_point or level.reorder_point
        level.bin = history.bin or level.bin
    StockMovement.objects.bulk_create(rows, batch_size=2000)
    StockLevel.objects.bulk_update(
        locked, ["on_hand", "safety_stock", "reorder_point", "bin"], batch_size=500
    )
    _stock_changed(pairs, freed=True)
    return len(rows)


# --- reservations ----------------------------------------------------------------------------


@transaction.atomic
def stock_reserve(
    *, requests: Sequence[ReservationRequest], actor: str = "system"
) -> list[Reservation]:
    """Reserve every request, or none: (order line, location, quantity) each.

    SKUs that do not track inventory are skipped. Raises ValidationFailed (bad quantity),
    InsufficientStock (naming the first level that cannot give enough).

    On PostgreSQL the level rows are held for one statement and COMMIT only: on a hot SKU every
    reservation queues for the same row, so that time is the SKU's throughput. StockChanged is
    published first (what its subscribers write needs no level row), then one statement locks
    the rows, guards and updates them, and writes the movements, the reservations and what
    inventory.stock_marks' writers add (channels' pending pushes). A failed guard raises, and
    this call's transaction (or savepoint) undoes all of it.
    """
    if connection.vendor != "postgresql":
        return stock_reserve_within(requests=requests, actor=actor)
    plan = _reservation_plan(requests, actor, tracked=None, levels=None)
    if plan is None:
        return []
    requests, ids, per_level, movements = plan
    _stock_changed(ids, written=True)
    ctes = [_movements_insert(movements)]
    ctes += [writer(list(ids), "upd") for writer in stock_mark_writers()]
    locking, lock_params = _levels_reserve_sql(per_level)
    sql, params = _reservations_sql(requests, ctes)
    # The reservations' upsert becomes a CTE whose rows come back with the ids the UPDATE took.
    upsert = sql.removeprefix("WITH ").split(" INSERT INTO ", 1)
    statement = (
        f"WITH {locking}, {upsert[0]}, res AS (INSERT INTO {upsert[1]}) "
        f"SELECT 1, id, order_id, order_line_id, sku_id, location_id, quantity FROM res "
        f"UNION ALL SELECT 0, id, NULL, NULL, NULL, NULL, NULL FROM upd"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, lock_params + params)
        rows = cursor.fetchall()
    updated = {row[1] for row in rows if row[0] == 0}
    failed = next((pk for pk in sorted(per_level) if pk not in updated), None)
    if failed is not None:
        raise _insufficient(failed, per_level[failed], "reserve")
    return _reservations_from(row[1:] for row in rows if row[0] == 1)


def stock_reserve_within(
    *,
    requests: Sequence[ReservationRequest],
    actor: str = "system",
    tracked: set[int] | None = None,
    levels: Mapping[tuple[int, int], int] | None = None,
) -> list[Reservation]:
    """stock_reserve inside the caller's transaction, without a savepoint of its own (the hot
    path of routing): a request that cannot be served changes nothing before it raises
    InsufficientStock (the levels it had taken are given back in the same statement's
    transaction), so the caller may plan again in the same transaction.

    `tracked`: the ids of the requests' SKUs that track inventory, if the caller knows them;
    `levels`: StockLevel ids by (sku id, location id), if the caller read them (a pair missing
    there is looked up, its row created if needed).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("stock_reserve_within needs the caller's transaction.")
    plan = _reservation_plan(requests, actor, tracked=tracked, levels=levels)
    if plan is None:
        return []
    requests, ids, per_level, movements = plan
    failed = _levels_reserve(per_level)
    if failed is not None:
        raise _insufficient(failed, per_level[failed], "reserve")
    reservations = _reservations_upsert(requests, movements)
    _stock_changed(ids)
    return reservations


def _reservation_plan(
    requests: Sequence[ReservationRequest],
    actor: str,
    *,
    tracked: set[int] | None,
    levels: Mapping[tuple[int, int], int] | None,
) -> (
    tuple[
        list[ReservationRequest],
        dict[tuple[int, int], int],
        dict[int, int],
        list[StockMovement],
    ]
    | None
):
    """What a reservation will write, read before any row is locked: the requests of tracked
    SKUs, their level ids by (sku, location), the quantity per level id and the movements.
    None when no request tracks inventory."""
    for request in requests:
        _positive(request.quantity)
    pairs = {(r.sku_id, r.location_id) for r in requests}
    if tracked is None and levels is None:
        ids = _tracked_level_ids(pairs)
        requests = [r for r in requests if (r.sku_id, r.location_id) in ids]
    else:
        if tracked is None:
            tracked = _tracked_ids({r.sku_id for r in requests})
        requests = [r for r in requests if r.sku_id in tracked]
        pairs = {(r.sku_id, r.location_id) for r in requests}
        if levels is not None and pairs <= set(levels):
            ids = {pair: levels[pair] for pair in pairs}
        else:
            ids = _level_ids(pairs)
    if not requests:
        return None
    per_level: dict[int, int] = defaultdict(int)
    for r in requests:
        per_level[ids[(r.sku_id, r.location_id)]] += r.quantity
    movements = [
        _movement(
            sku_id=r.sku_id,
            location_id=r.location_id,
            kind=MovementKind.RESERVATION,
            reserved=r.quantity,
            actor=actor,
            order_id=r.order_id,
            order_line_id=r.order_line_id,
        )
        for r in requests
    ]
    return requests, ids, dict(per_level), movements


def _tracked_level_ids(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """Level ids by (sku, location) of the pairs whose SKU tracks inventory, in one query when
    the levels exist; pairs of SKUs that do not track inventory are left out."""
    if not pairs:
        return {}
    quote = connection.ops.quote_name
    values, params = values_sql(sorted(pairs))
    sql = (
        f"SELECT l.id, l.sku_id, l.location_id FROM {quote(StockLevel._meta.db_table)} l "
        f"JOIN {quote(Sku._meta.db_table)} s ON s.id = l.sku_id AND s.track_inventory "
        f"JOIN (VALUES {values}) AS p ON l.sku_id = p.column1 AND l.location_id = p.column2"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = {(s, loc): pk for pk, s, loc in cursor.fetchall()}
    missing = pairs - set(found)
    if missing:  # a SKU that does not track inventory, or a level not created yet
        tracked = _tracked_ids({s for s, _ in missing})
        found.update(_level_ids({pair for pair in missing if pair[0] in tracked}))
    return found


def _levels_reserve_sql(per_level: Mapping[int, int]) -> tuple[str, list[Any]]:
    """The CTEs `locked` (every row locked first, in primary-key order: the house lock order)
    and `upd` (each quantity added to its level's reserved where the guard holds, RETURNING
    the ids it updated) of a PostgreSQL statement, and their parameters."""
    rows = sorted(per_level.items())
    values, params = values_sql(rows)
    table = connection.ops.quote_name(StockLevel._meta.db_table)
    guard = f"({table}.allow_backorder OR {table}.on_hand >= {table}.reserved + v.column2)"
    ids = ", ".join(["%s"] * len(rows))
    sql = (
        f"locked AS MATERIALIZED (SELECT id FROM {table} WHERE id IN ({ids}) "
        f"ORDER BY id FOR UPDATE), "
        f"upd AS (UPDATE {table} SET reserved = {table}.reserved + v.column2 "
        f"FROM (VALUES {values}) AS v, locked "
        f"WHERE {table}.id = v.column1 AND locked.id = v.column1 AND {guard} "
        f"RETURNING {table}.id)"
    )
    return sql, [pk for pk, _ in rows] + params


def _levels_reserve(per_level: Mapping[int, int]) -> int | None:
    """Add each quantity to its level's reserved, guarded (`allow_backorder` or on hand covers
    reserved plus the quantity), in one statement that locks the rows in primary-key order
    (the house lock order: concurrent reservations queue instead of deadlocking). Returns None,
    or the first level in primary-key order whose guard failed, after giving back what the
    statement took (the caller raises)."""
    rows = sorted(per_level.items())
    table = connection.ops.quote_name(StockLevel._meta.db_table)
    if connection.vendor == "postgresql":
        ctes, params = _levels_reserve_sql(per_level)
        sql = f"WITH {ctes} SELECT id FROM upd"
    else:  # SQLite has no row locks: its writer holds the database.
        values, params = values_sql(rows)
        guard = f"({table}.allow_backorder OR {table}.on_hand >= {table}.reserved + v.column2)"
        sql = (
            f"UPDATE {table} SET reserved = {table}.reserved + v.column2 "
            f"FROM (VALUES {values}) AS v WHERE {table}.id = v.column1 AND {guard} "
            f"RETURNING {table}.id"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        updated = {pk for (pk,) in cursor.fetchall()}
        if len(updated) == len(rows):
            return None
        taken = [(pk, q) for pk, q in rows if pk in updated]
        if taken:  # all or nothing: give back what this statement took
            back, back_params = values_sql(taken)
            cursor.execute(
                f"UPDATE {table} SET reserved = {table}.reserved - v.column2 "
                f"FROM (VALUES {back}) AS v WHERE {table}.id = v.column1",
                back_params,
            )
    return next(pk for pk, _ in rows if pk not in updated)


def _held(order_line_ids: Iterable[int]) -> list[Reservation]:
    """What the order lines still hold, by line then location (one query, no lock taken)."""
    return list(
        Reservation.objects.filter(order_line_id__in=set(order_line_ids), quantity__gt=0).order_by(
            "order_line_id", "location_id"
        )
    )


def _levels_take(
    per_level: Mapping[tuple[int, int], int], *, on_hand: bool
) -> tuple[int, int] | None:
    """Take each (sku, location)'s quantity from reserved (and on hand) of its level.

    Every level row of the operation is locked by one SELECT ... FOR UPDATE in primary-key order
    (the house lock order: concurrent operations queue instead of deadlocking), then all change in
    one guarded UPDATE ... FROM (VALUES ...) (SQLite has it since 3.33, RETURNING since 3.35).
    Returns a pair whose level is missing, or the first in primary-key order whose guard failed
    (the caller raises, which rolls back the rows that did change), else None.
    """
    match = Q()
    for sku_id, location_id in per_level:
        match |= Q(sku_id=sku_id, location_id=location_id)
    ids = {
        (sku_id, location_id): pk
        for pk, sku_id, location_id in StockLevel.objects.select_for_update()
        .filter(match)
        .order_by("pk")
        .values_list("pk", "sku_id", "location_id")
    }
    for pair in per_level:
        if pair not in ids:
            return pair
    values, params = values_sql(sorted((ids[pair], q) for pair, q in per_level.items()))
    table = connection.ops.quote_name(StockLevel._meta.db_table)
    change = "reserved = reserved - v.column2"
    guard = f"{table}.reserved >= v.column2"
    if on_hand:
        change += ", on_hand = on_hand - v.column2"
        guard += f" AND {table}.on_hand >= v.column2"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {change} FROM (VALUES {values}) AS v "
            f"WHERE {table}.id = v.column1 AND {guard} RETURNING {table}.id",
            params,
        )
        updated = {pk for (pk,) in cursor.fetchall()}
    for pair, pk in sorted(ids.items(), key=lambda item: item[1]):
        if pk not in updated:
            return pair
    return None


def _reservations_take(takes: Mapping[int, int]) -> bool:
    """Take quantities from reservations (by id) in one guarded UPDATE; False if one held less.

    Runs with the levels locked, and every writer of a reservation locks its level first: the
    guard catches a plan that was read before a concurrent change was committed.
    """
    values, params = values_sql(sorted(takes.items()))
    table = connection.ops.quote_name(Reservation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET quantity = quantity - v.column2 FROM (VALUES {values}) AS v "
            f"WHERE {table}.id = v.column1 AND {table}.quantity >= v.column2",
            params,
        )
        return cursor.rowcount == len(takes)


def _concurrent_change() -> Conflict:
    return Conflict("The reservation changed meanwhile; try again.", code="concurrent_change")


def _from_reservations(
    taken: Sequence[tuple[Reservation, int]],
    kind: str,
    *,
    on_hand: bool,
    actor: str,
    reason: str = "",
    shipment_id: int | None = None,
) -> tuple[dict[tuple[int, int], int], list[StockMovement]]:
    """Units taken from reservations: the units per (sku, location) level, and one movement a
    reservation (reserved down; on hand down too when they leave the building)."""
    per_level: dict[tuple[int, int], int] = defaultdict(int)
    for reservation, quantity in taken:
        per_level[(reservation.sku_id, reservation.location_id)] += quantity
    movements = [
        _movement(
            sku_id=reservation.sku_id,
            location_id=reservation.location_id,
            kind=kind,
            on_hand=-quantity if on_hand else 0,
            reserved=-quantity,
            actor=actor,
            reason=reason,
            order_id=reservation.order_id,
            order_line_id=reservation.order_line_id,
            shipment_id=shipment_id,
        )
        for reservation, quantity in taken
    ]
    return per_level, movements


@transaction.atomic
def stock_release_many(
    *, items: Sequence[ReleaseRequest], reason: str = "", actor: str = "system"
) -> list[StockMovement]:
    """Give back what order lines hold, every item or none (see ReleaseRequest).

    Releasing what is not held is a no-op for "all" (replays are safe). Raises
    ValidationFailed (bad quantity), Conflict (asks to release more than is held: `not_reserved`;
    the stock changed meanwhile: `concurrent_change`).
    """
    for item in items:
        if item.quantity is not None:
            _positive(item.quantity)
    held = _held(item.order_line_id for item in items)
    left = {r.pk: r.quantity for r in held}
    takes: dict[int, int] = defaultdict(int)  # reservation id -> units released from it
    for item in items:
        mine = [
            r
            for r in held
            if r.order_line_id == item.order_line_id and item.location_id in (None, r.location_id)
        ]
        total = sum(left[r.pk] for r in mine)
        if item.quantity is not None and item.quantity > total:
            raise Conflict(
                f"Order line {item.order_line_id} holds {total}, cannot release {item.quantity}.",
                code="not_reserved",
            )
        remaining = total if item.quantity is None else item.quantity
        for reservation in mine:
            take = min(left[reservation.pk], remaining)
            if take:
                left[reservation.pk] -= take
                takes[reservation.pk] += take
                remaining -= take
    if not takes:
        return []
    released = [(r, takes[r.pk]) for r in held if r.pk in takes]
    per_level, movements = _from_reservations(
        released, MovementKind.RELEASE, on_hand=False, actor=actor, reason=reason
    )
    # Planned above before any stock row is locked, so the locked section is statements only.
    if _levels_take(per_level, on_hand=False) is not None or not _reservations_take(takes):
        raise _concurrent_change()
    StockMovement.objects.bulk_create(movements)
    _stock_changed(per_level, freed=True)
    return movements


def stock_release(
    *,
    order_line_id: int,
    location_id: int | None = None,
    quantity: int | None = None,
    reason: str = "",
    actor: str = "system",
) -> list[StockMovement]:
    """Give back what an order line holds (at one location, or everywhere; all, or `quantity`).

    Releasing what is not held is a no-op for "all" (replays are safe). Raises
    ValidationFailed (bad quantity), Conflict (asks to release more than is held).
    """
    return stock_release_many(
        items=[ReleaseRequest(order_line_id, location_id, quantity)], reason=reason, actor=actor
    )


@transaction.atomic
def stock_consume_many(
    *, items: Sequence[ConsumeRequest], shipment_id: int | None = None, actor: str = "system"
) -> list[StockMovement]:
    """Reserved units leave the building, every item or none: on hand and reserved go down.

    Raises ValidationFailed (bad quantity), Conflict (a line holds less than that there:
    `not_reserved`; the reservation changed meanwhile: `concurrent_change`), InsufficientStock
    (fewer on hand than shipped: count the location).
    """
    for item in items:
        _positive(item.quantity)
    wanted: dict[tuple[int, int], int] = defaultdict(int)  # (line, location) -> units
    for item in items:
        wanted[(item.order_line_id, item.location_id)] += item.quantity
    if not wanted:
        return []
    held = {(r.order_line_id, r.location_id): r for r in _held(ln for ln, _ in wanted)}
    for (order_line_id, location_id), quantity in wanted.items():
        reservation = held.get((order_line_id, location_id))
        if reservation is None or reservation.quantity < quantity:
            raise Conflict(
                f"Order line {order_line_id} holds {reservation.quantity if reservation else 0} "
                f"at this location, cannot ship {quantity}.",
                code="not_reserved",
            )
    shipped = [(held[key], quantity) for key, quantity in wanted.items()]
    per_level, movements = _from_reservations(
        shipped, MovementKind.SHIPMENT, on_hand=True, actor=actor, shipment_id=shipment_id
    )
    # Planned above before any stock row is locked, so the locked section is statements only.
    short = _levels_take(per_level, on_hand=True)
    if short is not None:
        raise _insufficient(_level_ids([short])[short], per_level[short], "ship")
    if not _reservations_take({r.pk: quantity for r, quantity in shipped}):
        raise _concurrent_change()
    StockMovement.objects.bulk_create(movements)
    _stock_changed(per_level)
    return movements


def stock_consume(
    *,
    order_line_id: int,
    location_id: int,
    quantity: int,
    shipment_id: int | None = None,
    actor: str = "system",
) -> StockMovement:
    """Units of a reserved order line leave the building: on hand and reserved both go down.

    Raises ValidationFailed (bad quantity), Conflict (the line holds less than that here),
    InsufficientStock (fewer on hand than shipped: count the location).
    """
    [movement] = stock_consume_many(
        items=[ConsumeRequest(order_line_id, location_id, quantity)],
        shipment_id=shipment_id,
        actor=actor,
    )
    return movement


@transaction.atomic
def stock_sell_in_store(
    *,
    location: Location,
    sales: Sequence[tuple[Sku, int, int]],
    order_id: int,
    actor: str = "system",
    reason: str = "sold in store",
) -> dict[str, int]:
    """Units sold over the counter of a store (a POS sale), or shipped from a location outside
    the OMS (`reason` says which): they already left the shelf.

    `sales` holds (sku, quantity, order line id). The levels are locked in one query in primary
    key order (the house lock order), and units are taken from on hand without touching what
    online orders hold there. A sale the ledger cannot cover (the shelf held units we did not
    know of) takes what it can and flags the level for a count. Returns the shortfall per SKU
    code (empty when the ledger covered the sale). Raises ValidationFailed (bad quantity).
    """
    for _, quantity, _ in sales:
        _positive(quantity)
    ids = _level_ids([(sku.pk, location.pk) for sku, _, _ in sales])
    levels = {
        level.sku_id: level
        for level in StockLevel.objects.select_for_update()
        .filter(pk__in=list(ids.values()))
        .order_by("pk")
    }
    shortfalls: dict[str, int] = {}
    movements = []
    changed = []
    for sku, quantity, order_line_id in sales:
        level = levels[sku.pk]
        held = 0 if level.allow_backorder else level.reserved
        taken = min(quantity, max(0, level.on_hand - held))
        if taken:
            level.on_hand -= taken
            movements.append(
                _movement(
                    sku_id=sku.pk,
                    location_id=location.pk,
                    kind=MovementKind.SHIPMENT,
                    on_hand=-taken,
                    actor=actor,
                    reason=reason,
                    order_id=order_id,
                    order_line_id=order_line_id,
                )
            )
            changed.append((sku.pk, location.pk))
        if quantity > taken:
            shortfalls[sku.code] = shortfalls.get(sku.code, 0) + quantity - taken
            level.needs_count = True
    StockLevel.objects.bulk_update(list(levels.values()), ["on_hand", "needs_count"])
    StockMovement.objects.bulk_create(movements)
    if changed:
        _stock_changed(changed)
    return shortfalls


# --- returns and quarantine ------------------------------------------------------------------


@transaction.atomic
def stock_restock_return(
    *,
    sku: Sku,
    location: Location,
    quantity: int,
    return_id: int | None = None,
    order_line_id: int | None = None,
    actor: str = "system",
) -> StockMovement:
    """Returned sellable units go back on hand. Raises ValidationFailed."""
    _tracked(sku)
    _positive(quantity)
    return _apply(
        sku=sku,
        location=location,
        kind=MovementKind.RETURN_RESTOCK,
        on_hand=quantity,
        actor=actor,
        reason="returned in sellable condition",
        return_id=return_id,
        order_line_id=order_line_id,
    )


@transaction.atomic
def stock_quarantine(
    *,
    sku: Sku,
    location: Location,
    quantity: int,
    from_on_hand: bool = False,
    reason: str = "",
    return_id: int | None = None,
    actor: str = "system",
) -> StockMovement:
    """Put units into quarantine (not sellable): returned goods, or taken from on hand.

    Raises ValidationFailed, InsufficientStock (from on hand: not enough unreserved).
    """
    _tracked(sku)
    _positive(quantity)
    return _apply(
        sku=sku,
        location=location,
        kind=MovementKind.QUARANTINE,
        on_hand=-quantity if from_on_hand else 0,
        quarantined=quantity,
        actor=actor,
        reason=reason,
        return_id=return_id,
    )


@transaction.atomic
def stock_write_off_quarantine(
    *, sku: Sku, location: Location, quantity: int, reason: str = "", actor: str = "system"
) -> StockMovement:
    """Write off quarantined units. Raises ValidationFailed, InsufficientStock."""
    _tracked(sku)
    _positive(quantity)
    return _apply(
        sku=sku,
        location=location,
        kind=MovementKind.DAMAGE,
        quarantined=-quantity,
        actor=actor,
        reason=reason or "written off from quarantine",
    )
