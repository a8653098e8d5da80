"""What the OMS tells the channels: stock levels, shipments with tracking, cancellations, refunds.

Invariants:
- stock: what a channel is sent for a SKU is what it may sell now (channel_availability: the
  sum over its locations, less its buffer), never negative; pending marks are acknowledged with
  the token read, so a change made during a push is pushed again; a failed batch acknowledges
  nothing and is retried; every batch is logged (ChannelPush) and each listing keeps the
  quantity last sent;
- one stock push per channel at a time: a lease on the channel row, claimed with
  select_for_update(skip_locked), renewed at every batch and released only by its holder;
- fulfilment, cancellation and refund pushes are keyed by our reference (shipment, order
  cancellation, refund idempotency key), unique per channel, and claimed before the call: a push
  that succeeded is never sent again, two live workers never send one at once (a dead worker's
  claim is taken over), each outcome is written to the order's timeline, and a push whose
  retries are spent is failed with the reason;
- nothing is sent while a database lock is held: pushes read, call out, then record.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from channels.adapters import ADAPTERS
from channels.adapters.base import (
    CancelPush,
    ChannelAdapter,
    FulfilmentLine,
    FulfilmentPush,
    NotSupported,
    PushResult,
    RefundPush,
    StockItem,
    StockResult,
)
from channels.models import ChannelListing, ChannelPush, ChannelStockChange
from channels.selectors import channel_availability, channel_stock_changes
from channels.services import channel_stock_changes_ack
from channels.services.sync import channel_adapter
from channels.states import PushKind, PushStatus
from inventory.models import Channel
from oms.errors import PermanentError, TransientError
from oms.workers import holder_alive, holder_identity
from orders.models import Order
from orders.services import order_event_add

STOCK_BATCH = 250
PUSH_LEASE = dt.timedelta(minutes=5)
PUSH_CLAIM = dt.timedelta(minutes=5)


def has_connector(channel: Channel) -> bool:
    return channel.kind in ADAPTERS


def order_connected(order_id: int) -> bool:
    """The order came in through its channel's connector (a sync or a webhook), so the channel
    knows it; orders typed in through the API or a CSV file stay ours to tell about."""
    kind = (
        Order.objects.filter(pk=order_id, channel_state__isnull=False)
        .exclude(channel__credentials_encrypted="")
        .values_list("channel__kind", flat=True)
        .first()
    )
    return kind in ADAPTERS


# --- stock ------------------------------------------------------------------------------------


def channels_with_pending_stock() -> list[int]:
    """Active connector channels with availability changes not yet pushed."""
    return list(
        Channel.objects.filter(is_active=True, kind__in=list(ADAPTERS), stock_changes__isnull=False)
        .exclude(credentials_encrypted="")  # not connected yet: nothing to push to
        .distinct()
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def channel_stock_push(
    *, channel: Channel | int, adapter: ChannelAdapter | None = None, max_batches: int = 400
) -> list[ChannelPush]:
    """Push the channel's pending availability changes in batches. Returns the batches logged.

    Raises TransientError (the batch is logged failed and its marks stay pending).
    """
    channel_id = channel if isinstance(channel, int) else int(channel.pk)
    claimed = _push_claim(channel_id)
    if claimed is None:
        return []  # another worker is pushing this channel; it will see these marks too
    channel, claimed_lease = claimed
    lease: dt.datetime | None = claimed_lease
    pushes: list[ChannelPush] = []
    try:
        adapter = adapter or channel_adapter(channel)
        for _ in range(max_batches):
            pending = channel_stock_changes(channel=channel, limit=STOCK_BATCH)
            if not pending:
                break
            # A batch refused whole is acknowledged (see _stock_batch): go on with the next.
            pushes.append(_stock_batch(channel, adapter, pending, kind=PushKind.STOCK))
            lease = _push_renew(channel, claimed_lease)
            if lease is None:
                break  # the lease expired and another worker took over: it goes on
            claimed_lease = lease
    finally:
        if lease is not None:
            Channel.objects.filter(pk=channel.pk, stock_push_lease_until=lease).update(
                stock_push_lease_until=None
            )
    return pushes


def _push_claim(channel_id: int) -> tuple[Channel, dt.datetime] | None:
    with transaction.atomic():
        channel = Channel.objects.select_for_update(skip_locked=True).filter(pk=channel_id).first()
        now = timezone.now()
        if channel is None or (
            channel.stock_push_lease_until and channel.stock_push_lease_until > now
        ):
            return None
        lease = now + PUSH_LEASE
        Channel.objects.filter(pk=channel.pk).update(stock_push_lease_until=lease)
        return channel, lease


def _push_renew(channel: Channel, lease: dt.datetime) -> dt.datetime | None:
    renewed = timezone.now() + PUSH_LEASE
    if Channel.objects.filter(pk=channel.pk, stock_push_lease_until=lease).update(
        stock_push_lease_until=renewed
    ):
        return renewed
    return None


def _stock_batch(
    channel: Channel,
    adapter: ChannelAdapter,
    pending: Sequence[ChannelStockChange],
    *,
    kind: str,
) -> ChannelPush:
    skus = [change.sku for change in pending]
    figures = {
        row.sku_id: row.available for row in channel_availability(channel=channel, skus=skus)
    }
    listings = {
        listing.sku_id: listing
        for listing in ChannelListing.objects.filter(channel=channel, sku_id__in=list(figures))
    }
    items = [
        StockItem(
            sku=sku.code,
            quantity=max(0, figures.get(sku.pk, 0)),
            external_id=listings[sku.pk].external_id if sku.pk in listings else "",
        )
        for sku in skus
    ]
    push = ChannelPush.objects.create(
        channel=channel, kind=kind, reference=uuid.uuid4().hex, items=len(items), attempts=1
    )
    try:
        results = adapter.stock_push(items)
    except TransientError as exc:
        push.status = PushStatus.FAILED
        push.error = str(exc)[:5000]
        push.finished_at = timezone.now()
        push.save(update_fields=["status", "error", "finished_at"])
        raise  # the marks stay pending: the retry sends them
    except PermanentError as exc:
        # The channel refused the whole batch (retrying cannot help, and these marks would
        # block every later batch): each listing shows why; a later change marks it again.
        results = [StockResult(sku=item.sku, ok=False, error=str(exc)[:500]) for item in items]
        push.error = str(exc)[:5000]
    errors = {result.sku: result.error for result in results if not result.ok}
    now = timezone.now()
    by_code = {sku.code: sku for sku in skus}
    rows = []
    for item in items:
        sku = by_code[item.sku]
        listing = listings.get(sku.pk) or ChannelListing(channel=channel, sku=sku)
        error = errors.get(item.sku, "")
        if not error:
            listing.last_quantity = item.quantity
            listing.last_pushed_at = now
        listing.last_error = error[:500]
        rows.append(listing)
    ChannelListing.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["channel", "sku"],
        update_fields=["last_quantity", "last_pushed_at", "last_error"],
    )
    # A SKU the channel refused (not listed there) is acknowledged too: retrying cannot help,
    # and the listing shows the error; a later change marks it again.
    channel_stock_changes_ack(
        channel=channel, seen=[(change.sku_id, change.token) for change in pending]
    )
    push.failed_items = len(errors)
    push.status = (
        PushStatus.FAILED
        if len(errors) == len(items)
        else PushStatus.PARTIAL
        if errors
        else PushStatus.SUCCEEDED
    )
    push.detail = {
        "sent": {item.sku: item.quantity for item in items[:50]},
        "errors": dict(list(errors.items())[:50]),
    }
    push.finished_at = timezone.now()
    push.save(update_fields=["failed_items", "status", "detail", "error", "finished_at"])
    return push


def channel_stock_reconcile(*, channel: Channel | int) -> int:
    """Mark every active tracked SKU pending for the channel: the next push sends them all.

    Returns how many SKUs were marked.
    """
    from inventory.models import Sku

    channel = channel if isinstance(channel, Channel) else Channel.objects.get(pk=channel)
    change = ChannelStockChange._meta
    quote = connection.ops.quote_name
    token = change.get_field("token").get_db_prep_value(uuid.uuid4(), connection)
    now = change.get_field("changed_at").get_db_prep_value(timezone.now(), connection)
    sql = (
        f"INSERT INTO {quote(change.db_table)} (channel_id, sku_id, token, changed_at) "
        f"SELECT %s, id, %s, %s FROM {quote(Sku._meta.db_table)} "
        f"WHERE is_active AND track_inventory "
        f"ON CONFLICT (channel_id, sku_id) DO UPDATE SET "
        f"token = excluded.token, changed_at = excluded.changed_at"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [channel.pk, token, now])
        return int(cursor.rowcount)


# --- fulfilment, cancellations, refunds --------------------------------------------------------


def _pushable(order: Order) -> Channel | None:
    channel = order.channel
    if not channel.is_active or not has_connector(channel):
        return None
    # Orders the channel or a store fulfilled were never ours to ship, cancel or refund.
    if order.events.filter(kind__in=["fulfilled_by_channel", "sold_in_store"]).exists():
        return None
    return channel


def _push_claim_row(push_id: int) -> bool:
    """Take a push to send it: unclaimed, its claim expired, or its claimer's process died."""
    now = timezone.now()
    claim = {
        "claimed_until": now + PUSH_CLAIM,
        "claimed_by": holder_identity(),
        "attempts": F("attempts") + 1,
    }
    open_push = ChannelPush.objects.filter(pk=push_id).exclude(status=PushStatus.SUCCEEDED)
    if open_push.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)).update(**claim):
        return True
    other = open_push.values_list("claimed_by", flat=True).first()
    if other is None or holder_alive(other, now=now):
        return False
    return bool(open_push.filter(claimed_by=other).update(**claim))


def _push_once(
    *,
    order: Order,
    kind: str,
    reference: str,
    call: Any,
    describe: dict[str, Any],
    adapter: ChannelAdapter | None,
) -> ChannelPush | None:
    channel = _pushable(order)
    if channel is None:
        return None
    push, _ = ChannelPush.objects.get_or_create(
        channel=channel, kind=kind, reference=reference[:128], defaults={"order": order}
    )
    if push.status == PushStatus.SUCCEEDED:
        return push
    if not _push_claim_row(push.pk):
        push.refresh_from_db()
        if push.status == PushStatus.SUCCEEDED:
            return push
        raise TransientError(f"Push {push.reference} is being sent by another worker.")
    push.refresh_from_db()
    try:
        adapter = adapter or channel_adapter(channel)
        result: PushResult = call(adapter)
    except NotSupported as exc:
        _push_done(push, order, PushStatus.FAILED, error=f"not supported: {exc}", what=describe)
        return push
    except PermanentError as exc:
        _push_done(push, order, PushStatus.FAILED, error=str(exc), what=describe)
        return push
    except TransientError as exc:
        ChannelPush.objects.filter(pk=push.pk).update(
            error=str(exc)[:5000], claimed_until=None, claimed_by=""
        )
        raise
    _push_done(
        push,
        order,
        PushStatus.SUCCEEDED,
        external_id=result.external_id,
        detail=result.detail,
        what=describe,
    )
    return push


def _push_done(
    push: ChannelPush,
    order: Order,
    status: str,
    *,
    error: str = "",
    external_id: str = "",
    detail: dict[str, Any] | None = None,
    what: dict[str, Any],
) -> None:
    with transaction.atomic():
        push.status = status
        push.error = error[:5000]
        push.external_id = external_id[:128]
        push.detail = {**what, **(detail or {})}
        push.finished_at = timezone.now()
        push.claimed_until, push.claimed_by = None, ""
        push.save(
            update_fields=[
                "status",
                "error",
                "external_id",
                "detail",
                "finished_at",
                "claimed_until",
                "claimed_by",
            ]
        )
        order_event_add(
            order=order,
            kind=f"channel_{push.kind}_{'pushed' if status == PushStatus.SUCCEEDED else 'failed'}",
            actor=f"channel:{push.channel.code}",
            reference=push.reference,
            external_id=external_id,
            error=error[:500],
            **what,
        )


def shipment_reference(shipment_id: int) -> str:
    return f"shipment-{shipment_id}"


def push_gave_up(*, reference: str, reason: str) -> None:
    """A push's retries are spent: it is failed, with the reason on the order's timeline."""
    for push in (
        ChannelPush.objects.filter(reference=reference[:128])
        .exclude(status=PushStatus.SUCCEEDED)
        .select_related("order", "channel")
    ):
        if push.order is not None:
            _push_done(push, push.order, PushStatus.FAILED, error=f"gave up: {reason}", what={})


def shipment_push(*, shipment_id: int, adapter: ChannelAdapter | None = None) -> ChannelPush | None:
    """Tell the order's channel that a shipment left, with its tracking. Idempotent."""
    from fulfilment.models import Shipment

    shipment = (
        Shipment.objects.select_related("order__channel")
        .prefetch_related("lines__order_line")
        .get(pk=shipment_id)
    )
    order = shipment.order
    push = FulfilmentPush(
        order_external_id=order.external_id,
        reference=shipment_reference(shipment.pk),
        lines=[
            FulfilmentLine(
                external_line_id=line.order_line.external_line_id,
                sku=line.order_line.sku_code,
                quantity=line.quantity_packed or line.quantity,
            )
            for line in shipment.lines.all()
        ],
        carrier=shipment.carrier,
        service=shipment.service,
        tracking_number=shipment.tracking_number,
        tracking_url=shipment.tracking_url,
        shipped_at=shipment.shipped_at or timezone.now(),
    )
    return _push_once(
        order=order,
        kind=PushKind.FULFILMENT,
        reference=push.reference,
        call=lambda a: a.fulfilment_push(push),
        describe={
            "shipment": shipment.pk,
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
        },
        adapter=adapter,
    )


def cancel_push(
    *,
    order_id: int,
    reference: str,
    reason: str,
    lines: Sequence[tuple[int, int]] = (),
    adapter: ChannelAdapter | None = None,
) -> ChannelPush | None:
    """Tell the order's channel that we cancelled (some of) it. Idempotent on `reference`."""
    order = Order.objects.select_related("channel").get(pk=order_id)
    by_id = {line.pk: line for line in order.lines.all()}
    push = CancelPush(
        order_external_id=order.external_id,
        reference=reference,
        reason=reason,
        lines=[
            FulfilmentLine(
                external_line_id=by_id[pk].external_line_id, sku=by_id[pk].sku_code, quantity=q
            )
            for pk, q in lines
            if pk in by_id
        ],
    )
    return _push_once(
        order=order,
        kind=PushKind.CANCEL,
        reference=reference,
        call=lambda a: a.cancel_push(push),
        describe={"reason": reason[:200]},
        adapter=adapter,
    )


def refund_push(
    *,
    order_id: int,
    reference: str,
    amount: str,
    currency: str,
    reason: str,
    move_money: bool = False,
    adapter: ChannelAdapter | None = None,
) -> ChannelPush | None:
    """Tell the order's channel about a refund another provider paid (or, with `move_money`,
    have the channel pay it back). Idempotent on the refund's key."""
    from decimal import Decimal

    order = Order.objects.select_related("channel").get(pk=order_id)
    push = RefundPush(
        order_external_id=order.external_id,
        reference=reference,
        amount=Decimal(amount),
        currency=currency,
        reason=reason,
        move_money=move_money,
    )
    return _push_once(
        order=order,
        kind=PushKind.REFUND,
        reference=reference,
        call=lambda a: a.refund_push(push),
        describe={"amount": amount, "currency": currency},
        adapter=adapter,
    )


def refund_push_lookup(
    *,
    order_id: int,
    reference: str,
    amount: str,
    currency: str,
    adapter: ChannelAdapter | None = None,
) -> ChannelPush | None:
    """After a refund push whose answer was lost: the refund the channel made for it, found by
    asking the channel (adapters with `refund_lookup`: eBay keeps no key of ours), recorded as
    the push's success. None when the channel has none or cannot tell (Shopify and WooCommerce
    are idempotent on our key: asking them again is safe)."""
    from decimal import Decimal

    order = Order.objects.select_related("channel").get(pk=order_id)
    channel = _pushable(order)
    if channel is None:
        return None
    push = ChannelPush.objects.filter(
        channel=channel, kind=PushKind.REFUND, reference=reference[:128]
    ).first()
    if push is None or push.status == PushStatus.SUCCEEDED:
        return push
    adapter = adapter or channel_adapter(channel)
    lookup = getattr(adapter, "refund_lookup", None)
    if lookup is None:
        return None
    known = set(
        ChannelPush.objects.filter(order=order, kind=PushKind.REFUND, status=PushStatus.SUCCEEDED)
        .exclude(external_id="")
        .values_list("external_id", flat=True)
    )
    wanted = RefundPush(
        order_external_id=order.external_id,
        reference=reference,
        amount=Decimal(amount),
        currency=currency,
        reason="",
        move_money=True,
    )
    result: PushResult | None = lookup(wanted, known)
    if result is None:
        return None
    _push_done(
        push,
        order,
        PushStatus.SUCCEEDED,
        external_id=result.external_id,
        detail={**result.detail, "found_by_lookup": True},
        what={"amount": amount, "currency": currency},
    )
    return push


def refund_push_state(
    *, order_id: int, reference: str, adapter: ChannelAdapter | None = None
) -> str:
    """The channel's status of the refund a succeeded push created ("PENDING", "REFUNDED",
    "FAILED"), for channels that pay refunds back asynchronously (eBay, `refund_state`);
    "" when the channel cannot tell or there is no such push."""
    order = Order.objects.select_related("channel").get(pk=order_id)
    channel = _pushable(order)
    if channel is None:
        return ""
    push = ChannelPush.objects.filter(
        channel=channel,
        kind=PushKind.REFUND,
        reference=reference[:128],
        status=PushStatus.SUCCEEDED,
    ).first()
    if push is None or not push.external_id:
        return ""
    adapter = adapter or channel_adapter(channel)
    reader = getattr(adapter, "refund_state", None)
    return "" if reader is None else str(reader(order.external_id, push.external_id))
