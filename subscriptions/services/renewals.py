"""Renewals: each period of a subscription ordered exactly once, paid through the payment port,
retried on the dunning schedule.

Invariants:
- a period is claimed under the subscription's row lock by writing its SubscriptionRenewal
  (unique per subscription and sequence) and moving next_order_at to the next period, in one
  transaction with the outbox message that processes it: the beat claims due subscriptions
  with `skip_locked` (two beats never wait on or claim the same one), `renew` claims the
  period that was next when the request came (two simultaneous calls, or a call racing the
  beat, give one renewal);
- processing is safe to run twice: the order is captured through the one capture service
  (orders.services.order_capture) with external id SUB-<number>-<sequence>, idempotent per
  channel, and routed like any order (backordered when out of stock, never skipped); the
  payment is charged through the payment port (returns.services.payment_charge) with a key per
  attempt, so an attempt is charged at most once;
- a renewal is charged first (returns.services.payment_charge_ahead, keyed per attempt: the
  provider charges a key once), then its order is captured: paid, it is routed at once (no
  hold placed and released); declined, it is captured with payment pending (held
  `payment_pending`) and retried on the channel's dunning schedule (days after the renewal
  date, 1, 3, 7 by default; a retry is charged on the order, returns.services.payment_charge,
  and paying it releases and routes the order); after the last one the subscription becomes
  `failed`. Lines that cannot be priced or an inactive channel are found before anything is
  charged; an order that cannot be captured fails the subscription (resuming it tries again,
  with the same key: a payment already taken is not taken twice). Each step sends the shopper
  an e-mail (through the outbox);
- nothing is called out while a row is locked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.selectors import sku_current_prices
from oms.errors import (
    ChannelInactive,
    DomainError,
    InvalidTransition,
    NotFound,
    TransientError,
    ValidationFailed,
)
from oms.outbox import outbox_enqueue
from orders.models import Order
from orders.services import order_capture
from orders.states import PaymentStatus
from returns.payments import ProviderCapture
from returns.services import payment_charge, payment_charge_ahead, payment_charge_record
from returns.states import PaymentRecordStatus
from subscriptions.models import Subscription, SubscriptionRenewal, renewal_external_id
from subscriptions.selectors import (
    channel_settings,
    dunning_days,
    renewals_payment_due,
    subscriptions_due,
)
from subscriptions.services.manage import (
    PROCESS_TASK,
    schedule_date,
    status_change,
    subscription_get_for_update,
)
from subscriptions.services.timeline import subscription_event_add
from subscriptions.states import RENEWABLE, RenewalStatus, SubscriptionStatus

EMAIL_TASK = "subscriptions.email_send"
#: Subscriptions claimed per transaction by the beat.
CLAIM_BATCH = 200
#: A first charge retried this long after its renewal was claimed asks the provider by key
#: before charging (an answer lost long ago; the idempotency key may have expired there).
LOOKUP_AFTER = dt.timedelta(hours=1)


def _claim(sub: Subscription, *, trigger: str, actor: str) -> SubscriptionRenewal:
    """Order the locked subscription's next period: its renewal row, the next date, the
    outbox message that processes it (the caller's transaction)."""
    renewal = SubscriptionRenewal.objects.create(
        subscription=sub,
        sequence=sub.next_sequence,
        due_at=sub.next_order_at,
        trigger=trigger,
        created_at=timezone.now(),
    )
    renewal.subscription = sub
    sub.next_sequence += 1
    sub.period_index += 1
    sub.next_order_at = schedule_date(sub, sub.period_index)
    sub.save(update_fields=["next_sequence", "period_index", "next_order_at", "updated_at"])
    subscription_event_add(
        subscription=sub,
        kind="renewal_claimed",
        actor=actor,
        sequence=renewal.sequence,
        due_at=renewal.due_at.isoformat(),
        trigger=trigger,
        next_order_at=sub.next_order_at.isoformat(),
    )
    ended = (sub.ends_after_orders is not None and renewal.sequence >= sub.ends_after_orders) or (
        sub.ends_on is not None and sub.next_order_at.date() > sub.ends_on
    )
    if ended:
        status_change(
            sub,
            SubscriptionStatus.CANCELLED,
            actor="system",
            kind="ended",
            reason="The subscription's term ended.",
        )
    outbox_enqueue(PROCESS_TASK, renewal_id=renewal.pk)
    return renewal


def subscription_renew(
    *,
    subscription: Subscription | int,
    sequence: int | None = None,
    actor: str = "system",
    process: bool = True,
) -> SubscriptionRenewal:
    """Order now the period that is next (`sequence`: the one that was next when the request
    came; a renewal of it that exists already is returned), then process it (capture and
    charge) unless `process` is False; a transient failure of that leaves it to the outbox
    message written with the claim. Raises InvalidTransition (not active)."""
    pk = subscription if isinstance(subscription, int) else subscription.pk
    with transaction.atomic():
        sub = subscription_get_for_update(int(pk))
        wanted = sequence or sub.next_sequence
        existing = SubscriptionRenewal.objects.filter(subscription=sub, sequence=wanted).first()
        if existing is None and wanted < sub.next_sequence:
            existing = (
                SubscriptionRenewal.objects.filter(subscription=sub).order_by("-sequence").first()
            )
        if existing is None:
            if sub.status not in RENEWABLE:
                raise InvalidTransition(
                    f"A {sub.status} subscription cannot be renewed.",
                    errors={"status": [f"renew needs: {', '.join(sorted(RENEWABLE))}."]},
                )
            renewal = _claim(sub, trigger="manual", actor=actor)
        else:
            renewal = existing
    if process:
        try:
            renewal = renewal_process(renewal_id=renewal.pk)
        except TransientError:  # committed: its outbox message finishes it later
            renewal.refresh_from_db()
    return renewal


@dataclass(frozen=True)
class DueRun:
    claimed: int
    retries: int


def subscriptions_renew_due(*, now: dt.datetime | None = None, limit: int = 10000) -> DueRun:
    """Beat: claim the due active subscriptions (skip_locked, in batches of CLAIM_BATCH, each
    its own transaction) and enqueue the payment retries that are due."""
    now = now or timezone.now()
    claimed = 0
    while claimed < limit:
        with transaction.atomic():
            batch = list(
                subscriptions_due(now)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("channel")
                .order_by("next_order_at", "pk")[: min(CLAIM_BATCH, limit - claimed)]
            )
            for sub in batch:
                try:
                    with transaction.atomic():  # SQLite has no row locks: the constraint decides
                        _claim(sub, trigger="schedule", actor="system")
                except IntegrityError:
                    continue
        claimed += len(batch)
        if len(batch) < CLAIM_BATCH:
            break
    retries = 0
    for renewal_id, attempts in renewals_payment_due(now).values_list("pk", "attempts")[:limit]:
        created = outbox_enqueue(
            PROCESS_TASK, renewal_id=renewal_id, dedupe_key=f"sub-renewal-{renewal_id}-{attempts}"
        )
        retries += created is not None
    return DueRun(claimed=claimed, retries=retries)


def _customer_payload(sub: Subscription) -> dict[str, str]:
    first, _, last = (sub.customer_name or "").partition(" ")
    return {"email": sub.email, "first_name": first, "last_name": last}


def _order_lines(sub: Subscription) -> list[dict[str, Any]]:
    """The renewal order's lines: each line's own unit price, or the SKU's current price on
    the channel (inventory's price list, else the SKU's default price). Raises
    ValidationFailed (a "current price" SKU without a price in the currency)."""
    lines = list(sub.lines.select_related("sku"))
    current = sku_current_prices(
        sku_ids=[line.sku_id for line in lines if line.unit_price is None],
        channel_id=sub.channel_id,
        currency=sub.currency,
    )
    errors: dict[str, list[str]] = {}
    for index, line in enumerate(lines):
        if line.unit_price is None and line.sku_id not in current:
            errors[f"lines.{index}.unit_price"] = [
                f"SKU {line.sku.code} has no current price in {sub.currency} on this channel."
            ]
    if errors:
        raise ValidationFailed("The renewal's lines cannot be priced.", errors=errors)
    return [
        {
            "sku": line.sku.code,
            "quantity": line.quantity,
            "unit_price": current[line.sku_id] if line.unit_price is None else line.unit_price,
        }
        for line in lines
    ]


def _attempt_key(sub: Subscription, sequence: int, attempt: int) -> str:
    return f"sub-{sub.pk}-renewal-{sequence}-attempt-{attempt}"


def _capture(
    renewal: SubscriptionRenewal, lines: list[dict[str, Any]], total: Decimal, *, paid: bool
) -> Order:
    """Capture the renewal's order (idempotent: SUB-<number>-<sequence>): paid (routed at
    once), or with payment pending (held payment_pending until a dunning attempt pays it)."""
    sub = renewal.subscription
    result = order_capture(
        channel=sub.channel.code,
        external_id=renewal_external_id(sub.number or "", renewal.sequence),
        currency=sub.currency,
        lines=lines,
        customer=_customer_payload(sub),
        shipping_address=sub.shipping_address,
        shipping_price=sub.shipping_price,
        total=total,  # what was charged: a different computed total holds the order
        payment_status=PaymentStatus.PAID if paid else PaymentStatus.PENDING,
        notes=f"Renewal {renewal.sequence} of subscription {sub.number}.",
        actor="subscription",
    )
    return result.order


def _ordered(renewal: SubscriptionRenewal, order: Order, *, paid: bool) -> SubscriptionRenewal:
    """Link the renewal to its order (once): paid by its first attempt, or its payment due."""
    sub = renewal.subscription
    with transaction.atomic():
        locked = SubscriptionRenewal.objects.select_for_update().get(pk=renewal.pk)
        if locked.order_id is None:
            locked.order = order
            if paid:
                locked.status, locked.attempts = RenewalStatus.PAID, 1
                locked.next_attempt_at = None
            else:
                locked.status, locked.next_attempt_at = RenewalStatus.PAYMENT_DUE, timezone.now()
            locked.save(
                update_fields=["order", "status", "attempts", "next_attempt_at", "updated_at"]
            )
            if sub.customer_id is None and order.customer_id is not None:
                sub.customer_id = order.customer_id
                Subscription.objects.filter(pk=sub.pk, customer__isnull=True).update(
                    customer_id=order.customer_id
                )
            subscription_event_add(
                subscription=sub,
                kind="renewal_ordered",
                sequence=locked.sequence,
                order_id=order.pk,
                order_number=order.number,
                total=str(order.total),
                currency=order.currency,
                paid=paid,
            )
            outbox_enqueue(
                EMAIL_TASK, subscription_id=sub.pk, kind="renewal_ordered", renewal_id=locked.pk
            )
        locked.subscription = sub
        return locked


def _charge_first(renewal: SubscriptionRenewal, total: Decimal, key: str) -> ProviderCapture:
    sub = renewal.subscription
    if total <= 0:
        return ProviderCapture(state="succeeded")  # nothing to charge
    return payment_charge_ahead(
        provider_name=sub.channel.payment_provider,
        key=key,
        payment_reference=sub.payment_reference,
        amount=total,
        currency=sub.currency,
        order_number=renewal_external_id(sub.number or "", renewal.sequence),
        description=f"Subscription {sub.number}, renewal {renewal.sequence}",
        lookup_first=renewal.created_at < timezone.now() - LOOKUP_AFTER,
    )


def _first_attempt(renewal: SubscriptionRenewal) -> SubscriptionRenewal:
    """Charge the renewal first, then capture its order paid (routed once, never held) and
    record the payment; a failed charge captures it with payment pending (held) and starts the
    dunning schedule. Raises ValidationFailed or ChannelInactive before anything is charged
    (lines that cannot be priced, an inactive channel), TransientError (nothing written)."""
    sub = renewal.subscription
    if not sub.channel.is_active:
        raise ChannelInactive(f"Channel {sub.channel.code!r} is inactive.")
    lines = _order_lines(sub)
    total = sum((line["unit_price"] * line["quantity"] for line in lines), Decimal(0))
    total += sub.shipping_price
    key = _attempt_key(sub, renewal.sequence, 1)
    outcome = _charge_first(renewal, total, key)
    paid = outcome.state == PaymentRecordStatus.SUCCEEDED
    try:
        order = _capture(renewal, lines, total, paid=paid)
    except (ValidationFailed, ChannelInactive, NotFound) as exc:
        if paid and total > 0:
            exc.detail = (
                f"{exc.detail} The payment was taken (key {key}): resuming orders it without "
                "charging again."
            )
        raise
    if total > 0:
        payment_charge_record(order=order, key=key, amount=total, outcome=outcome)
    renewal = _ordered(renewal, order, paid=paid)
    if paid:
        return renewal
    return _settled(
        renewal, attempt=1, status=RenewalStatus.PAYMENT_DUE, error=outcome.message or "Declined."
    )


def renewal_process(*, renewal_id: int) -> SubscriptionRenewal:
    """Order the renewal's period (once: charged first, then captured) and take its dunning
    attempt that is due (once per attempt). Safe to run twice. Raises TransientError (the
    outbox retries)."""
    renewal = SubscriptionRenewal.objects.select_related("subscription__channel", "order").get(
        pk=renewal_id
    )
    if renewal.order_id is None:
        if renewal.status != RenewalStatus.PENDING:
            return renewal  # its order failed: resuming the subscription orders it again
        try:
            return _first_attempt(renewal)
        except (ValidationFailed, ChannelInactive, NotFound) as exc:  # a SKU gone, no price ...
            return _capture_failed(renewal, exc)
    if renewal.status != RenewalStatus.PAYMENT_DUE:
        return renewal
    if renewal.next_attempt_at is not None and renewal.next_attempt_at > timezone.now():
        return renewal  # a dunning retry that is not due yet
    return _charge(renewal)


def _error_text(exc: DomainError) -> str:
    details = "; ".join(
        f"{field}: {' '.join(str(m) for m in messages)}"
        for field, messages in (getattr(exc, "errors", None) or {}).items()
    )
    return f"{exc} {details}".strip()[:500]


def _capture_failed(renewal: SubscriptionRenewal, exc: DomainError) -> SubscriptionRenewal:
    """The renewal's order cannot be captured: record it on the renewal and the timeline and
    fail the subscription (the admin lists it, the operations home counts it) rather than
    retrying for ever. Resuming the subscription tries this renewal again."""
    error = _error_text(exc)
    with transaction.atomic():
        sub = subscription_get_for_update(renewal.subscription_id)
        locked = SubscriptionRenewal.objects.select_for_update().get(pk=renewal.pk)
        locked.subscription = sub
        if locked.order_id is not None or locked.status != RenewalStatus.PENDING:
            return locked
        locked.status, locked.last_error = RenewalStatus.CAPTURE_FAILED, error
        locked.save(update_fields=["status", "last_error", "updated_at"])
        subscription_event_add(
            subscription=sub, kind="renewal_failed", sequence=locked.sequence, error=error
        )
        if sub.status == SubscriptionStatus.ACTIVE:
            sub.failure_reason = f"Renewal {locked.sequence} could not be ordered: {error}"[:500]
            sub.save(update_fields=["failure_reason"])
            status_change(
                sub,
                SubscriptionStatus.FAILED,
                actor="system",
                kind="failed",
                reason=sub.failure_reason,
            )
        return locked


def _charge(renewal: SubscriptionRenewal) -> SubscriptionRenewal:
    sub = renewal.subscription
    order = renewal.order
    assert order is not None
    attempt = renewal.attempts + 1
    try:
        payment = payment_charge(
            order_id=order.pk,
            key=_attempt_key(sub, renewal.sequence, attempt),
            payment_reference=sub.payment_reference,
            amount=order.total,
            description=f"Subscription {sub.number}, renewal {renewal.sequence}",
        )
    except IntegrityError as exc:  # the same attempt started meanwhile: try again later
        raise TransientError("A payment attempt of this renewal is in flight.") from exc
    if payment.status == PaymentRecordStatus.SUCCEEDED:
        return _settled(renewal, attempt=attempt, status=RenewalStatus.PAID, error="")
    return _settled(
        renewal, attempt=attempt, status=RenewalStatus.PAYMENT_DUE, error=payment.failure_reason
    )


def _settled(
    renewal: SubscriptionRenewal, *, attempt: int, status: str, error: str
) -> SubscriptionRenewal:
    """Record the outcome of payment attempt `attempt` (once): paid, not charged, or failed
    (the next dunning attempt, or the subscription fails)."""
    with transaction.atomic():
        sub = subscription_get_for_update(renewal.subscription_id)
        locked = SubscriptionRenewal.objects.select_for_update().get(pk=renewal.pk)
        if locked.attempts >= attempt or locked.status != RenewalStatus.PAYMENT_DUE:
            locked.subscription = sub
            return locked
        locked.attempts = attempt
        locked.last_error = error[:500]
        fields = ["attempts", "last_error", "status", "next_attempt_at", "updated_at"]
        if status != RenewalStatus.PAYMENT_DUE:
            locked.status, locked.next_attempt_at = status, None
            locked.save(update_fields=fields)
            subscription_event_add(
                subscription=sub,
                kind="renewal_paid",
                sequence=locked.sequence,
                attempt=attempt,
                order_id=locked.order_id,
            )
            locked.subscription = sub
            return locked
        schedule = dunning_days(channel_settings(sub.channel_id))
        if attempt <= len(schedule):
            locked.next_attempt_at = max(
                locked.due_at + dt.timedelta(days=schedule[attempt - 1]), timezone.now()
            )
            locked.save(update_fields=fields)
            subscription_event_add(
                subscription=sub,
                kind="payment_failed",
                sequence=locked.sequence,
                attempt=attempt,
                error=locked.last_error,
                retry_at=locked.next_attempt_at.isoformat(),
            )
            outbox_enqueue(
                EMAIL_TASK,
                subscription_id=sub.pk,
                kind="payment_failed",
                renewal_id=locked.pk,
                attempt=attempt,
            )
        else:
            locked.status, locked.next_attempt_at = RenewalStatus.PAYMENT_FAILED, None
            locked.save(update_fields=fields)
            subscription_event_add(
                subscription=sub,
                kind="payment_gave_up",
                sequence=locked.sequence,
                attempt=attempt,
                error=locked.last_error,
            )
            if sub.status in (SubscriptionStatus.ACTIVE,):
                sub.failure_reason = (
                    f"Renewal {locked.sequence} could not be paid: {locked.last_error}"[:500]
                )
                sub.save(update_fields=["failure_reason"])
                status_change(
                    sub,
                    SubscriptionStatus.FAILED,
                    actor="system",
                    kind="failed",
                    reason=f"Renewal {locked.sequence} could not be paid after {attempt} attempts.",
                )
            outbox_enqueue(
                EMAIL_TASK, subscription_id=sub.pk, kind="subscription_failed", renewal_id=locked.pk
            )
        locked.subscription = sub
        return locked
