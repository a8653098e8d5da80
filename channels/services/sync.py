"""The order sync engine: pulls a channel's orders since its cursor and upserts them.

Invariants:
- one sync of a channel at a time: a run claims the channel row with
  `select_for_update(skip_locked=True)` and takes a lease naming its process; a lease whose
  process died (oms.workers) or that expired is taken over, and the runs it left `running` are
  closed as failed with the reason (at the next claim, or by `sync_leases_recover` at the next
  beat fan-out, which also makes the channel due at once);
- upsert by (channel, external_id): a new order is captured once (order_capture decides under
  its unique constraint); a known one is compared by fingerprint, so a replay changes nothing;
  channel-side changes are applied through the orders services (a cancellation cancels the
  order if nothing shipped, without a refund of ours: the channel paid it back, else holds it
  for customer care; an address change before picking
  re-routes; a payment status only moves forward; units the channel refunded or removed are
  cancelled here without a refund of ours: the channel paid them back);
- an order already shipped on the channel when first seen (FULFILLED_ELSEWHERE) is recorded
  complete, never routed, reserved or pushed; its units leave our stock only when the channel's
  `shipped_elsewhere_stock` is "take" (shipped_elsewhere_location); later versions of it never
  ship it again. Part of it shipped so (the channel's own fulfilments of some lines, e.g.
  Shopify's partially fulfilled) counts those units shipped from capture and routes the rest;
  fulfilments the channel lists later that our pushes did not create (_fulfilments_apply) are
  recorded the same way, once, never more than is open here;
- the cursor only moves past what was stored: it is written after each page, to the latest
  change of that page's orders; a failed page leaves it where it was; each run starts an overlap
  window before the cursor, so a change the channel wrote late is still seen;
- a record that cannot be mapped or captured is stored as a failure of the run with its reason
  and payload, and does not stop the others; a page the channel answers with garbage fails the
  run (PermanentError) without half-importing anything: each order is its own transaction;
- every run is recorded: trigger, since, pages, created, updated, unchanged, failed, error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import DataError, IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from channels.adapters import adapter_class
from channels.adapters.base import (
    FULFILLED_BY_STORE,
    FULFILLED_ELSEWHERE,
    AdapterContext,
    CanonicalOrder,
    ChannelAdapter,
    NotSupported,
    OrderPage,
    RecordFailure,
)
from channels.models import ChannelOrderState, ChannelPush, ChannelSyncFailure, ChannelSyncRun
from channels.states import PushKind, SyncStatus, SyncTrigger
from fulfilment.models import Shipment
from fulfilment.services import shipment_cancel
from fulfilment.states import OPEN as OPEN_SHIPMENTS
from inventory.models import Channel, Location, StockMovement
from inventory.services import stock_restock_return
from oms.crypto import encrypt_json
from oms.errors import DomainError, PermanentError, TransientError, ValidationFailed
from oms.jsonsafe import strip_nul, without_nul
from oms.workers import holder_alive, holder_identity
from orders.models import Order
from orders.services import (
    order_cancel,
    order_capture,
    order_event_add,
    order_get_for_update,
    order_hold,
    order_lines_add_from_channel,
    order_payment_status_set,
    order_shipped_elsewhere,
    order_shipping_address_update,
)
from orders.services.capture import address_normalised
from orders.services.capture_batch import orders_capture_batch
from orders.services.lifecycle import EDITABLE_ADDRESS_STATUSES
from orders.services.routing import orders_route_now_many
from orders.states import HoldReason, OrderStatus

logger = logging.getLogger(__name__)

#: How far back the first sync of a channel looks.
FIRST_SYNC_LOOKBACK = dt.timedelta(days=7)
#: The daily deep sync re-reads this much: an order an offset-paged API (WooCommerce pages,
#: eBay offsets) let slip between two pages while another moved is imported within a day.
DEEP_SYNC_WINDOW = dt.timedelta(days=1)
#: A run holds its channel at most this long (a crashed worker's lease expires).
LEASE = dt.timedelta(minutes=15)
#: The runs that hold the channel's sync lease (webhook deliveries and CSV files do not).
LEASED_TRIGGERS = (SyncTrigger.SCHEDULE, SyncTrigger.MANUAL, SyncTrigger.DEEP)
#: The reason an order cancelled because the channel cancelled it carries (no echo back).
CHANNEL_CANCEL_PREFIX = "cancelled on the channel"
#: Errors of one record that make it a failed item instead of failing the run.
#: DataError and IntegrityError too (a value the columns cannot hold): each record is its own
#: transaction, so they are contained; OperationalError (deadlocks, a lost connection) is not.
RECORD_ERRORS = (
    DomainError,
    ValueError,
    TypeError,
    KeyError,
    InvalidOperation,
    ArithmeticError,
    DataError,
    IntegrityError,
)
#: Payment statuses only move forward when the channel reports them.
PAYMENT_RANK = {
    "pending": 0,
    "authorized": 1,
    "partially_paid": 2,
    "paid": 3,
    "partially_refunded": 4,
    "refunded": 5,
    "voided": 6,
}


# --- adapters ---------------------------------------------------------------------------------


def channel_adapter(channel: Channel, *, transport: Any = None) -> ChannelAdapter:
    """The adapter of a channel, with its decrypted credentials. Raises NotSupported."""
    cls = adapter_class(channel.kind)
    if cls is None:
        raise NotSupported(f"A {channel.get_kind_display()} channel has no connector.")
    credentials = channel.credentials()
    if transport is None:
        transport = demo_transport(channel.kind, credentials)

    def save(new: dict[str, Any]) -> None:
        Channel.objects.filter(pk=channel.pk).update(credentials_encrypted=encrypt_json(new))

    context = AdapterContext(
        channel_code=channel.code,
        currency=channel.currency,
        credentials=credentials,
        save_credentials=save,
        transport=transport,
        location_map=dict(channel.location_map or {}),
    )
    return cls(context)


def demo_transport(kind: str, credentials: dict[str, Any]) -> Any:
    """The in-process fake store for a demo channel (credentials {"demo": "1"}), else None."""
    if kind == "shopify" and credentials.get("demo"):
        import httpx

        from channels.fakes.shopify import demo_store

        return httpx.MockTransport(demo_store().handler)
    return None


# --- claiming a channel -----------------------------------------------------------------------


def _lease_live(channel: Channel, now: dt.datetime) -> bool:
    """Another run holds the channel: its lease has not expired and its process is alive."""
    return bool(
        channel.sync_lease_until
        and channel.sync_lease_until > now
        and (not channel.sync_lease_holder or holder_alive(channel.sync_lease_holder, now=now))
    )


def _claim(channel_id: int) -> Channel | None:
    """Take the channel for one run, or None if a live run has it. Runs left `running` by a
    run whose worker died are closed as failed first."""
    with transaction.atomic():
        channel = (
            Channel.objects.select_for_update(skip_locked=True)
            .filter(pk=channel_id, is_active=True)
            .first()
        )
        if channel is None:
            return None
        now = timezone.now()
        if _lease_live(channel, now):
            return None
        if channel.sync_lease_until is not None:  # a lease its worker left behind
            _close_lost_runs(channel, now)
        channel.sync_lease_until = now + LEASE
        channel.sync_lease_holder = holder_identity()
        Channel.objects.filter(pk=channel.pk).update(
            sync_lease_until=channel.sync_lease_until, sync_lease_holder=channel.sync_lease_holder
        )
        return channel


def _close_lost_runs(channel: Channel, now: dt.datetime) -> int:
    """Nobody syncs the channel (we hold its row lock and its lease is dead): its `running`
    syncs were lost with their worker. (Webhook and CSV runs hold no lease: not theirs.)"""
    lost = channel.sync_lease_holder or "unknown"
    return ChannelSyncRun.objects.filter(
        channel=channel, status=SyncStatus.RUNNING, trigger__in=LEASED_TRIGGERS
    ).update(
        status=SyncStatus.FAILED,
        finished_at=now,
        error=f"The worker running this sync was lost ({lost}); the channel is synced again.",
    )


def sync_leases_recover() -> list[int]:
    """Channels whose sync lease outlived its worker (or expired): their runs are closed as
    failed, the lease is freed and the channel is due now. Returns their ids."""
    now = timezone.now()
    freed: list[int] = []
    for channel in Channel.objects.filter(sync_lease_until__isnull=False).only(
        "pk", "sync_lease_until", "sync_lease_holder"
    ):
        if _lease_live(channel, now):
            continue
        with transaction.atomic():
            locked = (
                Channel.objects.select_for_update(skip_locked=True)
                .filter(pk=channel.pk, sync_lease_until=channel.sync_lease_until)
                .first()
            )
            if locked is None:
                continue
            _close_lost_runs(locked, now)
            Channel.objects.filter(pk=locked.pk).update(
                sync_lease_until=None, sync_lease_holder="", sync_next_at=now
            )
            freed.append(locked.pk)
    return freed


def _renew(channel: Channel) -> bool:
    """Extend our lease; False if it is no longer ours (it expired and another run took it)."""
    renewed = timezone.now() + LEASE
    taken = Channel.objects.filter(pk=channel.pk, sync_lease_until=channel.sync_lease_until).update(
        sync_lease_until=renewed
    )
    if taken:
        channel.sync_lease_until = renewed
    return bool(taken)


def next_sync_at(started: dt.datetime, interval_minutes: int) -> dt.datetime:
    """When a channel synced every `interval_minutes` is due after a run that started at
    `started`: the next boundary of its interval on the clock (every 15 minutes: :00, :15, :30,
    :45 UTC). Aligned, a beat that ticks at any second of the minute finds it due once per
    interval, whatever the run's own duration."""
    step = interval_minutes * 60
    seconds = int(started.timestamp())
    return dt.datetime.fromtimestamp((seconds // step + 1) * step, tz=dt.UTC)


def _release(channel: Channel, *, started: dt.datetime, scheduled: bool = True) -> None:
    """Give the channel back (only if the lease is still ours) and schedule its next run."""
    changes: dict[str, Any] = {"sync_lease_until": None, "sync_lease_holder": ""}
    if scheduled:
        changes["sync_next_at"] = (
            next_sync_at(started, channel.sync_interval_minutes)
            if channel.sync_interval_minutes
            else None
        )
    Channel.objects.filter(pk=channel.pk, sync_lease_until=channel.sync_lease_until).update(
        **changes
    )


def channels_connected() -> list[int]:
    """Active channels with a connector and credentials (the daily deep sync)."""
    from channels.adapters import ADAPTERS

    return list(
        Channel.objects.filter(is_active=True, kind__in=list(ADAPTERS))
        .exclude(credentials_encrypted="")
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def channels_due(now: dt.datetime | None = None) -> list[int]:
    """Active connector channels whose scheduled sync is due (for the beat fan-out)."""
    from django.db.models import Q

    from channels.adapters import ADAPTERS

    now = now or timezone.now()
    return list(
        Channel.objects.filter(is_active=True, kind__in=list(ADAPTERS), sync_interval_minutes__gt=0)
        .exclude(credentials_encrypted="")
        .filter(Q(sync_next_at__isnull=True) | Q(sync_next_at__lte=now))
        .filter(Q(sync_lease_until__isnull=True) | Q(sync_lease_until__lte=now))
        .order_by("sync_next_at", "pk")
        .values_list("pk", flat=True)
    )


# --- the run ----------------------------------------------------------------------------------


def channel_sync(
    *,
    channel: Channel | int,
    trigger: str = SyncTrigger.SCHEDULE,
    adapter: ChannelAdapter | None = None,
    max_pages: int | None = None,
    since: dt.datetime | None = None,
) -> ChannelSyncRun | None:
    """Pull the channel's orders changed since its cursor (less the overlap) and upsert them.

    `since` pulls from an earlier moment instead (the daily deep sync re-reads the last day, so
    an order an offset-paged API let slip between two pages is still imported); the cursor never
    moves backwards.

    Returns the recorded run, or None when another worker is syncing the channel.
    Raises TransientError after recording the failed run (the task retries with backoff);
    a PermanentError (bad credentials, garbage) is recorded as a failed run and not raised.
    """
    channel_id = channel if isinstance(channel, int) else int(channel.pk)
    claimed = _claim(channel_id)
    if claimed is None:
        return None
    channel = claimed
    now = timezone.now()
    if since is None:
        start = channel.sync_cursor or (now - FIRST_SYNC_LOOKBACK)
        since = start - dt.timedelta(minutes=channel.sync_overlap_minutes)
    run = ChannelSyncRun.objects.create(channel=channel, trigger=trigger, since=since)
    high = channel.sync_cursor
    try:
        adapter = adapter or channel_adapter(channel)
        token: str | None = None
        while True:
            page = adapter.orders_page(since=since, page=token)
            run.pages += 1
            latest = page_store(channel=channel, run=run, page=page)
            if latest is not None and (high is None or latest > high):
                high = latest
                Channel.objects.filter(pk=channel.pk).update(sync_cursor=high)
            run.cursor_after = high
            run.save(
                update_fields=["pages", "created", "updated", "unchanged", "failed", "cursor_after"]
            )
            token = page.next_page
            if not token or (max_pages is not None and run.pages >= max_pages):
                break
            if not _renew(channel):
                raise TransientError("The run outlived its lease; another worker has the channel.")
    except TransientError as exc:
        _finish(run, SyncStatus.FAILED, f"Temporary: {exc}")
        _release(channel, started=now)
        raise
    except PermanentError as exc:
        _finish(run, SyncStatus.FAILED, str(exc))
        _release(channel, started=now)
        return run
    except Exception as exc:
        _finish(run, SyncStatus.FAILED, f"{type(exc).__name__}: {exc}")
        _release(channel, started=now)
        raise
    _finish(run, SyncStatus.PARTIAL if run.failed else SyncStatus.SUCCEEDED, "")
    _release(channel, started=now, scheduled=trigger != SyncTrigger.DEEP)
    return run


def _finish(run: ChannelSyncRun, status: str, error: str) -> None:
    run.status = status
    run.error = error[:5000]
    run.finished_at = timezone.now()
    run.save()


def page_store(*, channel: Channel, run: ChannelSyncRun, page: OrderPage) -> dt.datetime | None:
    """Store one page: its new orders captured together (page_capture), the others each in its
    own transaction. Returns the latest change stored."""
    latest: dt.datetime | None = None
    stored: list[str] = []
    for failure in page.failures:
        _failure(run, channel, failure)
    captured = page_capture(channel=channel, records=page.orders)
    for index, record in enumerate(page.orders):
        try:
            outcome = (
                "created"
                if index in captured
                else channel_order_upsert(channel=channel, record=record)
            )
        except RECORD_ERRORS as exc:
            _failure(
                run,
                channel,
                RecordFailure(external_id=record.external_id, reason=str(exc), raw=record.raw),
            )
        else:
            setattr(run, outcome, getattr(run, outcome) + 1)
            stored.append(record.external_id)
        if record.updated_at and (latest is None or record.updated_at > latest):
            latest = record.updated_at
    if stored:
        # Records that failed before and are now stored: their failures are resolved.
        ChannelSyncFailure.objects.filter(
            channel=channel, external_id__in=stored, resolved=False
        ).update(resolved=True)
    return latest


def page_capture(*, channel: Channel, records: list[CanonicalOrder]) -> set[int]:
    """Capture the page's new orders that we ship in one transaction, a constant number of
    statements (orders.services.capture_batch: one existence look-up, one customer upsert, one
    INSERT each for the orders, lines, holds, timeline, outbox messages and channel states),
    then route them as one batch. Returns the indexes of the records captured; the others
    (known orders, cancelled or fulfilled elsewhere in full or in part) are left to
    channel_order_upsert. If anything of the page fails, nothing of it is written and none is
    returned: each record then goes the one-order path, which stores a bad one as a failure of
    the run."""
    chosen = [
        i
        for i, r in enumerate(records)
        if not r.fulfilled_by and not r.cancelled and not r.fulfilments
    ]
    if len(chosen) < 2:
        return set()
    actor = f"channel:{channel.code}"
    try:
        with transaction.atomic():
            for i in chosen:
                record_without_nul(records[i])
            orders = orders_capture_batch(
                channel=channel.code,
                captures=[{**records[i].capture_kwargs(), "actor": actor} for i in chosen],
            )
            new = [(i, o) for i, o in zip(chosen, orders, strict=True) if o is not None]
            ChannelOrderState.objects.bulk_create(
                ChannelOrderState(
                    order=o,
                    channel=channel,
                    external_updated_at=records[i].updated_at,
                    fingerprint=fingerprint(records[i]),
                )
                for i, o in new
            )
    except Exception as exc:  # nothing of the page was written: one order at a time
        logger.info("Capturing a page of %s orders at once failed: %s", len(chosen), exc)
        return set()
    orders_route_now_many(
        order_ids=[o.pk for _, o in new if not o.is_on_hold], trigger="captured", actor=actor
    )
    return {i for i, _ in new}


def _failure(run: ChannelSyncRun, channel: Channel, failure: RecordFailure) -> None:
    run.failed += 1
    ChannelSyncFailure.objects.create(
        run=run,
        channel=channel,
        external_id=str(failure.external_id or "")[:128],
        reason=failure.reason[:5000],
        raw=_jsonable(failure.raw),
    )


def _jsonable(value: Any) -> Any:
    return without_nul(json.loads(json.dumps(value, default=str)))


#: The key added to an order's raw payload when NUL characters were stripped from the record.
NUL_STRIPPED_KEY = "_oms_nul_stripped"
_TEXT_PARTS = (
    "external_id",
    "external_number",
    "notes",
    "cancel_reason",
    "store_location",
    "customer",
    "shipping_address",
    "billing_address",
    "lines",
    "raw",
)


def record_without_nul(record: CanonicalOrder) -> bool:
    """Strip the NUL characters a vendor sent from every text of `record` (PostgreSQL refuses
    them; the vendor cannot be asked to fix its data); True, and noted in its raw payload
    under NUL_STRIPPED_KEY, when there were any."""
    stripped = False
    for name in _TEXT_PARTS:
        value, found = strip_nul(getattr(record, name))
        if found:
            setattr(record, name, value)
            stripped = True
    if stripped:
        record.raw = {**(record.raw or {}), NUL_STRIPPED_KEY: True}
    return stripped


# --- upsert -----------------------------------------------------------------------------------


def fingerprint(record: CanonicalOrder) -> str:
    """What we compare to tell a change from a replay (the raw payload and the clock aside)."""
    data = record.capture_kwargs()
    data.pop("raw_payload")
    data["cancelled"] = record.cancelled
    if record.restocks:  # (absent when none: the prints stored before them stay the same)
        data["restocks"] = record.restocks
    if record.fulfilments:  # (likewise)
        data["fulfilments"] = record.fulfilments
    blob = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _store_location(channel: Channel, record: CanonicalOrder) -> Location:
    """Our location of a store sale: mapped from the channel's id, or the channel's only
    location when the sale names none. Never a guess: the sale takes that location's stock."""
    if not record.store_location:
        locations = list(channel.locations.filter(is_active=True)[:2])
        if len(locations) == 1:
            return locations[0]
        raise ValidationFailed("The sale names no store and the channel has several locations.")
    code = (channel.location_map or {}).get(record.store_location, record.store_location)
    location = Location.objects.filter(code=code, is_active=True).first()
    if location is None:
        raise ValidationFailed(
            f"Store {record.store_location!r} is not mapped to an active location "
            f"(set the channel's location map)."
        )
    return location


def shipped_elsewhere_location(channel: Channel, record: CanonicalOrder) -> Location | None:
    """Where the units of an order shipped outside the OMS (FULFILLED_ELSEWHERE) are taken
    from: nowhere unless the channel's `shipped_elsewhere_stock` is "take"; then the location
    the record names (mapped through the channel's location map), else the channel's only
    active location; None (no stock taken, said on the order) when neither is known."""
    if channel.shipped_elsewhere_stock != "take":
        return None
    if record.store_location:
        code = (channel.location_map or {}).get(record.store_location, record.store_location)
        return Location.objects.filter(code=code, is_active=True).first()
    locations = list(channel.locations.filter(is_active=True)[:2])
    return locations[0] if len(locations) == 1 else None


def channel_order_upsert(*, channel: Channel, record: CanonicalOrder) -> str:
    """Capture a new channel order or apply the channel's changes to a known one.

    Returns "created", "updated" or "unchanged". Raises ValidationFailed (unreadable record:
    nothing is written).
    """
    actor = f"channel:{channel.code}"
    record_without_nul(record)
    print_ = fingerprint(record)
    existing = Order.objects.filter(channel=channel, external_id=record.external_id).first()
    if existing is None and record.cancelled and not record.lines:
        return "unchanged"  # cancelled before we ever saw it, with nothing left on it
    if existing is None:
        store = (
            _store_location(channel, record)
            if record.fulfilled_by == FULFILLED_BY_STORE
            else shipped_elsewhere_location(channel, record)
            if record.fulfilled_by == FULFILLED_ELSEWHERE
            else None
        )
        # Units the merchant shipped in the channel's admin before we saw the order (a new
        # order has no fulfilment of ours): recorded shipped outside the OMS, never routed.
        before = {} if record.fulfilled_by else _fulfilled_units(record.fulfilments, set())
        if before:
            store = shipped_elsewhere_location(channel, record)
        with transaction.atomic():
            result = order_capture(
                channel=channel.code,
                actor=actor,
                fulfilled_by=record.fulfilled_by,
                store_location=store,
                shipped_elsewhere=before,
                **record.capture_kwargs(),
            )
            if result.created:
                ChannelOrderState.objects.create(
                    order=result.order,
                    channel=channel,
                    external_updated_at=record.updated_at,
                    fingerprint=print_,
                )
            if result.created and record.cancelled and not record.fulfilled_by:
                order_cancel(
                    order=result.order,
                    reason=f"{CHANNEL_CANCEL_PREFIX}: {record.cancel_reason}".strip(": "),
                    actor=actor,
                    refund=False,  # the channel pays its own cancellation back
                )
        if result.created:
            return "created"
        existing = result.order  # captured meanwhile (a webhook, another run): apply changes
    with transaction.atomic():
        # The order row first (the house lock order), then its channel state: a newer version
        # stored meanwhile by a webhook wins over this one.
        order = order_get_for_update(existing.pk)
        state = ChannelOrderState.objects.select_for_update().filter(order=order).first()
        if state is not None:
            if state.fingerprint == print_:
                return "unchanged"
            if (
                state.external_updated_at
                and record.updated_at
                and record.updated_at < state.external_updated_at
            ):
                return "unchanged"  # an older version, seen again through the overlap
        changed = _apply_changes(order, channel, record, actor)
        _state_save(order, channel, record, print_)
    return "updated" if changed else "unchanged"


def _state_save(order: Order, channel: Channel, record: CanonicalOrder, print_: str) -> None:
    ChannelOrderState.objects.update_or_create(
        order=order,
        defaults={
            "channel": channel,
            "external_updated_at": record.updated_at,
            "fingerprint": print_,
        },
    )


def _apply_changes(order: Order, channel: Channel, record: CanonicalOrder, actor: str) -> bool:
    changed = False
    lines = list(order.lines.all())
    if record.cancelled and order.status != OrderStatus.CANCELLED:
        shipped = any(ln.quantity_shipped for ln in lines)
        if not shipped:
            # The channel refunds the cancellation it made itself: its refund is recorded
            # (the payment status below), never one of ours issued and pushed back to it.
            order_cancel(
                order=order,
                reason=f"{CHANNEL_CANCEL_PREFIX}: {record.cancel_reason}".strip(": "),
                actor=actor,
                refund=False,
            )
        elif not order.holds.filter(reason=HoldReason.CUSTOMER_CARE, released_at=None).exists():
            order_hold(
                order=order,
                reason=HoldReason.CUSTOMER_CARE,
                note=f"Cancelled on {channel.code} after something shipped: refund or recall.",
                actor=actor,
            )
        changed = True
        order.refresh_from_db()
    live = not record.cancelled and order.status != OrderStatus.CANCELLED
    if live and _quantities_apply(order, lines, channel, record, actor):
        changed = True
        order.refresh_from_db()
    if live and not record.fulfilled_by and _lines_added_apply(order, lines, record, actor):
        changed = True
        order.refresh_from_db()
    partly = live and not record.fulfilled_by and bool(record.fulfilments)
    if partly and _fulfilments_apply(order, channel, record, actor):
        changed = True
        order.refresh_from_db()
    elsewhere = live and record.fulfilled_by == FULFILLED_ELSEWHERE
    if elsewhere and _shipped_elsewhere_apply(order, channel, record, actor):
        changed = True
        order.refresh_from_db()
    if record.restocks and _restocks_apply(order, lines, channel, record, actor):
        changed = True
    new_rank = PAYMENT_RANK.get(record.payment_status, -1)
    if new_rank > PAYMENT_RANK.get(order.payment_status, -1):
        order_payment_status_set(order=order, status=record.payment_status, actor=actor)
        changed = True
    new_address = address_normalised(record.shipping_address)
    if new_address and new_address != order.shipping_address and not record.fulfilled_by:
        if order.status in EDITABLE_ADDRESS_STATUSES:
            order_shipping_address_update(order=order, address=new_address, actor=actor)
        else:
            order_event_add(
                order=order,
                kind="channel_address_change_ignored",
                actor=actor,
                reason=f"the order is {order.status}",
                after=new_address,
            )
        changed = True
    if not changed:
        order_event_add(
            order=order,
            kind="channel_updated",
            actor=actor,
            not_applied=_differences(order, lines, record),
        )
    return changed


def _differences(order: Order, lines: list[Any], record: CanonicalOrder) -> list[str]:
    """What the channel's new version says differently from the order as the OMS keeps it,
    none of which sync applies (only a cancellation, a better payment status and an address
    before shipping are): the names of the fields, for the timeline ("Channel updated" then says
    what changed). Empty when what changed is nothing the OMS keeps (e.g. a channel-only tag)."""
    found: list[str] = []
    ours = sorted((ln.sku_code, ln.quantity) for ln in lines)
    theirs = sorted((str(ln.get("sku", "")), int(ln.get("quantity") or 0)) for ln in record.lines)
    if ours != theirs:
        found.append("lines")
    customer = record.customer or {}
    if str(customer.get("email") or "").strip().lower() not in ("", order.email.lower()):
        found.append("email")
    if str(customer.get("phone") or "") not in ("", order.phone):
        found.append("phone")
    if (record.notes or "") != (order.notes or ""):
        found.append("notes")
    billing = address_normalised(record.billing_address) if record.billing_address else {}
    if billing and billing != (order.billing_address or {}):
        found.append("billing_address")
    shipping = address_normalised(record.shipping_address)
    if shipping and shipping != order.shipping_address:
        found.append("shipping_address")
    try:
        if Decimal(str(record.shipping_price or 0)) != order.shipping_price:
            found.append("shipping_price")
        if record.total is not None and Decimal(str(record.total)) != order.channel_total:
            found.append("total")
    except InvalidOperation:
        found.append("amounts")
    if record.payment_status and record.payment_status != order.payment_status:
        found.append("payment_status")
    if record.external_number and record.external_number != order.external_number:
        found.append("number")
    return found


#: The timeline event of units the channel refunded or removed after we shipped them.
REFUNDED_AFTER_SHIPMENT = "channel_refunded_shipped_units"


def _quantities_apply(
    order: Order, lines: list[Any], channel: Channel, record: CanonicalOrder, actor: str
) -> bool:
    """Units the channel no longer shows on the order (refunded or removed by an edit: Shopify's
    current quantities; an Amazon item cancelled down to none) leave ours too: what is not
    shipped yet is cancelled (its reservation released, nothing pushed back to the channel and
    no refund of ours: the channel paid it back); what shipped already is recorded once on the
    timeline (the units are the shopper's, a return brings them back). A line the record does
    not name by id, or quantities the channel raised, change nothing. True when anything did."""
    wanted: dict[str, int] = {}
    for line in record.lines:
        key = str(line.get("external_line_id") or "")
        if not key:
            return False  # lines we cannot match: nothing to compare
        wanted[key] = wanted.get(key, 0) + int(line.get("quantity") or 0)
    cancel: list[tuple[int, int]] = []
    shipped: list[dict[str, Any]] = []
    recorded = _refunded_after_shipment(order)
    for line in lines:
        if not line.external_line_id:
            continue
        gone = line.quantity - line.quantity_cancelled - wanted.get(line.external_line_id, 0)
        if gone <= 0:
            continue
        from_open = min(gone, line.quantity_open)
        if from_open:
            cancel.append((line.pk, from_open))
        after = gone - from_open - recorded.get(line.pk, 0)
        if after > 0:
            shipped.append({"line": line.pk, "sku": line.sku_code, "quantity": after})
    if cancel:
        order_cancel(
            order=order,
            lines=cancel,
            reason=f"{CHANNEL_CANCEL_PREFIX}: refunded or removed on {channel.code}",
            actor=actor,
            refund=False,
        )
    if shipped:
        order_event_add(order=order, kind=REFUNDED_AFTER_SHIPMENT, actor=actor, lines=shipped)
    return bool(cancel or shipped)


def _refunded_after_shipment(order: Order) -> dict[int, int]:
    """Shipped units of each line the channel's refunds were recorded for already."""
    seen: dict[int, int] = {}
    for data in order.events.filter(kind=REFUNDED_AFTER_SHIPMENT).values_list("data", flat=True):
        for item in (data or {}).get("lines") or []:
            seen[int(item["line"])] = seen.get(int(item["line"]), 0) + int(item["quantity"])
    return seen


#: The timeline event of units a channel's refund put back in our stock (a return after
#: shipment): one per refund, naming it; the refund id makes it happen once.
CHANNEL_RESTOCKED = "channel_restocked"


def _restocks_apply(
    order: Order, lines: list[Any], channel: Channel, record: CanonicalOrder, actor: str
) -> bool:
    """Units the channel's refunds restocked (Shopify's restock_type "return") come back on hand
    once per (refund, line), with a stock movement: at the location the refund names (through
    the channel's location map), else where the units left from. Only units that left our
    stock for the line and were not brought back yet (by a return of ours or an earlier
    refund) are restocked: units refunded before shipping were released, never taken. Units
    of a vendor whose refunds do not say whether they went back (`by_setting`: WooCommerce,
    eBay) come back only when the channel's `refund_restock` is "restock". True when anything
    came back."""
    done = {
        (str(data.get("refund")), str(item.get("external_line_id")))
        for data in order.events.filter(kind=CHANNEL_RESTOCKED).values_list("data", flat=True)
        for item in (data or {}).get("lines") or []
    }
    by_id = {ln.external_line_id: ln for ln in lines if ln.external_line_id and ln.sku_id}
    per_refund: dict[str, list[dict[str, Any]]] = {}
    for item in record.restocks:
        if item.get("by_setting") and channel.refund_restock != "restock":
            continue  # the vendor does not say, and the channel's setting is not to restock
        refund, line_id = str(item["refund"]), str(item["external_line_id"])
        line = by_id.get(line_id)
        if line is None or (refund, line_id) in done:
            continue
        out, left_from = _units_out(line.pk)
        quantity = min(int(item["quantity"]), out, line.quantity_shipped)
        location = _channel_location(channel, str(item.get("location") or "")) or left_from
        entry = {"external_line_id": line_id, "line": line.pk, "sku": line.sku_code}
        if quantity > 0 and location is not None:
            stock_restock_return(
                sku=line.sku,
                location=location,
                quantity=quantity,
                order_line_id=line.pk,
                actor=actor,
            )
            entry.update(quantity=quantity, location=location.code)
        else:  # nothing of ours to bring back: noted once all the same
            entry.update(quantity=0, location="")
        per_refund.setdefault(refund, []).append(entry)
        done.add((refund, line_id))
    for refund, entries in per_refund.items():
        order_event_add(
            order=order, kind=CHANNEL_RESTOCKED, actor=actor, refund=refund, lines=entries
        )
    return any(e["quantity"] for entries in per_refund.values() for e in entries)


def _units_out(order_line_id: int) -> tuple[int, Location | None]:
    """(how many units of an order line are out of our stock, the location they left from):
    the line's stock movements net (shipped, sold or taken for an order shipped elsewhere,
    less what returns brought back)."""
    movements = StockMovement.objects.filter(order_line_id=order_line_id)
    net = movements.aggregate(total=Sum("on_hand_delta"))["total"] or 0
    taken = movements.filter(on_hand_delta__lt=0).select_related("location").order_by("-pk")
    first = taken.first()
    return max(0, -int(net)), (first.location if first is not None else None)


def _channel_location(channel: Channel, external: str) -> Location | None:
    """Our active location for a channel-side location id (through its location map)."""
    if not external:
        return None
    code = (channel.location_map or {}).get(external, external)
    return Location.objects.filter(code=code, is_active=True).first()


def _shipped_elsewhere_apply(
    order: Order, channel: Channel, record: CanonicalOrder, actor: str
) -> bool:
    """The channel shows the order fulfilled (in its own admin, by fulfilments we did not
    create: ours would have shipped its units here first) while units of it are still ours to
    ship: its open shipments are cancelled (never shipped twice), what they held is released,
    and the units are recorded shipped outside the OMS, leaving our stock as the channel's
    `shipped_elsewhere_stock` says (shipped_elsewhere_location). True when anything was open."""
    if not any(ln.quantity_open for ln in order.lines.all()):
        return False
    for shipment in Shipment.objects.filter(order=order, status__in=OPEN_SHIPMENTS).order_by("pk"):
        shipment_cancel(
            shipment=shipment,
            reason=f"fulfilled on {channel.code} outside the OMS",
            actor=actor,
            reroute=False,
        )
    location = shipped_elsewhere_location(channel, record)
    return bool(order_shipped_elsewhere(order=order, location=location, actor=actor))


def _fulfilled_units(fulfilments: list[dict[str, Any]], ours: set[str]) -> dict[str, int]:
    """Units per external line id of the channel's fulfilments, leaving out those in `ours`."""
    units: dict[str, int] = {}
    for fulfilment in fulfilments:
        if str(fulfilment.get("id") or "") in ours:
            continue
        for line_id, quantity in (fulfilment.get("lines") or {}).items():
            units[str(line_id)] = units.get(str(line_id), 0) + int(quantity)
    return units


def _our_fulfilment_ids(channel: Channel, order: Order) -> set[str]:
    """The channel's ids of the fulfilments our shipments created (or found already reported),
    as the pushes recorded them: the push's external id and its detail's `fulfillment_ids` /
    `id` (Shopify GIDs, compared by their last segment: the legacy id the mappers use)."""
    ids: set[str] = set()
    pushes = ChannelPush.objects.filter(channel=channel, order=order, kind=PushKind.FULFILMENT)
    for external_id, detail in pushes.values_list("external_id", "detail"):
        found = [external_id, *((detail or {}).get("fulfillment_ids") or [])]
        found.append((detail or {}).get("id"))
        ids.update(str(value).rsplit("/", 1)[-1] for value in found if value)
    return ids


def _shipped_elsewhere_recorded(order: Order) -> dict[int, int]:
    """Units of each line already recorded shipped outside the OMS (by line id)."""
    seen: dict[int, int] = {}
    events = order.events.filter(kind="fulfilled_by_channel").values_list("data", flat=True)
    for data in events:
        if not (data or {}).get("shipped_elsewhere"):
            continue
        for item in (data or {}).get("lines") or []:
            seen[int(item["line"])] = seen.get(int(item["line"]), 0) + int(item["quantity"])
    return seen


def _fulfilments_apply(order: Order, channel: Channel, record: CanonicalOrder, actor: str) -> bool:
    """The channel lists fulfilments of part of the order that are not ours (made in its own
    admin): units of them we have not shipped are recorded shipped outside the OMS, once.

    Per line, the units recorded are the least of: what is still open here; what the
    merchant's fulfilments (every fulfilment but those our pushes created) hold beyond what
    was recorded before (a replay adds nothing); and what all the channel's fulfilments hold
    beyond what we count shipped (a fulfilment of ours whose id is not stored yet, e.g. the
    push's answer still on its way, is not mistaken for the merchant's). Open shipments
    holding such a line are cancelled first (their units given back) and what stays open is
    routed again. True when anything was recorded."""
    outside = _fulfilled_units(record.fulfilments, _our_fulfilment_ids(channel, order))
    if not outside:
        return False
    listed = _fulfilled_units(record.fulfilments, set())
    recorded = _shipped_elsewhere_recorded(order)
    wanted: dict[int, int] = {}
    for line in order.lines.all():
        key = line.external_line_id
        if not key or key not in outside:
            continue
        units = min(
            line.quantity_open,
            outside[key] - recorded.get(line.pk, 0),
            listed[key] - line.quantity_shipped,
        )
        if units > 0:
            wanted[line.pk] = units
    if not wanted:
        return False
    holding = (
        Shipment.objects.filter(
            order=order, status__in=OPEN_SHIPMENTS, lines__order_line_id__in=list(wanted)
        )
        .distinct()
        .order_by("pk")
    )
    cancelled = 0
    for shipment in holding:
        shipment_cancel(
            shipment=shipment,
            reason=f"fulfilled in part on {channel.code} outside the OMS",
            actor=actor,
            reroute=False,
        )
        cancelled += 1
    location = shipped_elsewhere_location(channel, record)
    done = order_shipped_elsewhere(order=order, location=location, actor=actor, lines=wanted)
    if cancelled:
        orders_route_now_many(order_ids=[order.pk], trigger="channel_fulfilled", actor=actor)
    return bool(done)


def _lines_added_apply(order: Order, lines: list[Any], record: CanonicalOrder, actor: str) -> bool:
    """Lines the channel's version names that the order does not (added by an edit in the
    channel's admin, e.g. a Shopify order edit) join an order not shipped in full, with the
    channel's figures, and are routed as its lines are; an order shipped, completed or
    cancelled takes none (noted on its timeline once per version). Nothing is added when the
    lines cannot be matched by id. True when lines were added."""
    known = {ln.external_line_id for ln in lines}
    if "" in known or any(not line.get("external_line_id") for line in record.lines):
        return False
    added = [dict(line) for line in record.lines if str(line["external_line_id"]) not in known]
    if not added:
        return False
    if order.status in (
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
    ):
        order_event_add(
            order=order,
            kind="channel_lines_added_ignored",
            actor=actor,
            reason=f"the order is {order.status}",
            lines=[{"sku": ln.get("sku", ""), "quantity": ln.get("quantity")} for ln in added],
        )
        return False
    order_lines_add_from_channel(order=order, lines=added, actor=actor)
    return True
