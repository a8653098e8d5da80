"""Subscriptions: create, change, and the commands of the state table (pause, resume, skip,
cancel).

Invariants:
- every status change goes through states.TRANSITIONS under the subscription's row lock,
  returns early when the subscription is already in the target status (a replay is safe), and
  is written to the timeline (`status_changed` with from/to, and the command's own data);
- a subscription's next_order_at is always renewal `period_index` of its schedule (anchor,
  interval, channel time zone: subscriptions.calendar); changing the date or the interval
  starts a new schedule anchored at the next date;
- input the API could not check (unknown or inactive channel and SKUs, currency, money off
  the currency's grid, an unknown time zone) is a ValidationFailed naming the field, and
  nothing is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from inventory.models import Channel, Sku
from oms.errors import InvalidTransition, ValidationFailed
from oms.money import is_currency, money_problem
from oms.outbox import outbox_enqueue
from oms.states import assert_transition
from orders.models import Customer
from orders.services.capture import address_normalised
from subscriptions import calendar
from subscriptions.models import (
    NUMBER_BASE,
    Subscription,
    SubscriptionLine,
    SubscriptionRenewal,
)
from subscriptions.selectors import channel_settings
from subscriptions.services.timeline import subscription_event_add
from subscriptions.states import (
    EDITABLE,
    SKIPPABLE,
    TRANSITIONS,
    Interval,
    RenewalStatus,
    SubscriptionStatus,
)

S = SubscriptionStatus
MAX_LINES = 50
#: The outbox task that processes a renewal (capture and charge).
PROCESS_TASK = "subscriptions.renewal_process"


def _time_zone(subscription: Subscription) -> str:
    return channel_settings(subscription.channel_id).time_zone


def schedule_date(subscription: Subscription, index: int) -> dt.datetime:
    """Renewal `index` of the subscription's current schedule (UTC)."""
    return calendar.renewal_at(
        anchor=subscription.anchor_at,
        index=index,
        interval=subscription.interval,
        count=subscription.interval_count,
        time_zone=_time_zone(subscription),
    )


def _lines_checked(
    lines: Sequence[Mapping[str, Any]], currency: str, errors: dict[str, list[str]]
) -> list[tuple[Sku, int, Decimal | None]]:
    """The lines' SKUs, quantities and unit prices (None: "current price", priced from the
    catalogue at each renewal); what is wrong goes to `errors` by field."""
    if not lines:
        errors["lines"] = ["A subscription needs at least one line."]
        return []
    if len(lines) > MAX_LINES:
        errors["lines"] = [f"At most {MAX_LINES} lines."]
        return []
    codes = [str(line.get("sku") or "") for line in lines]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        errors["lines"] = [f"One line per SKU: {', '.join(duplicates)} more than once."]
        return []
    skus = {sku.code: sku for sku in Sku.objects.filter(code__in=codes, is_active=True)}
    checked = []
    for index, line in enumerate(lines):
        code = str(line.get("sku") or "")
        sku = skus.get(code)
        if sku is None:
            errors[f"lines.{index}.sku"] = [f"No active SKU {code!r}."]
            continue
        raw = line.get("unit_price")
        price = None if raw is None else Decimal(str(raw))  # None: the current price
        problem = (
            money_problem(price, currency) if price is not None and is_currency(currency) else None
        )
        if problem or (price is not None and price < 0):
            errors[f"lines.{index}.unit_price"] = [problem or "Never negative."]
            continue
        quantity = int(line.get("quantity") or 0)
        if quantity <= 0:
            errors[f"lines.{index}.quantity"] = ["A positive whole number."]
            continue
        checked.append((sku, quantity, price))
    return checked


def _customer_for(email: str) -> Customer | None:
    return Customer.objects.annotate(email_ci=Lower("email")).filter(email_ci=email.lower()).first()


def _header_errors(
    channel: str, currency: str, interval: str, interval_count: int
) -> tuple[Channel | None, dict[str, list[str]]]:
    """The channel of `channel`, and what is wrong with the subscription's header fields."""
    errors: dict[str, list[str]] = {}
    channel_obj = Channel.objects.filter(code=channel).first()
    if channel_obj is None:
        errors["channel"] = [f"No channel with code {channel!r}."]
    elif not channel_obj.is_active:
        errors["channel"] = [f"Channel {channel!r} is inactive."]
    if not is_currency(currency):
        errors["currency"] = [f"{currency!r} is not an ISO 4217 currency code."]
    if interval not in Interval.values:
        errors["interval"] = [f"Use one of {', '.join(Interval.values)}."]
    if interval_count < 1:
        errors["interval_count"] = ["At least 1."]
    return channel_obj, errors


@transaction.atomic
def subscription_create(
    *,
    channel: str,
    customer: Mapping[str, Any],
    shipping_address: Mapping[str, Any],
    lines: Sequence[Mapping[str, Any]],
    currency: str,
    interval: str,
    interval_count: int = 1,
    next_order_at: dt.datetime | None = None,
    shipping_price: Decimal = Decimal(0),
    ends_after_orders: int | None = None,
    ends_on: dt.date | None = None,
    payment_reference: str = "",
    actor: str = "system",
) -> Subscription:
    """Create an active subscription; its first renewal is `next_order_at` (default: one
    interval from now). Raises ValidationFailed (nothing is written)."""
    currency = (currency or "").upper()
    channel_obj, errors = _header_errors(channel, currency, interval, interval_count)
    email = str(customer.get("email") or "").strip().lower()
    if not email:
        errors["customer.email"] = ["Required."]
    checked = _lines_checked(lines, currency, errors)
    problem = money_problem(shipping_price, currency) if is_currency(currency) else None
    if problem or shipping_price < 0:
        errors["shipping_price"] = [problem or "Never negative."]
    now = timezone.now()
    if next_order_at is not None and ends_on is not None and ends_on < next_order_at.date():
        errors["ends_on"] = ["Before the first renewal."]
    if errors or channel_obj is None:
        raise ValidationFailed("The subscription cannot be created.", errors=errors)
    if next_order_at is None:
        next_order_at = calendar.renewal_at(
            anchor=now,
            index=1,
            interval=interval,
            count=interval_count,
            time_zone=channel_settings(channel_obj).time_zone,
        )
    name = str(customer.get("name") or "").strip() or " ".join(
        p for p in (customer.get("first_name"), customer.get("last_name")) if p
    )
    sub = Subscription.objects.create(
        channel=channel_obj,
        customer=_customer_for(email),
        email=email,
        customer_name=name[:200],
        shipping_address=address_normalised(shipping_address),
        currency=currency,
        shipping_price=shipping_price,
        interval=interval,
        interval_count=interval_count,
        anchor_at=next_order_at,
        period_index=0,
        next_order_at=next_order_at,
        ends_after_orders=ends_after_orders,
        ends_on=ends_on,
        payment_reference=payment_reference,
        created_at=now,
    )
    sub.number = str(NUMBER_BASE + sub.pk)
    sub.save(update_fields=["number"])
    SubscriptionLine.objects.bulk_create(
        SubscriptionLine(subscription=sub, sku=sku, quantity=q, unit_price=price)
        for sku, q, price in checked
    )
    subscription_event_add(
        subscription=sub,
        kind="created",
        actor=actor,
        channel=channel_obj.code,
        interval=f"{interval_count} {interval}",
        next_order_at=next_order_at.isoformat(),
        lines=len(checked),
    )
    return sub


def subscription_get_for_update(pk: int) -> Subscription:
    return Subscription.objects.select_for_update().select_related("channel").get(pk=pk)


def _lock(subscription: Subscription | int) -> Subscription:
    pk = subscription if isinstance(subscription, int) else subscription.pk
    return subscription_get_for_update(int(pk))


def status_change(
    sub: Subscription, target: str, *, actor: str, kind: str, **data: Any
) -> Subscription:
    """Move the locked `sub` to `target` (checked against the table), with its event."""
    assert_transition(TRANSITIONS, sub.status, target, what="Subscription")
    previous, sub.status = sub.status, target
    fields = ["status", "updated_at"]
    now = timezone.now()
    if target == S.CANCELLED:
        sub.cancelled_at = now
        sub.cancel_reason = str(data.get("reason") or "")[:500]
        fields += ["cancelled_at", "cancel_reason"]
    if target == S.FAILED:
        sub.failed_at = now
        fields.append("failed_at")
    if target == S.ACTIVE:
        sub.failed_at, sub.failure_reason = None, ""
        fields += ["failed_at", "failure_reason"]
    sub.save(update_fields=fields)
    subscription_event_add(
        subscription=sub, kind="status_changed", actor=actor, **{"from": previous, "to": target}
    )
    subscription_event_add(subscription=sub, kind=kind, actor=actor, **data)
    return sub


@transaction.atomic
def subscription_pause(
    *, subscription: Subscription | int, reason: str = "", actor: str = "system"
) -> Subscription:
    """Pause: no renewal until resumed. Raises InvalidTransition (cancelled, failed)."""
    sub = _lock(subscription)
    if sub.status == S.PAUSED:
        return sub
    return status_change(sub, S.PAUSED, actor=actor, kind="paused", reason=reason)


@transaction.atomic
def subscription_resume(*, subscription: Subscription | int, actor: str = "system") -> Subscription:
    """Resume a paused (or failed) subscription; the periods that passed meanwhile are not
    ordered: the next date is the first renewal of the schedule after now. Raises
    InvalidTransition (cancelled)."""
    sub = _lock(subscription)
    if sub.status == S.ACTIVE:
        return sub
    previous_date = sub.next_order_at
    now = timezone.now()
    if sub.next_order_at <= now:
        sub.period_index = calendar.first_index_after(
            anchor=sub.anchor_at,
            start_index=sub.period_index,
            moment=now,
            interval=sub.interval,
            count=sub.interval_count,
            time_zone=_time_zone(sub),
        )
        sub.next_order_at = schedule_date(sub, sub.period_index)
        sub.save(update_fields=["period_index", "next_order_at", "updated_at"])
    retried = _outstanding_retry(sub) if sub.status == S.FAILED else None
    return status_change(
        sub,
        S.ACTIVE,
        actor=actor,
        kind="resumed",
        next_order_at=sub.next_order_at.isoformat(),
        previous_next_order_at=previous_date.isoformat(),
        **({"retried_sequence": retried} if retried is not None else {}),
    )


def _outstanding_retry(sub: Subscription) -> int | None:
    """A failed subscription's renewal that failed it (its payment, or its order) is tried
    again at once (one more payment attempt; failing again fails the subscription again).
    Returns its sequence, or None."""
    renewal = (
        SubscriptionRenewal.objects.select_for_update()
        .filter(
            subscription=sub,
            status__in=(RenewalStatus.PAYMENT_FAILED, RenewalStatus.CAPTURE_FAILED),
        )
        .order_by("-sequence")
        .first()
    )
    if renewal is None:
        return None
    if renewal.status == RenewalStatus.PAYMENT_FAILED:
        renewal.status, renewal.next_attempt_at = RenewalStatus.PAYMENT_DUE, timezone.now()
    else:
        renewal.status = RenewalStatus.PENDING
    renewal.save(update_fields=["status", "next_attempt_at", "updated_at"])
    outbox_enqueue(PROCESS_TASK, renewal_id=renewal.pk)
    return renewal.sequence


@transaction.atomic
def subscription_skip(*, subscription: Subscription | int, actor: str = "system") -> Subscription:
    """Skip the next renewal: the next date moves one interval on. Raises InvalidTransition
    (cancelled or failed)."""
    sub = _lock(subscription)
    if sub.status not in SKIPPABLE:
        raise InvalidTransition(
            f"A {sub.status} subscription has no renewal to skip.",
            errors={"status": [f"skip needs one of: {', '.join(sorted(SKIPPABLE))}."]},
        )
    skipped = sub.next_order_at
    sub.period_index += 1
    sub.next_order_at = schedule_date(sub, sub.period_index)
    sub.save(update_fields=["period_index", "next_order_at", "updated_at"])
    subscription_event_add(
        subscription=sub,
        kind="skipped",
        actor=actor,
        skipped=skipped.isoformat(),
        next_order_at=sub.next_order_at.isoformat(),
    )
    return sub


@transaction.atomic
def subscription_cancel(
    *, subscription: Subscription | int, reason: str = "", actor: str = "system"
) -> Subscription:
    """Cancel for good (with the reason). Raises InvalidTransition (never from cancelled to
    anything else; cancelling again is a no-op)."""
    sub = _lock(subscription)
    if sub.status == S.CANCELLED:
        return sub
    return status_change(sub, S.CANCELLED, actor=actor, kind="cancelled", reason=reason)


def _fields_set(sub: Subscription, data: Mapping[str, Any], changed: dict[str, Any]) -> list[str]:
    """Set the plain fields of `data` on `sub` (not saved); a new interval or next date starts
    a new schedule anchored at the next date. Returns the fields to save."""
    fields: list[str] = []
    if "shipping_address" in data:
        sub.shipping_address = address_normalised(
            {**sub.shipping_address, **dict(data["shipping_address"])}
        )
        fields.append("shipping_address")
        changed["shipping_address"] = True
    for name in ("shipping_price", "payment_reference", "ends_after_orders", "ends_on"):
        if name in data:
            setattr(sub, name, data[name])
            fields.append(name)
            changed[name] = str(data[name]) if name != "payment_reference" else "changed"
    reschedule = False
    for name in ("interval", "interval_count"):
        if name in data and data[name] != getattr(sub, name):
            setattr(sub, name, data[name])
            fields.append(name)
            changed[name] = data[name]
            reschedule = True
    if "next_order_at" in data and data["next_order_at"] != sub.next_order_at:
        sub.next_order_at = data["next_order_at"]
        changed["next_order_at"] = sub.next_order_at.isoformat()
        reschedule = True
    if reschedule:
        sub.anchor_at, sub.period_index = sub.next_order_at, 0
        fields += ["anchor_at", "period_index", "next_order_at"]
    return fields


@transaction.atomic
def subscription_update(
    *, subscription: Subscription | int, data: Mapping[str, Any], actor: str = "system"
) -> Subscription:
    """Change lines (all of them), the shipping address (the fields given), the interval, the
    next date, the shipping price, the end or the payment reference. Raises InvalidTransition
    (cancelled), ValidationFailed (nothing is written)."""
    sub = _lock(subscription)
    if sub.status not in EDITABLE:
        raise InvalidTransition(f"A {sub.status} subscription cannot be changed.")
    errors: dict[str, list[str]] = {}
    checked = _lines_checked(data["lines"], sub.currency, errors) if "lines" in data else None
    if "interval" in data and data["interval"] not in Interval.values:
        errors["interval"] = [f"Use one of {', '.join(Interval.values)}."]
    if "shipping_price" in data:
        problem = money_problem(data["shipping_price"], sub.currency)
        if problem or data["shipping_price"] < 0:
            errors["shipping_price"] = [problem or "Never negative."]
    if errors:
        raise ValidationFailed("The subscription cannot be changed.", errors=errors)
    changed: dict[str, Any] = {}
    if checked is not None:
        sub.lines.all().delete()
        SubscriptionLine.objects.bulk_create(
            SubscriptionLine(subscription=sub, sku=sku, quantity=q, unit_price=price)
            for sku, q, price in checked
        )
        changed["lines"] = [
            {"sku": sku.code, "quantity": q, "unit_price": None if price is None else str(price)}
            for sku, q, price in checked
        ]
    fields = _fields_set(sub, data, changed)
    if fields:
        sub.save(update_fields=[*dict.fromkeys(fields), "updated_at"])
    if changed:
        subscription_event_add(subscription=sub, kind="changed", actor=actor, **changed)
    return sub
