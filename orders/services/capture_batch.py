"""Batch capture: a page of new orders of one channel (a sync page) written in a constant
number of statements.

Invariants:
- validation is order_capture's own (the same functions, one layer): a page with any record
  order_capture would refuse, or that it would not simply insert (an order the channel has
  already, an inactive channel, an order fulfilled elsewhere), raises, and nothing is written:
  the caller captures that page one order at a time (orders.services.capture.order_capture);
- the orders are those order_capture would write, in the caller's transaction: one look-up of
  the (channel, external id) pairs, one customer upsert, the orders' ids reserved in one
  statement, one INSERT each for the orders, their lines, holds, timeline entries and outbox
  messages; the unique (channel, external id) still decides: a race raises IntegrityError;
- nothing is routed here: the caller routes the new orders after its commit
  (orders.services.routing.orders_route_now_many).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models.functions import Lower

from inventory.models import Channel
from oms import events
from oms.errors import ChannelInactive, ValidationFailed
from oms.outbox import outbox_batch, outbox_enqueue
from orders.events import OrderCaptured
from orders.models import Customer, FraudRuleKind, Order, OrderHold, OrderLine
from orders.services.capture import (
    CONVERT_TASK,
    NUMBER_BASE,
    _channel_readable,
    _fraud_rules,
    _holds,
    _order_lines_new,
    _order_new,
    _Payload,
    _validated,
    search_text_for,
    skus_active,
)
from orders.services.conversion import order_convert_same_currency
from orders.services.timeline import orders_events_add
from orders.states import PaymentStatus

CUSTOMER_FIELDS = ("first_name", "last_name", "phone")
_DEFAULTS: dict[str, Any] = {
    "customer": None,
    "shipping_address": None,
    "billing_address": None,
    "placed_at": None,
    "shipping_price": "0",
    "payment_status": PaymentStatus.PENDING,
    "notes": "",
    "total": None,
    "prices_include_tax": False,
    "external_number": "",
    "priority": 0,
    "raw_payload": None,
    "actor": "system",
    "fulfilled_by": "",
    "store_location": None,
}


def orders_capture_batch(
    *, channel: str, captures: Sequence[Mapping[str, Any]]
) -> list[Order | None]:
    """Capture new orders of `channel`, each given as order_capture's keyword arguments (without
    channel), in the caller's transaction; returns them in that order, None for an order the
    channel has already (or that came earlier in the batch): the caller applies those one at a
    time (see the module docstring). Raises ValidationFailed, ChannelInactive or
    IntegrityError, having written nothing the caller's rollback does not undo."""
    payloads = [_payload(channel, kwargs) for kwargs in captures]
    if not payloads:
        return []
    channel_obj = _channel_readable(payloads[0])
    validated = []
    for payload in payloads:
        if _channel_readable(payload).pk != channel_obj.pk or payload.fulfilled_by:
            raise ValidationFailed("A batch is one channel's orders that we ship.")
        validated.append(
            _validated(
                currency=payload.currency,
                payment_status=payload.payment_status,
                lines=payload.lines,
                shipping_price=payload.shipping_price,
                total=payload.total,
                prices_include_tax=payload.prices_include_tax,
            )
        )
    if not channel_obj.is_active:
        raise ChannelInactive(f"Channel {channel_obj.code!r} is inactive.")
    known = set(
        Order.objects.filter(
            channel=channel_obj, external_id__in=[p.external_id for p in payloads]
        ).values_list("external_id", flat=True)
    )
    new: list[int] = []
    for index, payload in enumerate(payloads):
        if payload.external_id not in known:
            known.add(payload.external_id)
            new.append(index)
    created = iter(
        _create_many([payloads[i] for i in new], channel_obj, [validated[i] for i in new])
        if new
        else []
    )
    chosen = set(new)
    return [next(created) if i in chosen else None for i in range(len(payloads))]


def _payload(channel: str, kwargs: Mapping[str, Any]) -> _Payload:
    values = {**_DEFAULTS, **kwargs}
    values["external_id"] = str(values.get("external_id") or "").strip()
    return _Payload(channel=channel, **values)


def _create_many(
    payloads: list[_Payload],
    channel: Channel,
    validated: list[tuple[int, list[dict[str, Any]], Decimal, Decimal | None]],
) -> list[Order]:
    """Write the new orders with their lines, holds, timeline and outbox messages."""
    buyers = _customers_upsert([p.customer for p in payloads])
    skus = skus_active({ln["sku"] for _, lines, _, _ in validated for ln in lines})
    has_orders = _has_orders(channel, [b for b in buyers if b is not None])
    orders: list[Order] = []
    all_lines: list[OrderLine] = []
    holds: list[tuple[Order, list[tuple[str, str]]]] = []
    converted: dict[int, dict[str, Any]] = {}  # by id(order): those in the base currency
    texts: list[str] = []
    for payload, buyer, (_exponent, lines, shipping, channel_total) in zip(
        payloads, buyers, validated, strict=True
    ):
        order = _order_new(payload, channel, buyer, lines, shipping, channel_total)
        order_lines = _order_lines_new(order, lines, skus, "")
        found = _holds(order, order_lines, buyer, channel, channel_total, has_orders)
        if buyer is not None:
            has_orders.seen.add(buyer.pk)
        order.is_on_hold = bool(found)
        conversion = order_convert_same_currency(order)
        if conversion is not None:
            converted[id(order)] = conversion
        orders.append(order)
        all_lines += order_lines
        holds.append((order, found))
        texts.append(search_text_for(order, order_lines, buyer))
    _orders_insert(orders, texts)
    for line in all_lines:
        line.order_id = line.order.pk
    OrderLine.objects.bulk_create(all_lines)
    hold_rows = [
        OrderHold(order=o, reason=r, note=n, placed_by="system")
        for o, found in holds
        for r, n in found
    ]
    if hold_rows:
        OrderHold.objects.bulk_create(hold_rows)
    _timeline(payloads, orders, holds, channel, converted)
    with outbox_batch():  # the conversions and the subscribers' messages: one INSERT
        for order in orders:
            if id(order) not in converted:
                outbox_enqueue(CONVERT_TASK, order_id=order.pk)
        events.publish_many(
            [
                OrderCaptured(order_id=order.pk, emails=bool(channel.send_emails and order.email))
                for order in orders
            ]
        )
    return orders


def _timeline(
    payloads: list[_Payload],
    orders: list[Order],
    holds: list[tuple[Order, list[tuple[str, str]]]],
    channel: Channel,
    converted: Mapping[int, dict[str, Any]],
) -> None:
    entries: list[tuple[Order, str, str, dict[str, Any]]] = []
    for payload, order, (_, found) in zip(payloads, orders, holds, strict=True):
        captured = {
            "channel": channel.code,
            "external_id": order.external_id,
            "lines": len(payload.lines),
            "total": str(order.total),
            "currency": order.currency,
        }
        entries.append((order, "captured", payload.actor, captured))
        entries += [(order, "hold_placed", "system", {"reason": r, "note": n}) for r, n in found]
        if id(order) in converted:
            entries.append((order, "converted", "system", converted[id(order)]))
    orders_events_add(entries=entries)


class _HasOrders:
    """Whether a customer has an order already: read once for the batch's customers (only when
    a first-order rule asks), then the batch's own orders count too."""

    def __init__(self, known: set[int]) -> None:
        self.seen = known

    def __call__(self, customer: Customer) -> bool:
        return customer.pk in self.seen


def _has_orders(channel: Channel, buyers: list[Customer]) -> _HasOrders:
    rules = _fraud_rules(channel.pk)
    if not buyers or not any(r.kind == FraudRuleKind.FIRST_ORDER_ABROAD for r in rules):
        return _HasOrders(set())
    return _HasOrders(
        set(
            Order.objects.filter(customer_id__in={b.pk for b in buyers})
            .values_list("customer_id", flat=True)
            .distinct()
        )
    )


def _customers_upsert(data: list[Mapping[str, Any] | None]) -> list[Customer | None]:
    """The customers of the orders by e-mail, created or completed (a name or phone they lack)
    in one statement after one look-up; each order gets its customer as order_capture's
    look-up would have left it at that order (one order after another)."""
    emails = [str((item or {}).get("email") or "").strip().lower() for item in data]
    if not any(emails):
        return [None for _ in data]
    state = {
        email: {"first_name": first, "last_name": last, "phone": phone}
        for email, first, last, phone in Customer.objects.annotate(email_ci=Lower("email"))
        .filter(email_ci__in=set(filter(None, emails)))
        .values_list("email_ci", "first_name", "last_name", "phone")
    }
    seen: list[tuple[str, dict[str, str]] | None] = []
    for item, email in zip(data, emails, strict=True):
        if not email:
            seen.append(None)
            continue
        fields = {
            k: str((item or {}).get(k) or "")[:100] for k in ("first_name", "last_name", "phone")
        }
        known = state.setdefault(email, fields)
        for key, value in fields.items():
            known[key] = known[key] or value
        seen.append((email, dict(known)))
    ids = _upsert_sql(state)
    return [
        None if one is None else Customer(pk=ids[one[0]], email=one[0], **one[1]) for one in seen
    ]


def _upsert_sql(wanted: dict[str, dict[str, str]]) -> dict[str, int]:
    quote = connection.ops.quote_name
    table = quote(Customer._meta.db_table)
    rows = [Customer(email=email, **fields) for email, fields in wanted.items()]
    fields = [f for f in Customer._meta.local_concrete_fields if not f.primary_key]
    params = [f.get_db_prep_save(f.pre_save(c, True), connection) for c in rows for f in fields]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    fill = ", ".join(
        f"{name} = CASE WHEN {table}.{name} = '' THEN excluded.{name} ELSE {table}.{name} END"
        for name in ("first_name", "last_name", "phone")
    )
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(str(f.column)) for f in fields)}) "
        f"VALUES {', '.join([row] * len(rows))} "
        f"ON CONFLICT (LOWER({quote('email')})) DO UPDATE SET {fill} "
        f"RETURNING id, LOWER({table}.email)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchall()
    return {email: pk for pk, email in returned}


def _orders_insert(orders: list[Order], texts: list[str]) -> None:
    """INSERT the orders with their numbers (NUMBER_BASE + primary key) in one statement, their
    keys reserved before in one more (PostgreSQL: the sequence; SQLite: above the highest,
    which the INSERT's unique key guards against a concurrent writer)."""
    table = Order._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, len(orders)],
            )
            ids = [pk for (pk,) in cursor.fetchall()]
        else:
            quoted = connection.ops.quote_name(table)
            cursor.execute(
                "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
                f"COALESCE((SELECT MAX(id) FROM {quoted}), 0)) + 1",
                [table],
            )
            (first,) = cursor.fetchone()
            ids = list(range(first, first + len(orders)))
    for order, pk, text in zip(orders, sorted(ids), texts, strict=True):
        order.pk = pk
        order.number = str(NUMBER_BASE + pk)
        order.search_text = order.number + (f" {text}" if text else "")
    Order.objects.bulk_create(orders)
